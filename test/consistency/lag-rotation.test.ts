import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import { NoReplicaAvailableError, type Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DETECTION_BOUND_MS,
  nodeConfig,
  readTargets,
  replicatedEverywhere,
  routerFor,
  statusOf,
  untilStatus,
} from './support/cluster-router.js';
import { watchEviction, watchReadmission } from './support/eviction.js';
import { TICKS_DDL, TickWriter } from './support/tick-writer.js';

// One primary + two replicas for the file. The tests run in order; each undoes its fault and waits until
// the router has the replica back before it ends, so the next one starts from a healthy rotation.
const LAG = { maxMs: 1_000, readmitAfterMs: 1_000 };
// MASTER_DELAY counts from event timestamps of one-second resolution, so a delay of D seconds gives a lag
// between D-1 and D seconds: 3 s keeps the lag clearly above maxMs, 2 s would graze it.
const DELAY_MS = 3_000;
// Our own polls (data lag via a fresh socket, then topology) see a change up to ~50 ms late.
const POLL_SLACK_MS = 150;

let cluster: Cluster;
let db: Router;
const extraRouters: Router[] = [];
let ticks: TickWriter;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 2 });
  await cluster.primary().query(TICKS_DDL);
  await replicatedEverywhere(cluster, 'ticks');
  ticks = new TickWriter(() => cluster.primary());
  ticks.start();
  db = routerFor(cluster, { lag: LAG });
  await db.ready();
  for (const replica of cluster.replicas()) await backInRotation(replica);
});

afterAll(async () => {
  await ticks?.stop();
  for (const router of [db, ...extraRouters]) await router?.close();
  await cluster?.stop();
});

function backInRotation(replica: DbNode): Promise<unknown> {
  return untilStatus(db, replica, (s) => s.role === 'replica' && s.inRotation, 'back in rotation', 20_000);
}

