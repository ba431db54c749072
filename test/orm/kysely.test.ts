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
} from '@rwsplit/router';
import { rwsplitMiddleware } from '@rwsplit/router/express';
import { RwsplitKyselyDialect } from '@rwsplit/router/kysely';
import express from 'express';
import { type Generated, Kysely, type Migration, Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeTopology,
  replicatedEverywhere,
  routerFor,
  untilStatus,
} from '../consistency/support/cluster-router.js';
import { CookieJar, expectStatus } from '../consistency/support/express-apps.js';
import { inParallel, until } from '../consistency/support/wait.js';

// One primary and one replica; the tests run in order: routing, transactions, connection state, load, lag,
// then the primary dies.
interface Database {
  notes: { id: Generated<number>; title: string };
}

const DELAY_MS = 2_000;
const PAIRS = 30;

let cluster: Cluster;
let router: Router;
let db: Kysely<Database>;
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
  db = kysely(router);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await router?.close();
  await cluster?.stop();
});

function kysely(client: Router | Session): Kysely<Database> {
  return new Kysely<Database>({ dialect: new RwsplitKyselyDialect({ db: client }) });
}

/** Where a Kysely select ran, and whether note `id` was there, in one statement (one snapshot). */
async function readBack(on: Kysely<Database>, id: number): Promise<{ serverId: number; found: boolean }> {
  // An aggregate without GROUP BY returns its one row (and the server id) even when the note is missing.
  const row = await on
    .selectFrom('notes')
    .select((eb) => [sql<number>`@@server_id`.as('serverId'), eb.fn.countAll<number>().as('n')])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return { serverId: Number(row.serverId), found: Number(row.n) === 1 };
}

