import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import {
  HintRefusedError,
  PrimaryUnavailableError,
  type Router,
  RwsplitError,
  type Session,
  SessionStateError,
} from '@rwsplit/router';
import { currentSession, rwsplitMiddleware } from '@rwsplit/router/express';
import { rwsplitPool } from '@rwsplit/router/knex';
import express from 'express';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeTopology,
  replicatedEverywhere,
  routerFor,
  untilStatus,
} from '../consistency/support/cluster-router.js';
import { CookieJar, expectStatus } from '../consistency/support/express-apps.js';
import { inParallel, until } from '../consistency/support/wait.js';

// One primary and one replica; the tests run in order: routing, transactions, load, lag, then the primary dies.
const DELAY_MS = 2_000;
const PAIRS = 30;

let cluster: Cluster;
let router: Router;
let db: Knex;
let primaryId: number;
let replicaId: number;

beforeAll(async () => {
  // No failover managers: the last test kills the primary, and nobody must promote the replica meanwhile.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  primaryId = cluster.primary().serverId;
  replicaId = cluster.replica(0).serverId;
  await cluster
    .primary()
    .query('CREATE TABLE app.notes (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(64) NOT NULL)');
  await replicatedEverywhere(cluster, 'notes');
  // maxMs above the delay: the lagging replica stays in rotation, so only the token stands between a read
  // and a stale replica.
  router = routerFor(cluster, { lag: { maxMs: 10_000, readmitAfterMs: 500 }, consistency: 'session' });
  await router.ready();
  db = knexOver(router);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await router?.close();
  await cluster?.stop();
});

function knexOver(client: Router | Session | (() => Router | Session)): Knex {
  return knex({ client: 'mysql2', connectionPool: rwsplitPool(client) });
}

/** Where a knex select ran, and whether note `id` was there, in one statement (one snapshot). */
async function readBack(on: Knex, id: number): Promise<{ serverId: number; found: boolean }> {
  // An aggregate without GROUP BY returns its one row (and the server id) even when the note is missing.
  const row = (await on('notes')
    .select(on.raw('@@server_id AS serverId'), on.raw('COUNT(*) AS n'))
    .where({ id })
    .first()) as { serverId: number; n: number } | undefined;
  if (row === undefined) throw new Error('no read-back row');
  return { serverId: Number(row.serverId), found: Number(row.n) === 1 };
}

async function insertNote(on: Knex, title: string): Promise<number> {
  const [id] = await on('notes').insert({ title });
  return Number(id);
}

async function onPrimary(id: number): Promise<string | undefined> {
  const rows = await cluster.primary().query('SELECT title FROM app.notes WHERE id = ?', [id]);
  return rows[0]?.title as string | undefined;
}

function expectIdle(): void {
  for (const pool of router.pools()) {
    expect(pool.used, `${pool.name} in use`).toBe(0);
    expect(pool.pending, `${pool.name} waiting`).toBe(0);
  }
}

