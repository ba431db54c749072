import { CompiledQuery, Kysely, MysqlDialect, sql } from 'kysely';
import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { RwsplitKyselyDialect } from '../../src/adapters/kysely.js';
import { transactionOptions } from '../../src/adapters/kysely-driver.js';
import {
  CallbackApiError,
  HintRefusedError,
  InvalidArgumentError,
  NotSupportedError,
  type Router,
  type Session,
} from '../../src/index.js';
import type { FakeServer } from '../fake-driver.js';
import { type Rig, rig } from '../setup.js';

interface Database {
  notes: { id: number; title: string };
}

let current: Rig | undefined;
function make(): Rig {
  current = rig();
  for (const server of [current.primary, ...current.replicas]) server.reply = replyFor(server);
  return current;
}
afterEach(async () => {
  if (current !== undefined) {
    for (const pool of current.router.pools()) expect(pool.used, `${pool.name} connections in use`).toBe(0);
  }
  await current?.router.close();
  current = undefined;
});

/** Rows name the server; writes answer with an OK packet, as mysql2 reports it. */
function replyFor(server: FakeServer): FakeServer['reply'] {
  return (text) =>
    /^\s*(insert|update|delete)/i.test(text)
      ? ({ affectedRows: 1, insertId: 7, changedRows: 1 } as unknown as QueryResult)
      : ([{ id: 1, title: server.name }] as unknown as QueryResult);
}

function kysely(db: Router | Session): Kysely<Database> {
  return new Kysely<Database>({ dialect: new RwsplitKyselyDialect({ db }) });
}

function connectionsOf(server: FakeServer): Set<number> {
  return new Set(server.executed.map((e) => e.connection));
}

