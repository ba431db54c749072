import { covers, type GtidPosition } from '../consistency/position.js';
import type { ReplicaState } from '../dialect/dialect.js';
import type { LagSource, ReplicaProbe } from './rotation.js';

/**
 * How far behind a caught-up replica is, from the GTID positions a monitor round read: pure rules, with
 * the times passed in, so the bounds are unit-tested without servers. The monitor (`monitor.ts`) is the
 * thin driver that reads the positions and runs the catch-up checks.
 */

export interface NodeProbe {
  readonly reachable: boolean;
  readonly readOnly: boolean;
  /** `unknown`: the monitor's account may not read replication status (no REPLICA MONITOR grant). */
  readonly replica: ReplicaState | undefined | 'unknown';
  readonly heartbeatLagMs: number | null | undefined;
  readonly position: GtidPosition | undefined;
  /** `performance.now()` just before the position query was sent, and just after its answer came. */
  readonly positionAskedAt?: number;
  readonly positionReadAt?: number;
  /**
   * From the round's catch-up check (see `catchUpTarget`): the replica answered at `at` (`performance.now()`)
   * that it had applied `position`.
   */
  readonly caughtUp?: { readonly position: GtidPosition; readonly at: number };
  readonly error?: string;
}

/**
 * The most a round waits for a replica to apply what the primary had. A caught-up replica answers as soon
 * as it has (a few ms on a LAN; up to ~30 ms seen on a loaded two-core host running several servers), so
 * only a replica that is really behind pays the whole wait, once a round.
 */
export const CATCH_UP_WAIT_MS = 50;

/**
 * An upper bound on a replica's lag from this round's GTID positions, when they prove one: the replica,
 * read at `r` (its position read, or its catch-up check's answer), had applied everything the primary had
 * committed when read at `p`, so at `r` it was at most `r - p` behind (nothing, if `r <= p`). The bound
 * takes the earliest moment the primary's answer can describe and the latest the replica's can, so it never
 * under-states; with both proofs, the tighter counts. Undefined when the positions prove nothing (not
 * covered, a node not read this round): then the heartbeat's figure stands alone.
 */
export function caughtUpWithin(
  replica: Pick<NodeProbe, 'position' | 'positionReadAt' | 'caughtUp'>,
  primary: Pick<NodeProbe, 'position' | 'positionAskedAt'> | undefined,
): number | undefined {
  if (primary === undefined || primary === replica) return undefined;
  const { position: required, positionAskedAt: askedAt } = primary;
  if (required === undefined || askedAt === undefined) return undefined;
  let bound: number | undefined;
  for (const proof of [{ position: replica.position, at: replica.positionReadAt }, replica.caughtUp]) {
    if (proof?.position !== undefined && proof.at !== undefined && covers(proof.position, required)) {
      bound = Math.min(bound ?? Number.POSITIVE_INFINITY, Math.max(0, proof.at - askedAt));
    }
  }
  return bound;
}

/**
 * The position a replica's catch-up check waits for: the primary's, when the replica replicates (both
 * threads running; `replicaProbe` caps no other) and its own position read this round did not cover it.
 * Undefined when a check could prove nothing new. (The round checks against the writer it had; should
 * the round find another primary, `caughtUpWithin` counts the check only if it covers that one's position.)
 */
export function catchUpTarget(
  replica: NodeProbe,
  primary: Pick<NodeProbe, 'position' | 'positionAskedAt'> | undefined,
): GtidPosition | undefined {
  if (primary === undefined || primary === replica || primary.positionAskedAt === undefined) return undefined;
  const state = replica.replica;
  const replicating = typeof state === 'object' && state.ioRunning && state.sqlRunning;
  if (!replica.reachable || !replicating) return undefined;
  const required = primary.position;
  if (required === undefined || replica.position === undefined) return undefined;
  return covers(replica.position, required) ? undefined : required;
}

/**
 * How long a round's catch-up checks may wait (the client gives up at twice that): `CATCH_UP_WAIT_MS`, at
 * most a fifth of the interval, and only what keeps the round within `timeoutMs` after `elapsedMs` of
 * probes. Undefined when less than 1 ms is left: the round skips the checks.
 */
export function catchUpWaitMs(
  config: { readonly intervalMs: number; readonly timeoutMs: number },
  elapsedMs: number,
): number | undefined {
  const waitMs = Math.min(CATCH_UP_WAIT_MS, config.intervalMs / 5, (config.timeoutMs - elapsedMs) / 2);
  return waitMs >= 1 ? waitMs : undefined;
}

/**
 * One probe as the rotation rules see it. `lagBeforeLoss` is set while no primary is reachable: then a
 * replica whose applier still runs counts as replicating, with the lag it had before the loss.
 * `caughtUpWithinMs` (see `caughtUpWithin`) caps the lag of a replica that is replicating: the heartbeat's
 * age includes the time since the last upsert (up to one interval), which a caught-up replica does not lag.
 */
export function replicaProbe(
  probe: NodeProbe,
  lagBeforeLoss: number | null | undefined,
  caughtUpWithinMs: number | undefined,
): ReplicaProbe {
  if (!probe.reachable) return { reachable: false, error: probe.error ?? 'unreachable' };
  const replica = probe.replica;
  if (lagBeforeLoss !== undefined) {
    const applying = replica === 'unknown' ? true : replica?.sqlRunning === true;
    return {
      reachable: true,
      readOnly: probe.readOnly,
      replicating: replica === undefined ? undefined : applying,
      ...lagFrom(lagBeforeLoss, 'last known'),
    };
  }
  const heartbeat = typeof probe.heartbeatLagMs === 'number' ? probe.heartbeatLagMs : undefined;
  if (replica === 'unknown') {
    // Without replication status, a read-only node with a fresh heartbeat is a working replica.
    return {
      reachable: true,
      readOnly: probe.readOnly,
      replicating: heartbeat === undefined ? undefined : true,
      ...lagFrom(heartbeat ?? null, 'heartbeat'),
    };
  }
  const replicating = replica === undefined ? undefined : replica.ioRunning && replica.sqlRunning;
  const measured =
    heartbeat !== undefined
      ? lagFrom(heartbeat, 'heartbeat')
      : lagFrom(
          replica?.secondsBehind === null || replica === undefined ? null : replica.secondsBehind * 1000,
          'seconds behind',
        );
  // Only a replica that is still replicating is "caught up": a stopped one is judged by its threads. A
  // proven round's figure is the positions' bound, or the heartbeat's when that is smaller.
  const capped =
    caughtUpWithinMs !== undefined && replicating === true
      ? lagFrom(Math.min(measured.lagMs ?? Number.POSITIVE_INFINITY, caughtUpWithinMs), 'positions')
      : measured;
  return { reachable: true, readOnly: probe.readOnly, replicating, ...capped };
}

/** A lag figure and where it came from; no source for an unknown lag. */
function lagFrom(lagMs: number | null, source: LagSource): { lagMs: number | null; lagSource?: LagSource } {
  return lagMs === null ? { lagMs } : { lagMs, lagSource: source };
}