describe('Knex on the router against MariaDB', () => {
  it('runs a select on the replica, an insert and an update on the primary', async () => {
    expect(primaryId).not.toBe(replicaId);
    expect((await readBack(db, 0)).serverId).toBe(replicaId);
    const id = await insertNote(db, 'knex');
    expect(await onPrimary(id)).toBe('knex');
    expect(await db('notes').where({ id }).update({ title: 'knexed' })).toBe(1);
    expect(await onPrimary(id)).toBe('knexed');
    expectIdle();
  });

  it('commits knex.transaction() on the primary, and rolls one back', async () => {
    const id = await db.transaction(async (trx) => {
      const inserted = await insertNote(trx, 'committed');
      // On the primary, and the transaction sees its own uncommitted row.
      expect(await readBack(trx, inserted)).toEqual({ serverId: primaryId, found: true });
      return inserted;
    });
    expect(await onPrimary(id)).toBe('committed');

    let rolledBack = 0;
    const boom = new Error('boom');
    await expect(
      db.transaction(async (trx) => {
        rolledBack = await insertNote(trx, 'rolled back');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(rolledBack).toBeGreaterThan(0);
    expect(await onPrimary(rolledBack)).toBeUndefined();
    expectIdle();
  });

  it('rolls back only the inner savepoint of a nested transaction', async () => {
    let kept = 0;
    let undone = 0;
    await db.transaction(async (trx) => {
      kept = await insertNote(trx, 'outer');
      await trx
        .transaction(async (inner) => {
          undone = await insertNote(inner, 'inner');
          throw new Error('undo the inner one');
        })
        .catch(() => {});
    });
    expect(await onPrimary(kept)).toBe('outer');
    expect(await onPrimary(undone)).toBeUndefined();
    expectIdle();
  });

  it('runs { readOnly: true } on the replica, and refuses a write inside it', async () => {
    const readOnly = { readOnly: true, isolationLevel: 'repeatable read' } as const;
    expect((await db.transaction((trx) => readBack(trx, 0), readOnly)).serverId).toBe(replicaId);
    const error = await db
      .transaction((trx) => insertNote(trx, 'refused'), readOnly)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HintRefusedError);
    expect(error).toMatchObject({ code: 'RWSPLIT_HINT_REFUSED' });
    expect(await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'refused'")).toEqual([]);
    expectIdle();
  });

  it('refuses SET outside a transaction with SessionStateError; inside one it holds', async () => {
    const error = await db.raw('SET @x = 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStateError);
    expect(error).toMatchObject({ code: 'RWSPLIT_SESSION_STATE', retryable: false });
    const x = await db.transaction(async (trx) => {
      await trx.raw('SET @x = 42');
      const [rows] = (await trx.raw('SELECT @x AS x')) as [Array<{ x: number }>];
      return rows[0]?.x;
    });
    expect(x).toBe(42);
    expectIdle();
  });

  it('fails stream() with the typed NotSupportedError on the stream, and gives the connection back', async () => {
    const stream = db('notes').select().stream();
    const error = await new Promise((resolve) => stream.on('error', resolve));
    expect(error).toBeInstanceOf(RwsplitError);
    expect(error).toMatchObject({ code: 'RWSPLIT_NOT_SUPPORTED' });
    await until(() => router.pools().every((p) => p.used === 0), { timeoutMs: 1_000, what: 'idle pools' });
  });

  it('runs 100 concurrent operations, then leaves every pool idle', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        switch (i % 5) {
          case 0:
            return (await readBack(db, 0)).serverId === replicaId;
          case 1:
            return (await insertNote(db, `load ${i}`)) > 0;
          case 2:
            return db.transaction(
              async (trx) => (await readBack(trx, await insertNote(trx, `tx ${i}`))).found,
            );
          case 3:
            return (await db('notes').where('id', '<', 10).select('id')).length >= 0;
          default:
            return db.transaction(async (trx) => (await readBack(trx, 0)).serverId === replicaId, {
              readOnly: true,
            });
        }
      }),
    );
    expect(results.filter((ok) => !ok)).toEqual([]);
    expectIdle();
  });
});