async function insertNote(on: Kysely<Database>, title: string): Promise<number> {
  const { insertId } = await on.insertInto('notes').values({ title }).executeTakeFirstOrThrow();
  return Number(insertId);
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

describe('Kysely on the router against MariaDB', () => {
  it('runs a select on the replica, an insert and an update on the primary', async () => {
    expect(primaryId).not.toBe(replicaId);
    expect((await readBack(db, 0)).serverId).toBe(replicaId);
    const id = await insertNote(db, 'kysely');
    expect(await onPrimary(id)).toBe('kysely');
    const updated = await db
      .updateTable('notes')
      .set({ title: 'kyselied' })
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(updated.numUpdatedRows).toBe(1n);
    expect(await onPrimary(id)).toBe('kyselied');
    expectIdle();
  });

  it('commits a transaction on the primary, and rolls one back', async () => {
    const id = await db.transaction().execute(async (trx) => {
      const inserted = await insertNote(trx, 'committed');
      // On the primary, and the transaction sees its own uncommitted row.
      expect(await readBack(trx, inserted)).toEqual({ serverId: primaryId, found: true });
      return inserted;
    });
    expect(await onPrimary(id)).toBe('committed');

    let rolledBack = 0;
    const boom = new Error('boom');
    await expect(
      db.transaction().execute(async (trx) => {
        rolledBack = await insertNote(trx, 'rolled back');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(rolledBack).toBeGreaterThan(0);
    expect(await onPrimary(rolledBack)).toBeUndefined();
    expectIdle();
  });

  it('rolls back to a savepoint of a controlled transaction, keeping what came before it', async () => {
    const trx = await db.startTransaction().execute();
    const kept = await insertNote(trx, 'before the savepoint');
    const afterKept = await trx.savepoint('after_kept').execute();
    const undone = await insertNote(afterKept, 'after the savepoint');
    await afterKept.rollbackToSavepoint('after_kept').execute();
    await trx.commit().execute();
    expect(await onPrimary(kept)).toBe('before the savepoint');
    expect(await onPrimary(undone)).toBeUndefined();
    expectIdle();
  });

  it("runs setAccessMode('read only') on the replica, and refuses a write inside it", async () => {
    const readOnly = db.transaction().setAccessMode('read only').setIsolationLevel('repeatable read');
    expect((await readOnly.execute((trx) => readBack(trx, 0))).serverId).toBe(replicaId);
    const error = await readOnly.execute((trx) => insertNote(trx, 'refused')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HintRefusedError);
    expect(error).toMatchObject({ code: 'RWSPLIT_HINT_REFUSED' });
    expect(await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'refused'")).toEqual([]);
    expectIdle();
  });

  it('keeps SET and temporary tables for the whole of db.connection(), and lets a lone SET leak nowhere', async () => {
    const seen = await db.connection().execute(async (conn) => {
      await sql`SET @x = 41`.execute(conn);
      await sql`CREATE TEMPORARY TABLE scratch (v INT)`.execute(conn);
      await sql`INSERT INTO scratch VALUES (@x + 1)`.execute(conn);
      const { rows } = await sql<{ v: number; id: number }>`SELECT v, @@server_id AS id FROM scratch`.execute(
        conn,
      );
      return rows[0];
    });
    expect(seen).toEqual({ v: 42, id: primaryId });
    // Outside db.connection(), a SET runs on a connection that is reset before anyone reuses it.
    await sql`SET @x = 1`.execute(db);
    const after = await Promise.all(
      Array.from({ length: 10 }, () => sql<{ x: number | null }>`SELECT @x AS x`.execute(db)),
    );
    expect(after.map((r) => r.rows[0]?.x)).toEqual(Array(10).fill(null));
    expectIdle();
  });

  it('refuses stream() with the typed NotSupportedError, before anything runs', async () => {
    const rows = db.selectFrom('notes').selectAll().stream();
    const error = await rows.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RwsplitError);
    expect(error).toMatchObject({ code: 'RWSPLIT_NOT_SUPPORTED', retryable: false });
    expectIdle();
  });

  it("migrates with Kysely's Migrator through a strong session: GET_LOCK pins it, a second run applies nothing", async () => {
    const migrations: Record<string, Migration> = {
      '0001_tags': {
        up: (m) =>
          m.schema
            .createTable('tags')
            .addColumn('id', 'integer', (c) => c.primaryKey())
            .execute(),
      },
    };
    for (let run = 0; run < 2; run++) {
      // Strong: the migrator's reads of its own tables must see what it just wrote, before its lock.
      const session = router.session({ consistency: 'strong' });
      const migrating = kysely(session);
      try {
        const { error, results } = await new Migrator({
          db: migrating,
          provider: { getMigrations: async () => migrations },
        }).migrateToLatest();
        expect(error).toBeUndefined();
        expect(results?.map((r) => r.status)).toEqual(run === 0 ? ['Success'] : []);
      } finally {
        await session.end();
      }
    }
    expect(await cluster.primary().query('SELECT name FROM app.kysely_migration')).toEqual([
      { name: '0001_tags' },
    ]);
    expectIdle();
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
            return db
              .transaction()
              .execute(async (trx) => (await readBack(trx, await insertNote(trx, `tx ${i}`))).found);
          case 3:
            return db.connection().execute(async (conn) => {
              await sql`SET @i = ${i}`.execute(conn);
              const { rows } = await sql<{ i: number }>`SELECT @i AS i`.execute(conn);
              return Number(rows[0]?.i) === i;
            });
          default:
            return db
              .transaction()
              .setAccessMode('read only')
              .execute(async (trx) => (await readBack(trx, 0)).serverId === replicaId);
        }
      }),
    );
    expect(results.filter((ok) => !ok)).toEqual([]);
    expectIdle();
  });
});

describe('read-your-writes through the Express middleware and a Kysely over req.db', () => {
  let server: Server | undefined;
  let url = '';

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use(rwsplitMiddleware(router));
    app.post('/notes', async (req, res, next) => {
      try {
        res.status(201).json({ id: await insertNote(kysely(req.db), String(req.body.title)) });
      } catch (error) {
        next(error);
      }
    });
    // The same write inside a Kysely transaction: the token comes from the COMMIT's position.
    app.post('/notes/in-transaction', async (req, res, next) => {
      try {
        const id = await kysely(req.db)
          .transaction()
          .execute((trx) => insertNote(trx, String(req.body.title)));
        res.status(201).json({ id });
      } catch (error) {
        next(error);
      }
    });
    app.get('/notes/:id', async (req, res, next) => {
      try {
        res.json(await readBack(kysely(req.db), Number(req.params.id)));
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
    await cluster.replica(0).delayReplication(0);
  });

  /** POST a note (every other one in a transaction), then GET it back; with `carry`, the GET sends the cookie. */
  async function pair(carry: boolean, index: number): Promise<{ serverId: number; found: boolean }> {
    const jar = new CookieJar();
    const posted = await fetch(`${url}/notes${index % 2 === 0 ? '' : '/in-transaction'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'ryw' }),
    });
    if (carry) jar.store(posted);
    const { id } = (await expectStatus(posted, 201)) as { id: number };
    const read = await fetch(`${url}/notes/${id}`, { headers: jar.header() });
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

describe('a primary that dies under Kysely', () => {
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
    const transaction = await db
      .transaction()
      .execute(async () => {})
      .catch((e: unknown) => e);
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
