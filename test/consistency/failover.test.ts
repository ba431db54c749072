import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import { PrimaryUnavailableError, type Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECT_TIMEOUT_MS,
  DETECTION_BOUND_MS,
  describeTopology,
  MONITOR_INTERVAL_MS,
  readTargets,
  replicatedEverywhere,
  routerFor,
  serverId,
  statusOf,
  untilStatus,
} from './support/cluster-router.js';
import { idSequence } from './support/read-back.js';
import { sleep, timed, until } from './support/wait.js';

// One primary + two replicas. The tests run in order: split brain and back, then the primary dies, a
// replica is promoted, and the old primary comes back as a replica.
const FAIL_FAST_BOUND_MS = CONNECT_TIMEOUT_MS + 500;
const WRITES_BACK_BOUND_MS = 2_000;
const ACKS_DDL = 'CREATE TABLE app.acks (id INT PRIMARY KEY, at BIGINT NOT NULL)';
const INSERT_ACK = 'INSERT INTO acks (id, at) VALUES (?, ?)';

let cluster: Cluster;
let db: Router;
const nextId = idSequence();

beforeAll(async () => {
  // No failover managers: this suite is about the router following promotions and split brain made by hand.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 2, failover: false });
  await cluster.primary().query(ACKS_DDL);
  await replicatedEverywhere(cluster, 'acks');
  db = routerFor(cluster);
  await db.ready();
});

afterAll(async () => {
  await db?.close();
  await cluster?.stop();
});

function write(id = nextId()): Promise<unknown> {
  return db.execute(INSERT_ACK, [id, Date.now()]);
}

async function idsOn(node: DbNode, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await node.query(`SELECT id FROM app.acks WHERE id IN (${ids.map(() => '?').join(',')})`, [
    ...ids,
  ]);
  return rows.map((row) => Number(row.id));
}

/** Waits until every replica has applied everything the primary has. */
async function drained(): Promise<void> {
  const [row] = await cluster.primary().query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  for (const replica of cluster.replicas()) {
    const [waited] = await replica.query('SELECT MASTER_GTID_WAIT(?, 10) AS w', [String(row?.pos ?? '')]);
    if (Number(waited?.w) !== 0) throw new Error(`${replica.name} did not catch up with ${row?.pos}`);
  }
}

function primaries(): string[] {
  return db
    .topology()
    .filter((s) => s.role === 'primary')
    .map((s) => s.name);
}

