import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeTopology,
  MONITOR_INTERVAL_MS,
  replicatedEverywhere,
  routerFor,
  untilStatus,
} from './support/cluster-router.js';
import {
  appliedEverywhere,
  INSERT_PAIR,
  idSequence,
  PAIRS_DDL,
  type ReadBack,
  readPair,
  type SessionOptions,
  Tally,
  writeThenRead,
} from './support/read-back.js';
import { inParallel, sleep } from './support/wait.js';

// Both replicas run 2 s behind, yet stay in rotation (maxMs is above the delay): only the consistency
// mode stands between a read and a stale replica. The same checker must find stale reads under 'eventual',
// or a zero under 'session' would prove nothing.
const DELAY_MS = 2_000;
const LAG = { maxMs: 10_000, readmitAfterMs: 500 };
const PAIRS = 1_000;
const CONCURRENCY = 10;

let cluster: Cluster;
let db: Router;
let eventualDb: Router;
const nextId = idSequence();

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 2 });
  await cluster.primary().query(PAIRS_DDL);
  await replicatedEverywhere(cluster, 'pairs');
  db = routerFor(cluster, { lag: LAG, consistency: 'session' });
  eventualDb = routerFor(cluster, { lag: LAG, consistency: 'eventual' });
  await Promise.all([db.ready(), eventualDb.ready()]);
  for (const replica of cluster.replicas()) await replica.delayReplication(DELAY_MS);
  await expectReplicasLaggingInRotation(db);
  await expectReplicasLaggingInRotation(eventualDb);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await eventualDb?.close();
  await cluster?.stop();
});

/** The fixture the tests rely on: every replica serving reads while it is well behind. */
async function expectReplicasLaggingInRotation(router: Router): Promise<void> {
  for (const replica of cluster.replicas()) {
    await untilStatus(
      router,
      replica,
      (s) => s.inRotation && (s.lagMs ?? 0) >= 500,
      'in rotation and lagging',
      20_000,
    );
  }
}

async function runPairs(router: Router, count: number, options: SessionOptions = {}): Promise<Tally> {
  const tally = new Tally();
  await inParallel(count, CONCURRENCY, async () => {
    const read: ReadBack = await writeThenRead(router, nextId(), options);
    tally.add(read);
  });
  return tally;
}

describe('read-your-writes sessions', () => {
  it('read every write back with replicas 2 s behind: no stale read in 1,000 pairs', async () => {
    const started = performance.now();
    const tally = await runPairs(db, PAIRS);
    const primaryId = cluster.primary().serverId;
    console.log(
      `session: ${tally.describe(cluster)}; ${tally.servedByReplicas(primaryId)} by replicas, ` +
        `${tally.total - tally.servedByReplicas(primaryId)} by the primary, in ${Math.round(performance.now() - started)} ms`,
    );
    expect(tally.total).toBe(PAIRS);
    expect(tally.stale, tally.describe(cluster)).toBe(0);
    // The run really happened against lagging replicas that were serving reads.
    await expectReplicasLaggingInRotation(db);
  }, 120_000);

  it('hand a token out after a write', async () => {
    const session = db.session();
    try {
      expect(session.token()).toBeUndefined();
      await session.execute(INSERT_PAIR, [nextId(), 'token']);
      const token = session.token();
      expect(typeof token).toBe('string');
      expect(token?.length).toBeGreaterThan(0);
    } finally {
      session.release();
    }
  });

  it("let the checker see stale reads under 'eventual' (router default)", async () => {
    const tally = await runPairs(eventualDb, PAIRS);
    console.log(`eventual: ${tally.describe(cluster)}`);
    expect(tally.total).toBe(PAIRS);
    expect(tally.stale, describeTopology(eventualDb)).toBeGreaterThan(0);
    // Staleness comes from the lagging replicas only: the primary has every row.
    expect(tally.staleOn(cluster.primary().serverId)).toBe(0);
  }, 120_000);

  it("let the checker see stale reads when a session asks for 'eventual'", async () => {
    const tally = await runPairs(db, 200, { consistency: 'eventual' });
    console.log(`session opting into eventual: ${tally.describe(cluster)}`);
    expect(tally.stale).toBeGreaterThan(0);
  }, 60_000);

  it("read from the primary in a 'strong' session", async () => {
    const tally = await runPairs(db, 100, { consistency: 'strong' });
    expect(tally.stale).toBe(0);
    expect(tally.servedByReplicas(cluster.primary().serverId)).toBe(0);
  }, 60_000);

  it("send a session's reads to a replica once it has applied the session's writes", async () => {
    const replicaIds = cluster.replicas().map((node) => node.serverId);
    const id = nextId();
    const session = db.session();
    try {
      await session.execute(INSERT_PAIR, [id, 'caught up']);
      const token = session.token();
      await appliedEverywhere(cluster, id);
      // Give the monitor a round to see the new positions, so no implementation needs to wait.
      await sleep(2 * MONITOR_INTERVAL_MS);
      const own = await readPair(session, id);
      expect(own.found).toBe(true);
      expect(replicaIds).toContain(own.serverId);
      const resumed = db.session(token === undefined ? {} : { token });
      try {
        const read = await readPair(resumed, id);
        expect(read.found).toBe(true);
        expect(replicaIds).toContain(read.serverId);
      } finally {
        resumed.release();
      }
    } finally {
      session.release();
    }
  }, 30_000);

  it("run a session's read-only transaction on a replica only once it has the session's writes", async () => {
    const primaryId = cluster.primary().serverId;
    const replicaIds = cluster.replicas().map((node) => node.serverId);
    let stale = 0;
    let onPrimary = 0;
    // The replicas are 2 s behind: every read-only transaction right after a write must see that write,
    // which only the primary has yet.
    await inParallel(50, CONCURRENCY, async () => {
      const id = nextId();
      const session = db.session();
      try {
        await session.execute(INSERT_PAIR, [id, 'ro-tx']);
        const read = await session.transaction((tx) => readPair(tx, id), { readOnly: true });
        if (!read.found) stale++;
        if (read.serverId === primaryId) onPrimary++;
      } finally {
        session.release();
      }
    });
    expect(stale).toBe(0);
    expect(onPrimary).toBe(50);

    // Once the replicas have the write, the same kind of transaction runs on one of them.
    const id = nextId();
    const session = db.session();
    try {
      await session.execute(INSERT_PAIR, [id, 'ro-tx caught up']);
      await appliedEverywhere(cluster, id);
      await sleep(2 * MONITOR_INTERVAL_MS);
      const read = await session.transaction((tx) => readPair(tx, id), { readOnly: true });
      expect(read.found).toBe(true);
      expect(replicaIds).toContain(read.serverId);
      // START TRANSACTION READ ONLY sent by the session itself goes the same way.
      await session.query('START TRANSACTION READ ONLY');
      const own = await readPair(session, id);
      await session.query('COMMIT');
      expect(own.found).toBe(true);
      expect(replicaIds).toContain(own.serverId);
      expect(session.pinned).toBe(false);
    } finally {
      session.release();
    }
  }, 60_000);

  it("show the read-only transaction check can fail: under 'eventual' the same transactions read stale", async () => {
    let stale = 0;
    await inParallel(50, CONCURRENCY, async () => {
      const id = nextId();
      const session = eventualDb.session();
      try {
        await session.execute(INSERT_PAIR, [id, 'ro-tx eventual']);
        const read = await session.transaction((tx) => readPair(tx, id), { readOnly: true });
        if (!read.found) stale++;
      } finally {
        session.release();
      }
    });
    expect(stale).toBeGreaterThan(0);
  }, 60_000);
});
