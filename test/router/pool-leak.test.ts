import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import { type Router, RwsplitError } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, replicated, routerFor } from './support.js';

const OPERATIONS = 10_000;
const WORKERS = 16;
const POOL_MAX = 6;

let cluster: Cluster;
let db: Router;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  await cluster.primary().query('CREATE TABLE app.counters (id INT PRIMARY KEY, n INT NOT NULL)');
  await replicated(cluster.replica(0), 'counters');
  db = routerFor(cluster, {
    pool: { max: POOL_MAX, connectTimeoutMs: 1_000, acquireTimeoutMs: 10_000 },
    circuitBreaker: { failureThreshold: 5, backoffMs: 50, maxBackoffMs: 200 },
  });
});

afterAll(async () => {
  await db?.close();
  await cluster?.stop();
});

/** mulberry32: a seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function appConnectionIds(node: DbNode): Promise<number[]> {
  const rows = await node.query("SELECT id FROM information_schema.processlist WHERE user = 'app'");
  return rows.map((row) => Number(row.id));
}

/** Kills one random app connection on `node`, as a network blip or a DBA would. */
async function killOne(node: DbNode, next: () => number): Promise<void> {
  const ids = await appConnectionIds(node);
  const id = ids[Math.floor(next() * ids.length)];
  if (id !== undefined) await node.query(`KILL CONNECTION ${id}`).catch(() => {});
}

type Outcome = 'ok' | 'sql error' | 'refused' | 'connection failure' | 'thrown by callback';

async function operation(kind: number, key: number): Promise<void> {
  switch (kind) {
    case 0:
      await db.query('SELECT n FROM counters WHERE id = ?', [key]);
      return;
    case 1:
      await db.execute('INSERT INTO counters VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1', [key]);
      return;
    case 2:
      await db.query('SELECT * FROM no_such_table'); // SQL error on the replica
      return;
    case 3:
      await db.execute('INSERT INTO counters VALUES (1, 1), (1, 1)'); // duplicate key on the primary
      return;
    case 4:
      await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO counters VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1', [key]);
        await tx.query('SELECT n FROM counters WHERE id = ?', [key]);
      });
      return;
    case 5:
      await db.transaction(async (tx) => {
        await tx.execute('UPDATE counters SET n = n + 1 WHERE id = ?', [key]);
        throw new Error('callback failed');
      });
      return;
    case 6: {
      const session = db.session();
      try {
        await session.query('SELECT 1');
        await session.query('SET @k := ?', [key]);
        await session.query('SELECT @k');
      } finally {
        await session.end();
      }
      return;
    }
    case 7: {
      const connection = await db.getConnection();
      try {
        await connection.query('begin');
        await connection.execute('UPDATE counters SET n = n + 1 WHERE id = ?', [key]);
        await connection.query('commit');
      } finally {
        connection.release();
      }
      return;
    }
    case 8:
      await db.transaction(async (tx) => tx.query('SELECT COUNT(*) FROM counters'), { readOnly: true });
      return;
    default:
      await db.execute('/* rwsplit:replica */ DELETE FROM counters'); // refused, never runs
  }
}

function outcomeOf(error: unknown): Outcome {
  if (error instanceof RwsplitError)
    return error.code === 'RWSPLIT_HINT_REFUSED' ? 'refused' : 'connection failure';
  if (error instanceof Error && error.message === 'callback failed') return 'thrown by callback';
  if (typeof (error as { errno?: unknown })?.errno === 'number') return 'sql error';
  throw error;
}

describe('pools under churn', () => {
  it(`return to idle after ${OPERATIONS} mixed operations with random failures`, async () => {
    const next = random(20_251_123);
    const outcomes = new Map<Outcome, number>();
    let started = 0;
    let kills = 0;
    const worker = async () => {
      while (started < OPERATIONS) {
        started += 1;
        if (started % 250 === 0) {
          kills += 1;
          await killOne(next() < 0.5 ? cluster.primary() : cluster.replica(0), next);
        }
        let outcome: Outcome = 'ok';
        try {
          await operation(Math.floor(next() * 10), 1 + Math.floor(next() * 50));
        } catch (error) {
          outcome = outcomeOf(error);
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));

    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(OPERATIONS);
    // Four kinds of ten fail by design (SQL errors, a throwing callback, a refused hint).
    expect(outcomes.get('ok')).toBeGreaterThan(OPERATIONS * 0.4);
    expect(outcomes.get('sql error')).toBeGreaterThan(0);
    expect(outcomes.get('thrown by callback')).toBeGreaterThan(0);
    expect(outcomes.get('refused')).toBeGreaterThan(0);
    expect(kills).toBeGreaterThan(0);

    for (const pool of db.pools()) {
      expect(pool.used, `${pool.name} in use`).toBe(0);
      expect(pool.pending, `${pool.name} waiting`).toBe(0);
      expect(pool.idle, `${pool.name} idle`).toBeLessThanOrEqual(POOL_MAX);
    }
    // No connection leaked on the servers either: at most one pool's worth each.
    for (const node of [cluster.primary(), cluster.replica(0)]) {
      expect((await appConnectionIds(node)).length).toBeLessThanOrEqual(POOL_MAX);
    }
  });

  it('closes every server connection on close()', async () => {
    await db.close();
    for (const node of [cluster.primary(), cluster.replica(0)]) {
      await eventually(
        async () => (await appConnectionIds(node)).length === 0,
        5_000,
        `${node.name} connections`,
      );
    }
  });
});
