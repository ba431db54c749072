import { DrizzleQueryError, eq, sql, TransactionRollbackError } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import type { QueryResult } from 'mysql2/promise';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { drizzle, rwsplitErrorOf } from '../../src/adapters/drizzle.js';
import { DrizzleConnection } from '../../src/adapters/drizzle-connection.js';
import { drizzleControl } from '../../src/adapters/drizzle-control.js';
import {
  HintRefusedError,
  InvalidArgumentError,
  NotSupportedError,
  PrimaryUnavailableError,
  type Router,
  RwsplitError,
  type Session,
  SessionReleasedError,
  SessionStateError,
  TransactionEndedError,
  TransactionResolutionUnknownError,
} from '../../src/index.js';
import { driverError, type FakeServer } from '../fake-driver.js';
import { type Rig, rigPerTest, until } from '../setup.js';

const notes = mysqlTable('notes', {
  id: int('id').primaryKey().autoincrement(),
  title: varchar('title', { length: 64 }).notNull(),
});
const schema = { notes };

const make = rigPerTest();

/** Fake servers that answer like MariaDB would for what these tests send. */
function answering(r: Rig): Rig {
  const reply = (server: FakeServer) => (text: string) => {
    if (/^insert/i.test(text)) return { insertId: 41, affectedRows: 2 } as unknown as QueryResult;
    if (/^select/i.test(text)) return [[7, `from ${server.name}`]] as unknown as QueryResult;
    return { affectedRows: 0 } as unknown as QueryResult;
  };
  for (const server of [r.primary, ...r.replicas]) server.reply = reply(server);
  return r;
}

