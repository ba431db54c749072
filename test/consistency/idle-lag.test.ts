import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LagHistory } from '../../examples/notes-app/src/dashboard/lag-history.js';
import {
  type NodeStatus,
  replicatedEverywhere,
  routerFor,
  statusOf,
  untilStatus,
} from './support/cluster-router.js';
import { dataLagMs, TICKS_DDL, TickWriter } from './support/tick-writer.js';
import { sleep, until } from './support/wait.js';

// One primary, one replica and no app writes: the only transactions are the heartbeat upserts of two
// routers (two app servers), each on its own monitor clock, so one's upsert lands at an arbitrary moment of
// the other's round. A caught-up replica must report only what the round's GTID positions bound (a few ms),
// never the heartbeat's age (up to one interval: the rounds that leaked it showed ~250 ms). The proven bound
// is a few ms on an idle host; on two shared cores with other clusters running it reached ~30 ms, and on a
// rare round, with the host starved between the round's two reads, past 50 ms: that figure is still the
// round's proof (`lagSource: 'positions'`: at most the time between the reads), which a leak never is.
const IDLE_BOUND_MS = 50;
const SAMPLE_FOR_MS = 25_000;
const MIN_ROUNDS = 100;
// MASTER_DELAY counts from event timestamps of one-second resolution: 2 s keeps the lag above 1 s.
const DELAY_MS = 2_000;
// Between the router's heartbeat figure and our tick lag: upsert spacing (~125 ms with two writers), tick
// spacing (50 ms) and the moment our poll reads a round's result (~10 ms).
const REAL_LAG_SLACK_MS = 200;

let cluster: Cluster;
const routers: Router[] = [];

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  // Created now, so the idle test sees no DDL; the tick writer only runs in the lagging test.
  await cluster.primary().query(TICKS_DDL);
  await replicatedEverywhere(cluster, 'ticks');
  // Started together, so their rounds run nearly in phase and drift apart slowly: one's upsert often lands
  // a moment before the other reads the primary's position, the case that showed the heartbeat's age.
  routers.push(routerFor(cluster), routerFor(cluster));
  await Promise.all(routers.map((router) => router.ready()));
  for (const router of routers) {
    await untilStatus(
      router,
      cluster.replica(0),
      (s) => s.inRotation && s.lagMs !== null,
      'in rotation',
      20_000,
    );
  }
});

afterAll(async () => {
  for (const router of routers) await router.close();
  await cluster?.stop();
});

/** One monitor round of a router as `topology()` showed it once the round was decided. */
interface RoundSample {
  readonly router: number;
  readonly lagMs: number;
  readonly lagSource: string;
  readonly replicaPosition: string;
  readonly primaryPosition: string;
}

/**
 * Every monitor round of every router for `forMs`: `checkedAt` changes once per round, and the last status
 * seen before it changes again is the round's decided one (the decision follows its probes by a few ms; the
 * next round starts one interval later).
 */
async function sampleRounds(
  node: DbNode,
  forMs: number,
  alsoEach?: () => Promise<void>,
): Promise<RoundSample[]> {
  const rounds = routers.map(() => new Map<number, RoundSample>());
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    routers.forEach((router, index) => {
      const status = statusOf(router, node);
      if (status.checkedAt === 0 || status.lagMs === null) return;
      const primary = router.topology().find((s) => s.role === 'primary');
      rounds[index]?.set(status.checkedAt, sample(index, status, primary));
    });
    await (alsoEach?.() ?? sleep(5));
  }
  // The newest round may not be decided yet.
  return rounds.flatMap((byRound) => [...byRound.values()].slice(0, -1));
}

function sample(router: number, status: NodeStatus, primary: NodeStatus | undefined): RoundSample {
  return {
    router,
    lagMs: status.lagMs ?? Number.NaN,
    lagSource: status.lagSource ?? '?',
    replicaPosition: status.position ?? '?',
    primaryPosition: primary?.position ?? '?',
  };
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
}

function distribution(lags: readonly number[]): string {
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const ms = (v: number) => v.toFixed(1);
  return `n=${sorted.length} p50=${ms(at(0.5))} p90=${ms(at(0.9))} p99=${ms(at(0.99))} max=${ms(at(1))} ms`;
}

