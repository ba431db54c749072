import { follows, lostConnection, type NodeObservation, receiverStopped } from './observation.js';

/** A replica whose IO thread this manager stopped, or asked to stop, to promote it. */
interface Stop {
  readonly host: string;
  readonly port: number;
  /** When the manager last sent the stop (ms, this manager's clock). */
  readonly askedAt: number;
  /** It had lost the source when asked, and has not been seen receiving from it since. */
  readonly testifies: boolean;
}

/**
 * The IO threads this manager stopped itself, the first step of promoting a replica, and what each replica
 * said about its source before. A replica's IO thread off without an error reads like a `STOP SLAVE` by
 * hand, which says nothing about the source; stopped by the manager after it had lost the source, it is no
 * news, and the replica's testimony stands (for the retry of a failover that went no further).
 *
 * The stop itself may take long: an IO thread in a connection attempt to a silent source (packets dropped)
 * stops only when that attempt times out (MariaDB bounds it by the replica's `slave_net_timeout`: seen
 * taking 2-3 s with it at 2), and `STOP SLAVE IO_THREAD` waits for it. The statement then outlasts the step's bound and completes on
 * the server meanwhile; a stop asked recently is waited for rather than asked again.
 */
export class StoppedReceivers {
  private readonly stops = new Map<string, Stop>();

  /** The manager sends `name` a stop now; `testifies`: it had lost its source (`host:port`) just before. */
  asked(name: string, source: { host: string; port: number }, testifies: boolean, now: number): void {
    this.stops.set(name, { host: source.host, port: source.port, askedAt: now, testifies });
  }

  /**
   * Follows a node's status. Reconnecting, or stopped without an error or with a connection error, it is
   * as the manager left it. Connected to its source (`Yes`, or MariaDB's `Preparing`), its testimony is
   * void. Pointed elsewhere or at nobody, or stopped on an error from a source it reached (1236 ...), it is
   * no longer the manager's stop. An unreachable node changes nothing.
   */
  observed(observation: NodeObservation): void {
    const stop = this.stops.get(observation.name);
    if (stop === undefined || !observation.reachable) return;
    const state = observation.replica;
    if (state === undefined || !follows(observation, stop.host, stop.port)) {
      this.stops.delete(observation.name);
      return;
    }
    if (lostConnection(observation) || receiverStopped(observation)) return;
    if (state.ioState === 'No') this.stops.delete(observation.name);
    else this.stops.set(observation.name, { ...stop, testifies: false });
  }

  /** Whether `name`'s IO thread was asked to stop less than `withinMs` ago (and may still be stopping). */
  pending(name: string, now: number, withinMs: number): boolean {
    const stop = this.stops.get(name);
    return stop !== undefined && now - stop.askedAt < withinMs;
  }

  /** The replicas of `source` the manager stopped after they had lost it: they still testify. */
  testifying(source: { host: string; port: number }): Set<string> {
    const names = new Set<string>();
    for (const [name, stop] of this.stops) {
      if (stop.testifies && stop.host === source.host && stop.port === source.port) names.add(name);
    }
    return names;
  }

  /** Every node the manager stopped (to receive again if the source turns out to be alive). */
  names(): Set<string> {
    return new Set(this.stops.keys());
  }

  /** Forgets `name`'s stop: it was promoted, or receives again. */
  forget(name: string): void {
    this.stops.delete(name);
  }
}
