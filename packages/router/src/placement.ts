import { isConnectionFailure } from './connection-failure.js';
import { runProbe } from './consistency/commit-tracker.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine } from './engine.js';
import type { NodePool, PooledConnection } from './pool.js';
import { fallbackRoute, type Route } from './route.js';
import { TIMED_OUT, within } from './within.js';

/** How long past `consistency.waitMs` a replica may take to answer its wait before it counts as stalled. */
const WAIT_MARGIN_MS = 1_000;

/** The part of a statement run placement writes into: the node it chose and the connection it took. */
export interface PlacementTarget {
  /** The attempt now current; an attempt that is not has been abandoned. */
  readonly current: number;
  /** Why a replica already failed this read, if one did. */
  readonly firstFailure?: unknown;
  choose(node: NodePool, route: Route): void;
  /** Takes `pooled` for `attempt`; false (connection already given back) if that attempt was abandoned. */
  holds(attempt: number, node: NodePool, pooled: PooledConnection, route?: Route): boolean;
  /** Gives back the connection taken so far. */
  letGo(): void;
}

/**
 * Places a read that must see a session's writes (`session`) or the primary (`strong`).
 *
 * A replica may serve it only once it has applied the session's position: known without a round trip
 * when the monitor's last probe of that replica already covers it, else checked with a bounded wait
 * (`consistency.waitMs`) on the very connection that then runs the read; a replica still behind after
 * that sends the read to the primary. Never a stale read, never an unbounded wait. `exclude` is a replica
 * that already failed this read. Without a scope, any replica in rotation will do.
 */
export async function placeRead(
  engine: Engine,
  run: PlacementTarget,
  wanted: Route,
  scope: ReadYourWrites | undefined,
  exclude: NodePool | undefined,
  deadline: number,
  attempt: number,
): Promise<void> {
  if (scope?.readsNeedPrimary) {
    const why =
      scope.mode === 'strong'
        ? 'strong consistency'
        : scope.lostAWrite
          ? 'session write untracked'
          : 'unverifiable token';
    return onPrimary(engine, run, fallbackRoute(wanted, why), deadline, attempt);
  }
  const replica = engine.pickReplica(exclude);
  if (replica === undefined) {
    return onPrimary(
      engine,
      run,
      noReplicaLeft(engine, wanted, exclude, run.firstFailure),
      deadline,
      attempt,
    );
  }
  const required = scope?.requirement;
  const covered =
    required === undefined ||
    scope === undefined ||
    scope.coveredBy(engine.monitor?.appliedPosition(replica.name));
  const wait = covered
    ? undefined
    : engine.dialect()?.waitForPosition(required, engine.config.consistency.waitMs);
  if (!covered && wait === undefined) {
    return onPrimary(engine, run, fallbackRoute(wanted, 'replica behind session'), deadline, attempt);
  }
  run.choose(replica, wanted);
  const pooled = await replica.acquire(deadline);
  if (!run.holds(attempt, replica, pooled) || wait === undefined) return;
  let reached = false;
  // The server ends the wait after waitMs; a stalled one never answers, so the wait has a bound of its own.
  const bound = Math.min(deadline, performance.now() + engine.config.consistency.waitMs + WAIT_MARGIN_MS);
  try {
    const outcome = await within(runProbe(pooled.connection, wait), bound);
    if (outcome === TIMED_OUT) {
      engine.telemetry.recordConsistencyWait('failed');
      if (attempt === run.current) {
        // Still running on that connection: it cannot be reused, and the server should stop the wait.
        engine.abandon(replica, pooled, true);
      }
    } else {
      reached = outcome === 'reached';
      engine.telemetry.recordConsistencyWait(reached ? 'reached' : 'timed_out');
    }
  } catch (error) {
    engine.telemetry.recordConsistencyWait('failed');
    if (isConnectionFailure(error)) pooled.broken = true;
  }
  if (attempt !== run.current || reached) return;
  run.letGo();
  return onPrimary(engine, run, fallbackRoute(wanted, 'replica behind session'), deadline, attempt);
}

async function onPrimary(
  engine: Engine,
  run: PlacementTarget,
  route: Route,
  deadline: number,
  attempt: number,
): Promise<void> {
  const node = engine.primary;
  run.choose(node, route);
  const pooled = await node.acquire(deadline);
  run.holds(attempt, node, pooled, route);
}

/**
 * The one fallback of a read that found no replica: the primary, with why (`no healthy replica`, or
 * `replica failed` on the retry after one did), or, under `whenNoReplica: 'error'`, the error to report.
 */
export function noReplicaLeft(
  engine: Engine,
  wanted: Route,
  exclude: NodePool | undefined,
  firstFailure: unknown,
): Route {
  engine.noReplica(firstFailure);
  return fallbackRoute(wanted, exclude === undefined ? 'no healthy replica' : 'replica failed');
}