describe('lag of an idle replica', () => {
  it('reports at most a few ms for a caught-up replica on every round, with two routers writing the heartbeat', async () => {
    // The dashboard's lag chart, sampling the first router as the notes app does (faster, for more points).
    const chart = new LagHistory(SAMPLE_FOR_MS * 2, 100);
    chart.start(() => routers[0]?.topology() ?? []);
    const samples = await sampleRounds(cluster.replica(0), SAMPLE_FOR_MS);
    chart.stop();
    const over = samples.filter((s) => !(s.lagMs <= IDLE_BOUND_MS));
    // A round whose replica had not yet applied the primary's last upsert is one where the replica really
    // was behind: on two shared cores a starved replica has applied an upsert up to ~1 s late (CI). Its
    // figure is the real lag, which the next test checks; the bound here is for caught-up rounds.
    const caughtUpOver = over.filter((s) => s.replicaPosition === s.primaryPosition);
    const caughtUpLeaked = caughtUpOver.filter((s) => s.lagSource !== 'positions');
    console.log(
      `idle-lag: caught-up replica ${distribution(samples.map((s) => s.lagMs))}; ${over.length} rounds over ${IDLE_BOUND_MS} ms, ${caughtUpOver.length} of them caught up` +
        over
          .slice(0, 10)
          .map(
            (s) =>
              `\n  router ${s.router}: ${s.lagMs.toFixed(1)} ms from ${s.lagSource} (replica ${s.replicaPosition}, primary ${s.primaryPosition})`,
          )
          .join(''),
    );
    expect(samples.length).toBeGreaterThanOrEqual(MIN_ROUNDS);
    // Every caught-up round over the bound is a slow proof, never the heartbeat's age; and those are rare.
    expect(caughtUpLeaked).toEqual([]);
    expect(caughtUpOver.length).toBeLessThanOrEqual(Math.floor(samples.length / 50));
    // An idle replica is caught up nearly always: a router leaking the heartbeat's age would be over the
    // bound on most rounds, caught up or not.
    expect(over.length).toBeLessThanOrEqual(Math.floor(samples.length / 10));

    // What the chart drew is the router's corrected figure: no periodic heartbeat-age spikes there either.
    const name = cluster.replica(0).name;
    const drawn = chart
      .samples()
      .map((sample) => sample.lagMs[name])
      .filter((lag): lag is number => typeof lag === 'number');
    console.log(`idle-lag: the dashboard's chart ${distribution(drawn)}`);
    expect(drawn.length).toBeGreaterThanOrEqual(MIN_ROUNDS);
    expect(drawn.filter((lag) => lag > IDLE_BOUND_MS).length).toBeLessThanOrEqual(
      Math.floor(drawn.length / 10),
    );
  }, 60_000);

  it('still reports the real lag of a replica that is behind: the GTID bound hides nothing', async () => {
    const replica = cluster.replica(0);
    const ticks = new TickWriter(() => cluster.primary());
    ticks.start();
    await until(() => dataLagMs(replica), { timeoutMs: 10_000, what: `ticks on ${replica.name}` });
    await replica.delayReplication(DELAY_MS);
    try {
      for (const router of routers) {
        await untilStatus(router, replica, (s) => (s.lagMs ?? 0) > 1_000, 'lagging', 15_000);
      }
      const real: number[] = [];
      const chart = new LagHistory(60_000, 100);
      chart.start(() => routers[0]?.topology() ?? []);
      const samples = await sampleRounds(replica, 6_000, async () => {
        real.push(await dataLagMs(replica));
        await sleep(5);
      });
      chart.stop();
      // The chart check of the idle test fails here: the chart draws the real lag, over the bound.
      const drawn = chart.samples().map((sample) => sample.lagMs[replica.name] ?? 0);
      expect(drawn.filter((lag) => lag > IDLE_BOUND_MS).length).toBeGreaterThan(
        Math.floor(drawn.length / 10),
      );
      console.log(
        `idle-lag: delayed replica reported ${distribution(samples.map((s) => s.lagMs))}; tick lag ${distribution(real)}`,
      );
      // About 40 rounds from the two routers; a loaded host runs fewer.
      expect(samples.length).toBeGreaterThanOrEqual(10);
      // The same check as the idle test fails here: every round is over the bound, by about the real lag.
      expect(samples.filter((s) => s.lagMs <= IDLE_BOUND_MS)).toEqual([]);
      for (const s of samples) expect(s.lagMs).toBeGreaterThanOrEqual(DELAY_MS / 2 - REAL_LAG_SLACK_MS);
      // No round proves a replica this far behind caught up: each figure is the heartbeat's.
      expect(new Set(samples.map((s) => s.lagSource))).toEqual(new Set(['heartbeat']));
      expect(Math.abs(median(samples.map((s) => s.lagMs)) - median(real))).toBeLessThanOrEqual(
        REAL_LAG_SLACK_MS,
      );
    } finally {
      await replica.delayReplication(0);
      await ticks.stop();
    }
  }, 60_000);
});