/** Writes as fast as the router takes them, remembering each id the router acknowledged. */
class AckWriter {
  readonly acknowledged: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor() {
    this.loop = (async () => {
      while (this.running) {
        const id = nextId();
        try {
          await write(id);
          this.acknowledged.push(id);
        } catch {
          await sleep(10);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

describe('split brain', () => {
  it('stops writes while two nodes are writable, and resumes once one is read-only again', async () => {
    const rogue = cluster.replica(1);
    const primary = cluster.primary();
    await write();
    await rogue.query('SET GLOBAL read_only = 0');
    const madeWritableAt = performance.now();
    const refusedIds: number[] = [];
    try {
      const detected = await until(
        async () => {
          const id = nextId();
          const error = await write(id).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (error === undefined) return undefined;
          refusedIds.push(id);
          return error instanceof PrimaryUnavailableError && /split.brain/i.test(error.message);
        },
        { timeoutMs: 10_000, pollMs: 10, what: 'writes refused for split brain' },
      );
      expect(detected.at - madeWritableAt).toBeLessThanOrEqual(DETECTION_BOUND_MS + 150);

      for (let i = 0; i < 5; i++) {
        const id = nextId();
        refusedIds.push(id);
        const { error, ms } = await timed(() => write(id));
        expect(error).toBeInstanceOf(PrimaryUnavailableError);
        expect(error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true });
        expect((error as Error).message).toMatch(/split.brain/i);
        expect(ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      }
      expect(statusOf(db, rogue)).toMatchObject({ inRotation: false, reason: 'writable' });
      expect(await readTargets(db, 10)).not.toContain(rogue.serverId);
    } finally {
      await rogue.query('SET GLOBAL read_only = 1');
    }
    // Writes refused for split brain went nowhere: not to the old primary, not to the rogue one.
    expect(await idsOn(primary, refusedIds)).toEqual([]);
    expect(await idsOn(rogue, refusedIds)).toEqual([]);

    await until(async () => (await write()) !== undefined, { timeoutMs: 10_000, what: 'writes to resume' });
    expect(primaries()).toEqual([primary.name]);
    await untilStatus(db, rogue, (s) => s.inRotation, 'back in rotation');
  }, 60_000);
});

describe('failover', () => {
  let oldPrimary: DbNode;
  let acknowledged: number[] = [];

  it('makes writes fail fast with PrimaryUnavailableError when the primary dies, while reads go on', async () => {
    oldPrimary = cluster.primary();
    const writer = new AckWriter();
    await until(() => writer.acknowledged.length >= 200, {
      timeoutMs: 10_000,
      what: '200 acknowledged writes',
    });
    await writer.stop();
    acknowledged = [...writer.acknowledged];
    // Replication is asynchronous: a crash can lose what the primary acknowledged but had not shipped yet,
    // and leaves the replicas at different positions, which the harness's promotion cannot reconcile.
    // Draining first makes this test about the router and the promotion, not about that window.
    await drained();
    await oldPrimary.kill();
    // Let the client see the sockets close, as it would on any real crash.
    await sleep(100);

    for (let i = 0; i < 10; i++) {
      const { error, ms } = await timed(() => write());
      expect(error).toBeInstanceOf(PrimaryUnavailableError);
      expect(error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true });
      expect(ms).toBeLessThan(FAIL_FAST_BOUND_MS);
    }
    await untilStatus(db, oldPrimary, (s) => !s.reachable, 'seen unreachable');
    // Reads go on, on the replicas, over several monitor rounds without a primary.
    const replicaIds = cluster.replicas().map((node) => node.serverId);
    for (let round = 0; round < 4; round++) {
      const targets = await readTargets(db, 10).catch((error: Error) => {
        throw new Error(`${error.message}; topology: ${describeTopology(db)}`);
      });
      for (const id of targets) expect(replicaIds).toContain(id);
      await sleep(MONITOR_INTERVAL_MS);
    }
  }, 60_000);

  it('moves writes to a promoted replica within 2 s, and loses no acknowledged write', async () => {
    const candidate = cluster.replica(0);
    const promoteStarted = performance.now();
    await candidate.promote();
    const promoted = performance.now();
    const first = await until(
      async () => {
        const id = nextId();
        await write(id);
        return id;
      },
      { timeoutMs: 10_000, pollMs: 20, what: 'a write to succeed after the promotion' },
    );
    const writesBackMs = first.at - promoted;
    console.log(
      `failover: promotion took ${Math.round(promoted - promoteStarted)} ms; first write ${Math.round(writesBackMs)} ms after it (bound ${WRITES_BACK_BOUND_MS} ms)`,
    );
    expect(writesBackMs).toBeLessThanOrEqual(WRITES_BACK_BOUND_MS);
    acknowledged.push(first.value);

    const present = new Set(await idsOn(candidate, acknowledged));
    expect(acknowledged.filter((id) => !present.has(id))).toEqual([]);
    expect(statusOf(db, candidate).role, describeTopology(db)).toBe('primary');
    expect(primaries()).toEqual([candidate.name]);
    expect(await serverId(db, '/* rwsplit:primary */ SELECT @@server_id AS id')).toBe(candidate.serverId);
  }, 60_000);

  it('shows the restarted old primary as a read-only replica, not a second primary', async () => {
    const newPrimary = cluster.primary();
    await oldPrimary.restart();
    await untilStatus(
      db,
      oldPrimary,
      (s) => s.reachable && s.role === 'replica',
      'back as a replica',
      20_000,
    );
    const [readOnly] = await oldPrimary.query('SELECT @@GLOBAL.read_only AS ro');
    expect(readOnly?.ro).toBe(1);
    expect(primaries()).toEqual([newPrimary.name]);

    const id = nextId();
    await write(id);
    expect(await idsOn(newPrimary, [id])).toEqual([id]);
    await until(async () => (await idsOn(oldPrimary, [id])).length === 1, {
      timeoutMs: 10_000,
      what: 'the old primary to replicate from the new one',
    });
    expect(primaries()).toEqual([newPrimary.name]);
  }, 60_000);
});