describe('read-your-writes through the Express middleware, knex over req.db and over currentSession()', () => {
  let server: Server | undefined;
  let url = '';
  // One knex for the whole app: each query asks for the request's session (AsyncLocalStorage).
  const shared = () => knexOver(() => currentSession() ?? router);
  let appKnex: Knex;

  beforeAll(async () => {
    appKnex = shared();
    const app = express();
    app.use(express.json());
    app.use(rwsplitMiddleware(router, { currentSession: true }));
    // `/notes`: a knex per request over req.db; `/shared/notes`: the app's one knex.
    const knexFor = (req: express.Request, scope: string) =>
      scope === 'shared' ? appKnex : knexOver(req.db);
    app.post('/:scope/notes', async (req, res, next) => {
      try {
        res
          .status(201)
          .json({ id: await insertNote(knexFor(req, req.params.scope), String(req.body.title)) });
      } catch (error) {
        next(error);
      }
    });
    // The same write inside a knex transaction: the token comes from the COMMIT's position.
    app.post('/:scope/notes/in-transaction', async (req, res, next) => {
      try {
        const title = String(req.body.title);
        const id = await knexFor(req, req.params.scope).transaction((trx) => insertNote(trx, title));
        res.status(201).json({ id });
      } catch (error) {
        next(error);
      }
    });
    app.get('/:scope/notes/:id', async (req, res, next) => {
      try {
        res.json(await readBack(knexFor(req, req.params.scope), Number(req.params.id)));
      } catch (error) {
        next(error);
      }
    });
    const listening = app.listen(0, '127.0.0.1');
    await once(listening, 'listening');
    server = listening;
    url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    await cluster.replica(0).delayReplication(DELAY_MS);
    await untilStatus(
      router,
      cluster.replica(0),
      (s) => s.inRotation && (s.lagMs ?? 0) >= 500,
      'in rotation and lagging',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    const listening = server;
    if (listening !== undefined) await new Promise((resolve) => listening.close(resolve));
    await appKnex?.destroy();
    await cluster.replica(0).delayReplication(0);
  });

  /**
   * POST a note (every other one in a transaction; every other pair through the app's one knex), then GET it
   * back as the next request; with `carry`, the GET sends the cookie the POST set.
   */
  async function pair(carry: boolean, index: number): Promise<{ serverId: number; found: boolean }> {
    const scope = index % 4 < 2 ? 'request' : 'shared';
    const jar = new CookieJar();
    const posted = await fetch(`${url}/${scope}/notes${index % 2 === 0 ? '' : '/in-transaction'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'ryw' }),
    });
    if (carry) jar.store(posted);
    const { id } = (await expectStatus(posted, 201)) as { id: number };
    const read = await fetch(`${url}/${scope}/notes/${id}`, { headers: jar.header() });
    return (await expectStatus(read, 200)) as { serverId: number; found: boolean };
  }

  it('reads every write back with the token, the replica 2 s behind: 0 stale', async () => {
    const reads = await inParallel(PAIRS, 5, (i) => pair(true, i));
    expect(reads.filter((r) => !r.found)).toEqual([]);
    expect(
      router.topology().find((s) => s.name === cluster.replica(0).name)?.inRotation,
      describeTopology(router),
    ).toBe(true);
  });

  it('reads stale without the token (the control: the same check can fail)', async () => {
    const reads = await inParallel(PAIRS, 5, (i) => pair(false, i));
    const stale = reads.filter((r) => !r.found);
    expect(stale.length).toBeGreaterThanOrEqual(PAIRS * 0.9);
    expect(stale.every((r) => r.serverId === replicaId)).toBe(true);
  });
});

describe('a primary that dies under Knex', () => {
  it('makes writes and transactions fail with the typed, retryable PrimaryUnavailableError; reads go on', async () => {
    await untilStatus(router, cluster.replica(0), (s) => s.inRotation && (s.lagMs ?? 0) < 500, 'caught up');
    await cluster.primary().kill();
    // Once the monitor finds it unreachable, the pooled connections' sockets are closed too: a write cannot
    // be sent on one (that would be WriteOutcomeUnknownError, the honest answer for a write that was sent).
    await untilStatus(router, cluster.primary(), (s) => !s.reachable, 'unreachable');
    const write = await insertNote(db, 'lost').catch((e: unknown) => e);
    expect(write).toBeInstanceOf(PrimaryUnavailableError);
    expect(write).toMatchObject({
      code: 'RWSPLIT_PRIMARY_UNAVAILABLE',
      retryable: true,
      node: cluster.primary().name,
    });
    const transaction = await db.transaction(async () => {}).catch((e: unknown) => e);
    expect(transaction).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE' });
    expect((await readBack(db, 0)).serverId).toBe(replicaId);
    expectIdle();

    await cluster.primary().restart();
    await until(async () => (await insertNote(db, 'back')) > 0, {
      timeoutMs: 15_000,
      what: 'writes accepted again after the restart',
    });
  });
});