describe('RwsplitKyselyDialect over the router', () => {
  it('routes each query on its own: selects to the replica, writes to the primary', async () => {
    const { router, primary, replicas } = make();
    const db = kysely(router);
    const rows = await db.selectFrom('notes').selectAll().where('id', '=', 1).execute();
    expect(rows).toEqual([{ id: 1, title: 'r1' }]);
    const inserted = await db.insertInto('notes').values({ id: 7, title: 'x' }).executeTakeFirstOrThrow();
    expect(inserted.insertId).toBe(7n);
    expect(inserted.numInsertedOrUpdatedRows).toBe(1n);
    const updated = await db.updateTable('notes').set({ title: 'y' }).where('id', '=', 7).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(1n);
    expect(replicas[0]!.sqls).toEqual(['select * from `notes` where `id` = ?']);
    expect(primary.sqls).toEqual([
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'update `notes` set `title` = ? where `id` = ?',
    ]);
  });

  it('keeps reads on replicas inside db.connection() until a statement needs connection state', async () => {
    const { router, primary, replicas } = make();
    const x = await kysely(router)
      .connection()
      .execute(async (conn) => {
        await sql`select 1`.execute(conn);
        await sql`SET @x = 1`.execute(conn);
        await sql`select * from notes`.execute(conn);
        return sql<{ x: number }>`SELECT @x AS x`.execute(conn);
      });
    expect(x.rows).toHaveLength(1);
    expect(replicas[0]!.sqls).toEqual(['select 1']);
    // From the SET on, one primary connection: what it set is there for the statements after it.
    expect(primary.sqls).toEqual(['SET @x = 1', 'select * from notes', 'SELECT @x AS x']);
    expect(connectionsOf(primary).size).toBe(1);
    // And it was reset before going back to the pool.
    expect([...primary.connections][0]!.resets).toBe(1);
  });

  it('lets a lone SET through db affect nothing after it: its connection is reset on release', async () => {
    const { router, primary } = make();
    const db = kysely(router);
    await sql`SET @x = 1`.execute(db);
    await sql`SELECT @x AS x`.execute(db);
    expect(primary.sqls).toEqual(['SET @x = 1', 'SELECT @x AS x']);
    expect([...primary.connections].map((c) => c.resets)).toEqual([1]);
  });

  it('runs a transaction on one primary connection, reads included', async () => {
    const { router, primary, replicas } = make();
    await kysely(router)
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('notes').values({ id: 1, title: 'a' }).execute();
        await trx.selectFrom('notes').selectAll().execute();
      });
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'select * from `notes`',
      'COMMIT',
    ]);
    expect(connectionsOf(primary).size).toBe(1);
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('rolls back and rethrows when the callback throws', async () => {
    const { router, primary } = make();
    const boom = new Error('boom');
    await expect(
      kysely(router)
        .transaction()
        .execute(async (trx) => {
          await trx.deleteFrom('notes').execute();
          throw boom;
        }),
    ).rejects.toBe(boom);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'delete from `notes`', 'ROLLBACK']);
  });

  it("runs setAccessMode('read only') on a replica and refuses writes there", async () => {
    const { router, primary, replicas } = make();
    const db = kysely(router);
    const rows = await db
      .transaction()
      .setAccessMode('read only')
      .execute((trx) => trx.selectFrom('notes').selectAll().execute());
    expect(rows).toEqual([{ id: 1, title: 'r1' }]);
    await expect(
      db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.deleteFrom('notes').execute()),
    ).rejects.toBeInstanceOf(HintRefusedError);
    expect(replicas[0]!.sqls).toEqual([
      'START TRANSACTION READ ONLY',
      'select * from `notes`',
      'COMMIT',
      'START TRANSACTION READ ONLY',
      'ROLLBACK',
    ]);
    expect(primary.executed).toHaveLength(0);
  });

  it('sets the isolation level on the connection the router chose', async () => {
    const { router, primary } = make();
    await kysely(router)
      .transaction()
      .setIsolationLevel('read committed')
      .execute((trx) => trx.deleteFrom('notes').execute());
    expect(primary.sqls).toEqual([
      'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
      'START TRANSACTION',
      'delete from `notes`',
      'COMMIT',
    ]);
    expect(() => transactionOptions({ isolationLevel: 'snapshot' })).toThrow(NotSupportedError);
  });

  it('runs savepoints inside a controlled transaction, names quoted by Kysely', async () => {
    const { router, primary } = make();
    const trx = await kysely(router).startTransaction().execute();
    await trx.insertInto('notes').values({ id: 1, title: 'a' }).execute();
    const sp = await trx.savepoint('before`b').execute();
    await sp.insertInto('notes').values({ id: 2, title: 'b' }).execute();
    const back = await sp.rollbackToSavepoint('before`b').execute();
    const released = await back.savepoint('c').execute();
    await released.releaseSavepoint('c').execute();
    await trx.commit().execute();
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'savepoint `before``b`',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'rollback to `before``b`',
      'savepoint `c`',
      'release savepoint `c`',
      'COMMIT',
    ]);
    expect(connectionsOf(primary).size).toBe(1);
  });

  it('rolls back a transaction still open when its connection is released', async () => {
    const { router, primary } = make();
    const driver = new RwsplitKyselyDialect({ db: router }).createDriver();
    const connection = await driver.acquireConnection();
    await driver.beginTransaction(connection, {});
    await connection.executeQuery(CompiledQuery.raw('delete from notes'));
    await driver.releaseConnection(connection);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'delete from notes', 'ROLLBACK']);
  });

  it('refuses stream() with NotSupportedError before anything runs', async () => {
    const { router, primary, replicas } = make();
    const rows = kysely(router).selectFrom('notes').selectAll().stream();
    await expect(rows.next()).rejects.toMatchObject({ code: 'RWSPLIT_NOT_SUPPORTED' });
    expect([...primary.executed, ...replicas[0]!.executed]).toHaveLength(0);
  });

  it('refuses a db that is not a router or a session, when the dialect is made', () => {
    expect(() => new RwsplitKyselyDialect({ db: {} as Router })).toThrow(InvalidArgumentError);
  });

  it('is what MysqlDialect({ pool: router }) is not: that fails at once with CallbackApiError', async () => {
    const { router } = make();
    const db = new Kysely<Database>({
      dialect: new MysqlDialect({
        pool: router as unknown as ConstructorParameters<typeof MysqlDialect>[0]['pool'],
      }),
    });
    await expect(db.selectFrom('notes').selectAll().execute()).rejects.toBeInstanceOf(CallbackApiError);
  });
});

describe('RwsplitKyselyDialect over a session', () => {
  it('runs statements through the session, and leaves it pinned by its own rule, for its owner to release', async () => {
    const { router, primary, replicas } = make();
    const session = router.session();
    const db = kysely(session);
    await db.selectFrom('notes').selectAll().execute();
    await sql`SET @x = 1`.execute(db);
    expect(session.pinned).toBe(true);
    await db.selectFrom('notes').selectAll().execute();
    expect(replicas[0]!.sqls).toEqual(['select * from `notes`']);
    expect(primary.sqls).toEqual(['SET @x = 1', 'select * from `notes`']);
    await session.end();
  });

  it('runs a transaction in the session (a lease of its own while the session is not pinned)', async () => {
    const { router, primary } = make();
    const session = router.session();
    await kysely(session)
      .transaction()
      .execute((trx) => trx.deleteFrom('notes').execute());
    expect(session.pinned).toBe(false);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'delete from `notes`', 'COMMIT']);
    session.release();
  });
});
