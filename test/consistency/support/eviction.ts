import type { DbNode } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import { type NodeStatus, statusOf, untilStatus } from './cluster-router.js';
import { dataLagMs } from './tick-writer.js';
import { until } from './wait.js';

/** Times (`performance.now()`) around a lagging replica leaving rotation. */
export interface Eviction {
  /** Our own measure (tick-writer data lag) first saw the lag above maxMs. */
  readonly crossedAt: number;
  /** `topology()` first reported lagMs above maxMs. */
  readonly reportedAt: number;
  /** `topology()` first had the replica out of rotation for lag. */
  readonly outAt: number;
  readonly status: NodeStatus;
}

/**
 * Watches the real lag and the router's view together until the router has taken `replica` out for lag.
 * Needs a running `TickWriter`.
 */
export async function watchEviction(db: Router, replica: DbNode, maxMs: number): Promise<Eviction> {
  let crossedAt: number | undefined;
  let reportedAt: number | undefined;
  let out: { at: number; status: NodeStatus } | undefined;
  await until(
    async () => {
      const lag = await dataLagMs(replica);
      const now = performance.now();
      const status = statusOf(db, replica);
      if (crossedAt === undefined && lag > maxMs) crossedAt = now;
      if (reportedAt === undefined && (status.lagMs ?? 0) > maxMs) reportedAt = now;
      if (out === undefined && !status.inRotation && status.reason === 'lagging') out = { at: now, status };
      return crossedAt !== undefined && reportedAt !== undefined && out !== undefined;
    },
    { timeoutMs: 15_000, pollMs: 10, what: `${replica.name} to lag past ${maxMs} ms and leave rotation` },
  );
  const evicted = out as { at: number; status: NodeStatus };
  return {
    crossedAt: crossedAt as number,
    reportedAt: reportedAt as number,
    outAt: evicted.at,
    status: evicted.status,
  };
}

/** Times around a replica that caught up coming back into rotation. */
export interface Readmission {
  /** Our own measure first saw the data lag below maxMs again. */
  readonly caughtUpAt: number;
  /** `topology()` first had it back in rotation. */
  readonly backAt: number;
}

export async function watchReadmission(db: Router, replica: DbNode, maxMs: number): Promise<Readmission> {
  const caughtUp = await until(async () => (await dataLagMs(replica)) < maxMs, {
    timeoutMs: 15_000,
    pollMs: 10,
    what: `${replica.name} to catch up`,
  });
  const back = await untilStatus(db, replica, (s) => s.inRotation, 'readmitted', 15_000);
  return { caughtUpAt: caughtUp.at, backAt: back.at };
}
