import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import {
  HintRefusedError,
  PrimaryUnavailableError,
  type Router,
  RwsplitError,
  SessionStateError,
} from '@rwsplit/router';
import { drizzle, type RwsplitDrizzleDatabase, rwsplitErrorOf } from '@rwsplit/router/drizzle';
import { rwsplitMiddleware } from '@rwsplit/router/express';
import { count, DrizzleQueryError, eq, relations, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import express from 'express';
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
const authors = mysqlTable('authors', {
  id: int('id').primaryKey().autoincrement(),
  name: varchar('name', { length: 64 }).notNull(),
});
const notes = mysqlTable('notes', {
  id: int('id').primaryKey().autoincrement(),
  authorId: int('author_id'),
  title: varchar('title', { length: 64 }).notNull(),
});
const authorsRelations = relations(authors, ({ many }) => ({ notes: many(notes) }));
const notesRelations = relations(notes, ({ one }) => ({
  author: one(authors, { fields: [notes.authorId], references: [authors.id] }),
}));
const schema = { authors, notes, authorsRelations, notesRelations };
// MariaDB has no LATERAL joins, which drizzle-orm's 'default' mode builds relational queries with.
const MODE = 'planetscale';

const DELAY_MS = 2_000;
const PAIRS = 30;

let cluster: Cluster;
let router: Router;
let db: RwsplitDrizzleDatabase<typeof schema, Router>;
let primaryId: number;
let replicaId: number;

beforeAll(async () => {
  // No failover managers: the last test kills the primary, and nobody must promote the replica meanwhile.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  primaryId = cluster.primary().serverId;
  replicaId = cluster.replica(0).serverId;
  await cluster
    .primary()
    .query('CREATE TABLE app.authors (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL)');
  await cluster
    .primary()
    .query(
      'CREATE TABLE app.notes (id INT AUTO_INCREMENT PRIMARY KEY, author_id INT, title VARCHAR(64) NOT NULL)',
    );
  await replicatedEverywhere(cluster, 'notes');
  // maxMs above the delay: the lagging replica stays in rotation, so only the token stands between a read
  // and a stale replica.
  router = routerFor(cluster, { lag: { maxMs: 10_000, readmitAfterMs: 500 }, consistency: 'session' });
  await router.ready();
  db = drizzle(router, { schema, mode: MODE });
}, 120_000);

afterAll(async () => {
  await router?.close();
  await cluster?.stop();
});

/** Where a Drizzle select ran, and whether note `id` was there, in one statement (one snapshot). */
async function readBack(
  on: Pick<RwsplitDrizzleDatabase<typeof schema>, 'select'>,
  id: number,
): Promise<{ serverId: number; found: boolean }> {
  // An aggregate without GROUP BY returns its one row (and the server id) even when the note is missing.
  const [row] = await on
    .select({ serverId: sql<number>`@@server_id`, n: count() })
    .from(notes)
    .where(eq(notes.id, id));
  if (row === undefined) throw new Error('no read-back row');
  return { serverId: Number(row.serverId), found: row.n === 1 };
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

describe('Drizzle on the router against MariaDB', () => {
  it('runs a select on the replica, an insert and an update on the primary', async () => {
    expect(primaryId).not.toBe(replicaId);
    expect((await readBack(db, 0)).serverId).toBe(replicaId);
    const [inserted] = await db.insert(notes).values({ title: 'drizzle' }).$returningId();
    const id = inserted?.id ?? 0;
    expect(await onPrimary(id)).toBe('drizzle');
    const [updated] = await db.update(notes).set({ title: 'drizzled' }).where(eq(notes.id, id));
    expect(updated.affectedRows).toBe(1);
    expect(await onPrimary(id)).toBe('drizzled');
    expectIdle();
  });

  it('serves relational queries with `with` from the replica', async () => {
    const [author] = await db.insert(authors).values({ name: 'ada' }).$returningId();
    await db.insert(notes).values([
      { authorId: author?.id ?? 0, title: 'first' },
      { authorId: author?.id ?? 0, title: 'second' },
    ]);
    const found = await until(
      async () => {
        const rows = await db.query.authors.findMany({
          where: eq(authors.name, 'ada'),
          with: { notes: { columns: { title: true } } },
          extras: { served: sql<number>`@@server_id`.as('served') },
        });
        return rows[0]?.notes.length === 2 ? rows[0] : undefined;
      },
      { timeoutMs: 10_000, what: 'the author and their notes on the replica' },
    );
    expect(Number(found.value.served)).toBe(replicaId);
    expect(found.value.notes.map((n) => n.title).sort()).toEqual(['first', 'second']);
  });

  it('commits a transaction on the primary', async () => {
    const id = await db.transaction(async (tx) => {
      const [row] = await tx.insert(notes).values({ title: 'committed' }).$returningId();
      const read = await readBack(tx, row?.id ?? 0);
      // On the primary, and the transaction sees its own uncommitted row.
      expect(read).toEqual({ serverId: primaryId, found: true });
      return row?.id ?? 0;
    });
    expect(await onPrimary(id)).toBe('committed');
    expectIdle();
  });

  it('rolls a transaction back, and only the inner savepoint of a nested one', async () => {
    let rolledBack = 0;
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        const [row] = await tx.insert(notes).values({ title: 'rolled back' }).$returningId();
        rolledBack = row?.id ?? 0;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(rolledBack).toBeGreaterThan(0);
    expect(await onPrimary(rolledBack)).toBeUndefined();

    let kept = 0;
    let undone = 0;
    await db.transaction(async (tx) => {
      kept = (await tx.insert(notes).values({ title: 'outer' }).$returningId())[0]?.id ?? 0;
      await expect(
        tx.transaction(async (inner) => {
          undone = (await inner.insert(notes).values({ title: 'inner' }).$returningId())[0]?.id ?? 0;
          inner.rollback();
        }),
      ).rejects.toThrow();
    });
    expect(await onPrimary(kept)).toBe('outer');
    expect(await onPrimary(undone)).toBeUndefined();
    expectIdle();
  });

  it('runs a read-only transaction on the replica, and refuses a write inside it', async () => {
    const readOnly = { isolationLevel: 'repeatable read', accessMode: 'read only' } as const;
    const read = await db.transaction((tx) => readBack(tx, 0), readOnly);
    expect(read.serverId).toBe(replicaId);
    const error = await db
      .transaction((tx) => tx.insert(notes).values({ title: 'refused' }), readOnly)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect(rwsplitErrorOf(error)).toBeInstanceOf(HintRefusedError);
    expect(await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'refused'")).toEqual([]);
    expectIdle();
  });

  it('runs 100 concurrent operations, then leaves every pool idle', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        switch (i % 5) {
          case 0:
            return (await readBack(db, 0)).serverId === replicaId;
          case 1:
            return (
              (
                await db
                  .insert(notes)
                  .values({ title: `load ${i}` })
                  .$returningId()
              ).length === 1
            );
          case 2:
            return db.transaction(async (tx) => {
              const [row] = await tx
                .insert(notes)
                .values({ title: `load tx ${i}` })
                .$returningId();
              return (await readBack(tx, row?.id ?? 0)).found;
            });
          case 3: {
            const found = await db.query.notes.findMany({ limit: 5 });
            return Array.isArray(found);
          }
          default:
            return db.transaction(async (tx) => (await readBack(tx, 0)).serverId === replicaId, {
              isolationLevel: 'read committed',
              accessMode: 'read only',
            });
        }
      }),
    );
    expect(results.filter((ok) => !ok)).toEqual([]);
    expectIdle();
  });

  it('refuses session state outside a session with SessionStateError, as the cause of DrizzleQueryError', async () => {
    const error = await db.execute(sql`SET @x = 1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect((error as DrizzleQueryError).cause).toBeInstanceOf(SessionStateError);
    expect(rwsplitErrorOf(error)).toMatchObject({ code: 'RWSPLIT_SESSION_STATE', retryable: false });
  });
});

describe('read-your-writes through the Express middleware and drizzle(req.db)', () => {
  let server: Server | undefined;
  let url = '';

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use(rwsplitMiddleware(router));
    app.post('/notes', async (req, res, next) => {
      try {
        const requestDb = drizzle(req.db);
        const [row] = await requestDb
          .insert(notes)
          .values({ title: String(req.body.title) })
          .$returningId();
        res.status(201).json({ id: row?.id });
      } catch (error) {
        next(error);
      }
    });
    // The same write inside a Drizzle transaction: the token comes from the COMMIT's position.
    app.post('/notes/in-transaction', async (req, res, next) => {
      try {
        const id = await drizzle(req.db).transaction(async (tx) => {
          const [row] = await tx
            .insert(notes)
            .values({ title: String(req.body.title) })
            .$returningId();
          return row?.id;
        });
        res.status(201).json({ id });
      } catch (error) {
        next(error);
      }
    });
    app.get('/notes/:id', async (req, res, next) => {
      try {
        res.json(await readBack(drizzle(req.db), Number(req.params.id)));
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

  /**
   * POST a note (every other one in a transaction), then GET it back as the next request; with `carry`, the
   * second request sends the cookie the first one set.
   */
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

  it("migrates through a strong session; a plain router reads the migrator's own table from the replica", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'rwsplit-drizzle-migrations-'));
    try {
      mkdirSync(join(folder, 'meta'));
      writeFileSync(
        join(folder, 'meta', '_journal.json'),
        JSON.stringify({
          version: '5',
          dialect: 'mysql',
          entries: [{ idx: 0, version: '5', when: 1_700_000_000_000, tag: '0000_tags', breakpoints: true }],
        }),
      );
      writeFileSync(
        join(folder, '0000_tags.sql'),
        'CREATE TABLE `tags` (`id` int PRIMARY KEY, `name` varchar(32))',
      );
      const session = router.session({ consistency: 'strong' });
      try {
        // Twice: the second run must find the first one's row (on the primary) and apply nothing.
        await migrate(drizzle(session), { migrationsFolder: folder });
        await migrate(drizzle(session), { migrationsFolder: folder });
      } finally {
        session.release();
      }
      expect(await cluster.primary().query('SELECT COUNT(*) AS n FROM app.__drizzle_migrations')).toEqual([
        { n: 1 },
      ]);
      // The control: on the plain router the migrator's SELECT of its new table goes to the lagging replica.
      const error = await migrate(drizzle(router), {
        migrationsFolder: folder,
        migrationsTable: '__drizzle_migrations_control',
      }).catch((e: unknown) => e);
      // The migrator reads through session.all(), which drizzle-orm does not wrap: the server's own error.
      expect(error).toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('a primary that dies under Drizzle', () => {
  it('makes writes and transactions fail with the typed, retryable PrimaryUnavailableError; reads go on', async () => {
    await untilStatus(router, cluster.replica(0), (s) => s.inRotation && (s.lagMs ?? 0) < 500, 'caught up');
    await cluster.primary().kill();
    // Once the monitor finds it unreachable, the pooled connections' sockets are closed too: a write cannot
    // be sent on one (that would be WriteOutcomeUnknownError, the honest answer for a write that was sent).
    await untilStatus(router, cluster.primary(), (s) => !s.reachable, 'unreachable');
    const write = await db
      .insert(notes)
      .values({ title: 'lost' })
      .catch((e: unknown) => e);
    expect(rwsplitErrorOf(write)).toBeInstanceOf(PrimaryUnavailableError);
    expect(rwsplitErrorOf(write)).toBeInstanceOf(RwsplitError);
    expect(rwsplitErrorOf(write)).toMatchObject({
      code: 'RWSPLIT_PRIMARY_UNAVAILABLE',
      retryable: true,
      node: cluster.primary().name,
    });
    const transaction = await db.transaction(async () => {}).catch((e: unknown) => e);
    expect(rwsplitErrorOf(transaction)?.code).toBe('RWSPLIT_PRIMARY_UNAVAILABLE');
    expect((await readBack(db, 0)).serverId).toBe(replicaId);
    expectIdle();

    await cluster.primary().restart();
    await until(async () => (await db.insert(notes).values({ title: 'back' })).length > 0, {
      timeoutMs: 15_000,
      what: 'writes accepted again after the restart',
    });
  });
});
