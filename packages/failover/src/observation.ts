import type { ReplicaState } from '@rwsplit/router/replication';
import type { History, NodeFacts } from './dialect/failover-dialect.js';

/** What one round of probes saw of one node. Plain data: every decision is made from these. */
export type NodeObservation = UnreachableNode | ReachableNode;

export interface UnreachableNode {
  readonly name: string;
  readonly reachable: false;
  /** Why: the driver's message (refused, timed out, access denied ...). */
  readonly error: string;
  /** The error's code, e.g. `ER_ACCESS_DENIED_ERROR`, `ECONNREFUSED`; `''` when none. */
  readonly errorCode: string;
}

export interface ReachableNode {
  readonly name: string;
  readonly reachable: true;
  readonly readOnly: boolean;
  /** Its replication threads; undefined when it replicates from nobody. */
  readonly replica: ReplicaState | undefined;
  readonly facts: NodeFacts;
  /** What it has committed, and with its relay log what it has received. */
  readonly history: History;
}

/** A reachable node's observation, or undefined. */
export function reachable(observation: NodeObservation | undefined): ReachableNode | undefined {
  return observation?.reachable ? observation : undefined;
}

/** Whether `replica` replicates from the node at `host:port` (whatever its threads are doing). */
export function follows(replica: ReachableNode, host: string, port: number): boolean {
  return (
    replica.replica !== undefined &&
    replica.replica.sourceHost === host &&
    replica.replica.sourcePort === port
  );
}

/**
 * Whether a replica has lost its source: its IO thread is not connected (`Connecting` after a failed
 * read or a refused reconnect, `No` after a fatal error). MariaDB and MySQL both leave `Yes` only once the
 * connection is gone, or when a silent source's heartbeat is overdue (`slave_net_timeout`).
 */
export function lostSource(replica: ReachableNode): boolean {
  return replica.replica !== undefined && !replica.replica.ioRunning;
}

/** Client errors that mean the replica could not reach its source (can't connect, lost it, gone away, timed out). */
const CONNECTION_ERRNOS = new Set([2002, 2003, 2005, 2006, 2013]);

/**
 * Whether a replica that lost its source lost the *connection* to it: reconnecting (`Connecting` with no
 * error, or a connection error), as opposed to stopped by hand (`No`, no error) or refused by a source it
 * reached (e.g. 1236, 1045). Only the former says anything about whether the source is up.
 */
export function lostConnection(replica: ReachableNode): boolean {
  const state = replica.replica;
  if (state === undefined || state.ioRunning) return false;
  if (state.ioErrno === 0) return state.ioState === 'Connecting';
  return CONNECTION_ERRNOS.has(state.ioErrno);
}

/**
 * Whether a replica's IO thread is off without an error: what `STOP SLAVE IO_THREAD` / `STOP REPLICA
 * IO_THREAD` leaves (by hand, or the manager's own before a promotion). In itself it says nothing about
 * the source.
 */
export function receiverStopped(replica: ReachableNode): boolean {
  const state = replica.replica;
  return state !== undefined && state.ioState === 'No' && state.ioErrno === 0;
}