describe('lag-aware rotation', () => {
  it("reports a caught-up replica's lag near 0, not the age of the last heartbeat", async () => {
    // Writes land every 50 ms and replicate within a few ms on loopback, so most monitor rounds find the
    // replica's GTID position covering the primary's; its lag is then bounded by the few ms between the
    // two reads. The heartbeat alone says 0..250 ms (the time since its last upsert), ~190 ms typically.
    const replica = cluster.replica(0);
    const samples: number[] = [];
    for (let i = 0; i < 16; i++) {
      const lag = statusOf(db, replica).lagMs;
      expect(lag).not.toBeNull();
      samples.push(lag ?? Number.POSITIVE_INFINITY);
      await new Promise((resolve) => setTimeout(resolve, 260));
    }
    console.log(`lag-rotation: caught-up replica reported lag ${samples.map(Math.round).join(', ')} ms`);
    const sorted = [...samples].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(50);
    for (const lag of samples) expect(lag).toBeLessThan(LAG.maxMs);
  });

  it('moves reads off a replica whose lag passes maxMs within two monitor intervals', async () => {
    const lagging = cluster.replica(0);
    const healthy = cluster.replica(1);
    expect(statusOf(db, lagging)).toMatchObject({ role: 'replica', reachable: true, inRotation: true });
    expect(await readTargets(db)).toContain(lagging.serverId);

    await lagging.delayReplication(DELAY_MS);
    try {
      const eviction = await watchEviction(db, lagging, LAG.maxMs);
      const afterRealLag = eviction.outAt - eviction.crossedAt;
      const afterReportedLag = eviction.outAt - eviction.reportedAt;
      console.log(
        `lag-rotation: out of rotation ${Math.round(afterRealLag)} ms after the data lag passed ${LAG.maxMs} ms ` +
          `(${Math.round(afterReportedLag)} ms after topology() reported it; bound ${DETECTION_BOUND_MS} ms)`,
      );
      expect(afterRealLag).toBeLessThanOrEqual(DETECTION_BOUND_MS + POLL_SLACK_MS);
      expect(afterReportedLag).toBeLessThanOrEqual(DETECTION_BOUND_MS + POLL_SLACK_MS);
      expect(eviction.status.lagMs).toBeGreaterThan(LAG.maxMs);

      const targets = await readTargets(db);
      expect(targets).not.toContain(lagging.serverId);
      expect(targets).toContain(healthy.serverId);
      for (const id of targets) expect([healthy.serverId, cluster.primary().serverId]).toContain(id);
    } finally {
      await lagging.delayReplication(0);
    }

    // Back only after it has caught up and then stayed good for readmitAfterMs (hysteresis).
    const { caughtUpAt, backAt } = await watchReadmission(db, lagging, LAG.maxMs);
    const readmitMs = backAt - caughtUpAt;
    console.log(
      `lag-rotation: readmitted ${Math.round(readmitMs)} ms after catching up (readmitAfterMs ${LAG.readmitAfterMs})`,
    );
    expect(readmitMs).toBeGreaterThanOrEqual(LAG.readmitAfterMs - POLL_SLACK_MS);
    expect(readmitMs).toBeLessThanOrEqual(LAG.readmitAfterMs + DETECTION_BOUND_MS + POLL_SLACK_MS);
    expect(await readTargets(db)).toContain(lagging.serverId);
  }, 60_000);

  it('takes a replica whose SQL thread stopped out of rotation as "replication stopped"', async () => {
    const stopped = cluster.replica(0);
    const healthy = cluster.replica(1);
    await stopped.query('STOP SLAVE SQL_THREAD');
    const stoppedAt = performance.now();
    try {
      const out = await untilStatus(
        db,
        stopped,
        (s) => !s.inRotation && s.reason === 'replication stopped',
        'out for "replication stopped"',
        10_000,
      );
      expect(out.at - stoppedAt).toBeLessThanOrEqual(DETECTION_BOUND_MS + POLL_SLACK_MS);
      expect(out.value).toMatchObject({ reachable: true, role: 'replica' });
      const targets = await readTargets(db);
      expect(targets).not.toContain(stopped.serverId);
      expect(targets).toContain(healthy.serverId);
    } finally {
      await stopped.query('START SLAVE SQL_THREAD');
    }
    await backInRotation(stopped);
  }, 60_000);

  it('takes a killed replica out as "unreachable"; with no replica left, reads follow whenNoReplica', async () => {
    const killed = cluster.replica(0);
    const healthy = cluster.replica(1);
    const primaryId = cluster.primary().serverId;
    await killed.kill();
    const killedAt = performance.now();
    try {
      const out = await untilStatus(
        db,
        killed,
        (s) => !s.inRotation && s.reason === 'unreachable',
        'out as unreachable',
        10_000,
      );
      expect(out.at - killedAt).toBeLessThanOrEqual(DETECTION_BOUND_MS + POLL_SLACK_MS);
      expect(out.value.reachable).toBe(false);
      const targets = await readTargets(db);
      expect(targets).not.toContain(killed.serverId);
      expect(targets).toContain(healthy.serverId);

      // Routers whose only replica is the dead one.
      const strict = routerFor(cluster, { lag: LAG, replicas: [nodeConfig(killed)], whenNoReplica: 'error' });
      const lenient = routerFor(cluster, {
        lag: LAG,
        replicas: [nodeConfig(killed)],
        whenNoReplica: 'primary',
      });
      extraRouters.push(strict, lenient);
      await Promise.all([strict.ready(), lenient.ready()]);
      expect(statusOf(strict, killed)).toMatchObject({ inRotation: false, reason: 'unreachable' });

      const refused = await strict.query('SELECT @@server_id AS id').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(NoReplicaAvailableError);
      expect(refused).toMatchObject({ code: 'RWSPLIT_NO_REPLICA' });
      expect(await readTargets(lenient, 10)).toEqual(Array(10).fill(primaryId));
    } finally {
      await killed.restart();
    }
    await backInRotation(killed);
    expect(await readTargets(db)).toContain(killed.serverId);
  }, 90_000);
});