function expectIdle(router: Router): void {
  for (const pool of router.pools()) {
    expect(pool.used, `${pool.name} in use`).toBe(0);
    expect(pool.pending, `${pool.name} waiting`).toBe(0);
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe("drizzleControl: Drizzle's transaction statements", () => {
  it.each([
    ['begin', { kind: 'start', readOnly: false, consistentSnapshot: false }],
    ['start transaction read only', { kind: 'start', readOnly: true, consistentSnapshot: false }],
    ['start transaction read write', { kind: 'start', readOnly: false, consistentSnapshot: false }],
    ['START  TRANSACTION\n READ ONLY ', { kind: 'start', readOnly: true, consistentSnapshot: false }],
    [
      'start transaction with consistent snapshot',
      { kind: 'start', readOnly: false, consistentSnapshot: true },
    ],
    [
      'start transaction with consistent snapshot read only',
      { kind: 'start', readOnly: true, consistentSnapshot: true },
    ],
    ['set transaction isolation level read committed', { kind: 'isolation', level: 'READ COMMITTED' }],
    ['set transaction isolation level serializable', { kind: 'isolation', level: 'SERIALIZABLE' }],
    ['commit', { kind: 'commit' }],
    ['ROLLBACK', { kind: 'rollback' }],
  ])('reads %j', (text, expected) => {
    expect(drizzleControl(text)).toEqual(expected);
  });

  it.each([
    'rollback to savepoint sp1',
    'savepoint sp1',
    'release savepoint sp1',
    'commit and chain',
    'start transaction read only, with consistent snapshot',
    'set transaction isolation level chaotic',
    'set transaction read only',
    'select 1',
    `select ${'x, '.repeat(40)}1`,
  ])('leaves %j to run as a statement', (text) => {
    expect(drizzleControl(text)).toBeUndefined();
  });
});

describe('drizzle(router)', () => {
  it('type-checks without a cast and keeps the router as $client', () => {
    const { router } = make();
    const db = drizzle(router);
    expect(db.$client).toBe(router);
    expectTypeOf(db.$client).toEqualTypeOf<Router>();
    expect(drizzle({ client: router }).$client).toBe(router);
  });

  it('runs selects on a replica and inserts on the primary, with ids from $returningId()', async () => {
    const r = answering(make());
    const db = drizzle(r.router);
    expect(await db.select().from(notes).where(eq(notes.id, 7))).toEqual([{ id: 7, title: 'from r1' }]);
    expect(r.replicas[0]!.sqls).toEqual(['select `id`, `title` from `notes` where `notes`.`id` = ?']);
    expect(
      await db
        .insert(notes)
        .values([{ title: 'a' }, { title: 'b' }])
        .$returningId(),
    ).toEqual([{ id: 41 }, { id: 42 }]);
    expect(r.primary.sqls).toEqual(['insert into `notes` (`id`, `title`) values (default, ?), (default, ?)']);
    expectIdle(r.router);
  });

  it('serves relational queries with a schema', async () => {
    const r = answering(make());
    const db = drizzle(r.router, { schema, mode: 'planetscale' });
    const found = await db.query.notes.findMany({ where: eq(notes.id, 7) });
    expectTypeOf(found).toEqualTypeOf<{ id: number; title: string }[]>();
    expect(found).toEqual([{ id: 7, title: 'from r1' }]);
    expect(r.primary.sqls).toEqual([]);
  });

  it('runs a transaction as one router transaction on the primary and gives the connection back', async () => {
    const r = answering(make());
    const db = drizzle(r.router);
    const result = await db.transaction(async (tx) => {
      await tx.insert(notes).values({ title: 'in tx' });
      return tx.select().from(notes);
    });
    expect(result).toEqual([{ id: 7, title: 'from p' }]);
    expect(r.primary.sqls).toEqual([
      'START TRANSACTION',
      'insert into `notes` (`id`, `title`) values (default, ?)',
      'select `id`, `title` from `notes`',
      'COMMIT',
    ]);
    expect(new Set(r.primary.executed.map((e) => e.connection)).size).toBe(1);
    expect(r.replicas[0]!.sqls).toEqual([]);
    expectIdle(r.router);
  });

  it("rolls back when the callback throws, and rethrows the callback's own error", async () => {
    const r = answering(make());
    const boom = new Error('boom');
    const error = await failure(
      drizzle(r.router).transaction(async (tx) => {
        await tx.insert(notes).values({ title: 'never' });
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(r.primary.sqls.at(-1)).toBe('ROLLBACK');
    expect(r.primary.sqls).not.toContain('COMMIT');
    expectIdle(r.router);
  });

  it("rolls back on tx.rollback(), with Drizzle's TransactionRollbackError", async () => {
    const r = answering(make());
    const error = await failure(drizzle(r.router).transaction(async (tx) => tx.rollback()));
    expect(error).toBeInstanceOf(TransactionRollbackError);
    expect(r.primary.sqls).toEqual(['START TRANSACTION', 'ROLLBACK']);
    expectIdle(r.router);
  });

  it('nests transactions as savepoints on the same connection, rolling back only the inner one', async () => {
    const r = answering(make());
    await drizzle(r.router).transaction(async (tx) => {
      await tx.transaction(async (inner) => {
        await inner.insert(notes).values({ title: 'kept' });
      });
      await failure(
        tx.transaction(async (inner) => {
          await inner.insert(notes).values({ title: 'undone' });
          inner.rollback();
        }),
      );
    });
    expect(r.primary.sqls).toEqual([
      'START TRANSACTION',
      'savepoint sp1',
      'insert into `notes` (`id`, `title`) values (default, ?)',
      'release savepoint sp1',
      'savepoint sp1',
      'insert into `notes` (`id`, `title`) values (default, ?)',
      'rollback to savepoint sp1',
      'COMMIT',
    ]);
    expect(new Set(r.primary.executed.map((e) => e.connection)).size).toBe(1);
    expectIdle(r.router);
  });

  it("runs accessMode 'read only' on a replica, with the isolation level set there", async () => {
    const r = answering(make());
    const rows = await drizzle(r.router).transaction((tx) => tx.select().from(notes), {
      isolationLevel: 'repeatable read',
      accessMode: 'read only',
    });
    expect(rows).toEqual([{ id: 7, title: 'from r1' }]);
    expect(r.replicas[0]!.sqls).toEqual([
      'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
      'START TRANSACTION READ ONLY',
      'select `id`, `title` from `notes`',
      'COMMIT',
    ]);
    expect(r.primary.sqls).toEqual([]);
    expectIdle(r.router);
  });

  it('refuses a write in a read-only transaction with HintRefusedError, and rolls back', async () => {
    const r = answering(make());
    const error = await failure(
      drizzle(r.router).transaction((tx) => tx.insert(notes).values({ title: 'no' }), {
        isolationLevel: 'read committed',
        accessMode: 'read only',
      }),
    );
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect(rwsplitErrorOf(error)).toBeInstanceOf(HintRefusedError);
    expect(r.replicas[0]!.sqls.at(-1)).toBe('ROLLBACK');
    expect(r.primary.sqls).toEqual([]);
    expectIdle(r.router);
  });

  it("sets a read-write transaction's isolation level on the primary connection it runs on", async () => {
    const r = answering(make());
    await drizzle(r.router).transaction(async () => {}, { isolationLevel: 'read committed' });
    expect(r.primary.sqls).toEqual([
      'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
      'START TRANSACTION',
      'COMMIT',
    ]);
  });

  it('refuses withConsistentSnapshot with NotSupportedError before taking a connection', async () => {
    const r = answering(make());
    const error = await failure(
      drizzle(r.router).transaction(async () => {}, {
        isolationLevel: 'repeatable read',
        withConsistentSnapshot: true,
      }),
    );
    expect(rwsplitErrorOf(error)).toBeInstanceOf(NotSupportedError);
    expect(r.primary.executed).toEqual([]);
    expectIdle(r.router);
  });

  it('refuses iterator() with NotSupportedError, running nothing, in and out of a transaction', async () => {
    const r = answering(make());
    const db = drizzle(r.router);
    const iterate = async (rows: AsyncIterable<unknown>) => {
      for await (const _ of rows) throw new Error('no row expected');
    };
    const outside = await failure(iterate(db.select().from(notes).iterator()));
    expect(outside).toBeInstanceOf(NotSupportedError);
    expect((outside as NotSupportedError).code).toBe('RWSPLIT_NOT_SUPPORTED');
    expect(r.replicas[0]!.executed).toEqual([]);
    const inside = await failure(db.transaction((tx) => iterate(tx.select().from(notes).iterator())));
    expect(inside).toBeInstanceOf(NotSupportedError);
    expect(r.primary.sqls).toEqual(['START TRANSACTION', 'ROLLBACK']);
    expectIdle(r.router);
  });

  it('passes refusals through as the cause of DrizzleQueryError: SET outside a session', async () => {
    const r = answering(make());
    const error = await failure(drizzle(r.router).execute(sql`SET @x = 1`));
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect((error as DrizzleQueryError).cause).toBeInstanceOf(SessionStateError);
    expect(rwsplitErrorOf(error)?.code).toBe('RWSPLIT_SESSION_STATE');
    expect(r.primary.executed).toEqual([]);
  });

  it("passes a server's SQL error through as mysql2's own error, the cause of DrizzleQueryError", async () => {
    const r = answering(make());
    const duplicate = Object.assign(new Error("Duplicate entry 'a' for key 'title'"), {
      code: 'ER_DUP_ENTRY',
      errno: 1062,
      fatal: false,
    });
    r.primary.failNext(/^insert/, duplicate);
    const error = await failure(drizzle(r.router).insert(notes).values({ title: 'a' }));
    expect((error as DrizzleQueryError).cause).toBe(duplicate);
    expect(rwsplitErrorOf(error)).toBeUndefined();
    expectIdle(r.router);
  });

  it('reports a primary that refuses connections as PrimaryUnavailableError and holds nothing', async () => {
    const r = answering(make());
    r.primary.refuse = true;
    const db = drizzle(r.router);
    expect(rwsplitErrorOf(await failure(db.insert(notes).values({ title: 'x' })))).toBeInstanceOf(
      PrimaryUnavailableError,
    );
    expect(rwsplitErrorOf(await failure(db.transaction(async () => {})))).toBeInstanceOf(
      PrimaryUnavailableError,
    );
    expectIdle(r.router);
  });

  it('reports a connection lost during COMMIT as outcome unknown, never as a rollback', async () => {
    const r = answering(make());
    r.primary.failNext(/^COMMIT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    const error = await failure(
      drizzle(r.router).transaction(async (tx) => {
        await tx.insert(notes).values({ title: 'maybe' });
      }),
    );
    expect(rwsplitErrorOf(error)).toBeInstanceOf(TransactionResolutionUnknownError);
    expect(r.primary.sqls).not.toContain('ROLLBACK');
    expectIdle(r.router);
  });

  it('refuses a client that is not a router or a session', () => {
    const pool = { query: () => undefined } as unknown as Router;
    expect(() => drizzle(pool)).toThrow(InvalidArgumentError);
  });
});

describe('drizzle(session)', () => {
  it("runs each db.transaction() as the session's transaction, leaving the session unpinned", async () => {
    const r = answering(make());
    const session = r.router.session();
    const db = drizzle(session);
    expectTypeOf(db.$client).toEqualTypeOf<Session>();
    await db.transaction(async (tx) => {
      await tx.insert(notes).values({ title: 'in session tx' });
    });
    expect(r.primary.sqls).toEqual([
      'START TRANSACTION',
      'insert into `notes` (`id`, `title`) values (default, ?)',
      'COMMIT',
    ]);
    expect(session.pinned).toBe(false);
    await db.select().from(notes);
    expect(r.replicas[0]!.sqls).toEqual(['select `id`, `title` from `notes`']);
    await session.end();
    expectIdle(r.router);
  });

  it("runs a transaction on the session's pinned connection when it holds one", async () => {
    const r = answering(make());
    const connection = await r.router.getConnection();
    await drizzle(connection).transaction(async (tx) => {
      await tx.select().from(notes);
    });
    expect(connection.pinned).toBe(true);
    expect(new Set(r.primary.executed.map((e) => e.connection)).size).toBe(1);
    connection.release();
    expectIdle(r.router);
  });
});

describe('DrizzleConnection, off the path Drizzle takes', () => {
  it('rolls back a transaction still open at release(), and gives the connection back', async () => {
    const r = answering(make());
    const connection = new DrizzleConnection(r.router);
    await connection.query('begin');
    await connection.query('insert into t values (1)');
    connection.release();
    await until(() => r.router.pools().every((pool) => pool.used === 0));
    expect(r.primary.sqls).toEqual(['START TRANSACTION', 'insert into t values (1)', 'ROLLBACK']);
    await expect(connection.query('select 1')).rejects.toBeInstanceOf(SessionReleasedError);
  });

  it('answers commit or rollback after the end, and refuses any other statement then', async () => {
    const r = answering(make());
    const connection = new DrizzleConnection(r.router);
    await connection.query('begin');
    await connection.query('commit');
    await connection.query('rollback');
    await expect(connection.query('select 1')).rejects.toBeInstanceOf(TransactionEndedError);
    expect(r.primary.sqls).toEqual(['START TRANSACTION', 'COMMIT']);
    expectIdle(r.router);
  });

  it('refuses a statement before the transaction started, running nothing', async () => {
    const r = answering(make());
    await expect(new DrizzleConnection(r.router).query('select 1')).rejects.toBeInstanceOf(NotSupportedError);
    expect(r.primary.executed).toEqual([]);
    expect(r.replicas[0]!.executed).toEqual([]);
  });
});

describe('rwsplitErrorOf', () => {
  it('finds the router error at any depth of the cause chain, and nothing where there is none', () => {
    const refused = new SessionStateError('SET');
    expect(rwsplitErrorOf(refused)).toBe(refused);
    expect(rwsplitErrorOf(new Error('outer', { cause: new Error('mid', { cause: refused }) }))).toBe(refused);
    expect(rwsplitErrorOf(new Error('plain'))).toBeUndefined();
    expect(rwsplitErrorOf('RWSPLIT_SESSION_STATE')).toBeUndefined();
    const cyclic: { cause?: unknown } = {};
    cyclic.cause = cyclic;
    expect(rwsplitErrorOf(cyclic)).toBeUndefined();
    expect(rwsplitErrorOf(refused)).toBeInstanceOf(RwsplitError);
  });
});
