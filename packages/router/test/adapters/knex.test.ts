import knex, { type Knex } from 'knex';
import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { type RwsplitKnexConnection, rwsplitPool } from '../../src/adapters/knex.js';
import { knexControl } from '../../src/adapters/knex-control.js';
import {
  HintRefusedError,
  InvalidArgumentError,
  NotSupportedError,
  type Router,
  RwsplitError,
  type Session,
  SessionStateError,
} from '../../src/index.js';
import type { FakeServer } from '../fake-driver.js';
import { type Rig, rig, until } from '../setup.js';

let current: Rig | undefined;
const instances: Knex[] = [];
function make(): Rig {
  current = rig();
  for (const server of [current.primary, ...current.replicas]) server.reply = replyFor(server);
  return current;
}
afterEach(async () => {
  for (const instance of instances.splice(0)) await instance.destroy();
  if (current !== undefined) {
    for (const pool of current.router.pools()) expect(pool.used, `${pool.name} connections in use`).toBe(0);
  }
  await current?.router.close();
  current = undefined;
});

function replyFor(server: FakeServer): FakeServer['reply'] {
  return (text) =>
    /^\s*(insert|update|delete)/i.test(text)
      ? ({ affectedRows: 1, insertId: 7, changedRows: 1 } as unknown as QueryResult)
      : ([{ id: 1, title: server.name }] as unknown as QueryResult);
}

function knexOver(db: Router | Session | (() => Router | Session), options: Knex.Config = {}): Knex {
  // The type annotation is part of the test: the pool is what knex's own typings accept as connectionPool.
  const config: Knex.Config = { client: 'mysql2', connectionPool: rwsplitPool(db), ...options };
  const instance = knex(config);
  instances.push(instance);
  return instance;
}

function connectionsOf(server: FakeServer): Set<number> {
  return new Set(server.executed.map((e) => e.connection));
}

describe('rwsplitPool over the router', () => {
  it('routes each query on its own: selects to the replica, writes to the primary', async () => {
    const { router, primary, replicas } = make();
    const db = knexOver(router);
    expect(await db('notes').where({ id: 1 }).first()).toEqual({ id: 1, title: 'r1' });
    expect(await db('notes').insert({ id: 7, title: 'x' })).toEqual([7]);
    expect(await db('notes').where({ id: 7 }).update({ title: 'y' })).toBe(1);
    expect(replicas[0]!.sqls).toEqual(['select * from `notes` where `id` = ? limit ?']);
    expect(primary.sqls).toEqual([
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'update `notes` set `title` = ? where `id` = ?',
    ]);
  });

  it('refuses connection state outside a transaction with SessionStateError, as the router does', async () => {
    const { router, primary } = make();
    const error = await knexOver(router)
      .raw('SET @x = 1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStateError);
    expect(error).toMatchObject({ code: 'RWSPLIT_SESSION_STATE' });
    // A BEGIN of one's own is refused the same way: only knex's transactions open one.
    await expect(knexOver(router).raw('BEGIN')).rejects.toBeInstanceOf(SessionStateError);
    expect(primary.executed).toHaveLength(0);
  });

  it('lets a target option send a read to the primary', async () => {
    const { router, primary } = make();
    await knexOver(router)('notes').options({ target: 'primary' });
    expect(primary.sqls).toEqual(['select * from `notes`']);
  });

  it('runs knex.transaction() in a router transaction on one primary connection', async () => {
    const { router, primary, replicas } = make();
    const result = await knexOver(router).transaction(async (trx) => {
      await trx('notes').insert({ id: 1, title: 'a' });
      await trx.raw('SET @x = 1');
      return trx('notes').select();
    });
    expect(result).toEqual([{ id: 1, title: 'p' }]);
    // Knex's own BEGIN; and COMMIT; are answered by the adapter: the router sends its own.
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'SET @x = 1',
      'select * from `notes`',
      'COMMIT',
    ]);
    expect(connectionsOf(primary).size).toBe(1);
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('rolls back when the callback throws, and knex rejects with its error', async () => {
    const { router, primary } = make();
    const boom = new Error('boom');
    await expect(
      knexOver(router).transaction(async (trx) => {
        await trx('notes').del();
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'delete from `notes`', 'ROLLBACK']);
  });

  it('runs a transaction provider (await knex.transaction(), then commit())', async () => {
    const { router, primary } = make();
    const trx = await knexOver(router).transaction();
    await trx('notes').del();
    await trx.commit();
    expect(primary.sqls).toEqual(['START TRANSACTION', 'delete from `notes`', 'COMMIT']);
  });

  it('runs { readOnly: true } on a replica, with the isolation level, and refuses writes there', async () => {
    const { router, primary, replicas } = make();
    const db = knexOver(router);
    const rows = await db.transaction((trx) => trx('notes').select(), {
      readOnly: true,
      isolationLevel: 'read committed',
    });
    expect(rows).toEqual([{ id: 1, title: 'r1' }]);
    await expect(db.transaction((trx) => trx('notes').del(), { readOnly: true })).rejects.toBeInstanceOf(
      HintRefusedError,
    );
    expect(replicas[0]!.sqls).toEqual([
      'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
      'START TRANSACTION READ ONLY',
      'select * from `notes`',
      'COMMIT',
      'START TRANSACTION READ ONLY',
      'ROLLBACK',
    ]);
    expect(primary.executed).toHaveLength(0);
  });

  it('runs nested transactions as savepoints on the same connection', async () => {
    const { router, primary } = make();
    await knexOver(router).transaction(async (trx) => {
      await trx.transaction((inner) => inner('notes').insert({ id: 1, title: 'kept' }));
      await trx
        .transaction(async (inner) => {
          await inner('notes').insert({ id: 2, title: 'undone' });
          throw new Error('undo');
        })
        .catch(() => {});
    });
    expect(primary.sqls.map((s) => s.replace(/trx\d+/, 'trxN'))).toEqual([
      'START TRANSACTION',
      'SAVEPOINT trxN;',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'RELEASE SAVEPOINT trxN;',
      'SAVEPOINT trxN;',
      'insert into `notes` (`id`, `title`) values (?, ?)',
      'ROLLBACK TO SAVEPOINT trxN',
      'COMMIT',
    ]);
    expect(connectionsOf(primary).size).toBe(1);
  });

  it('fails stream() on the stream with NotSupportedError, and gives the connection back', async () => {
    const { router, primary, replicas } = make();
    const stream = knexOver(router)('notes').select().stream();
    const error = await new Promise((resolve) => stream.on('error', resolve));
    expect(error).toBeInstanceOf(NotSupportedError);
    expect(error).toMatchObject({ code: 'RWSPLIT_NOT_SUPPORTED' });
    expect([...primary.executed, ...replicas[0]!.executed]).toHaveLength(0);
  });

  it('rolls back a transaction still open when knex lets go of its connection (destroy after a timeout)', async () => {
    const { router, primary } = make();
    const pool = rwsplitPool(router);
    const connection = await new Promise<RwsplitKnexConnection>((resolve, reject) =>
      pool.getConnection((error, c) => (c === undefined ? reject(error) : resolve(c))),
    );
    // What knex's Transaction does before its BEGIN.
    connection.__knexTxId = 'trx1';
    await new Promise((resolve, reject) =>
      connection.query({ sql: 'BEGIN;' }, [], (error) => (error ? reject(error) : resolve(undefined))),
    );
    connection.destroy();
    await until(() => primary.sqls.includes('ROLLBACK'));
    expect(primary.sqls).toEqual(['START TRANSACTION', 'ROLLBACK']);
    const after = await new Promise((resolve) => connection.query('SELECT 1', [], resolve));
    expect(after).toMatchObject({ code: 'RWSPLIT_SESSION_RELEASED' });
  });

  it("refuses knex's 'snapshot' isolation level, which MySQL does not have", async () => {
    const { router } = make();
    await expect(
      knexOver(router).transaction((trx) => trx('notes').select(), { isolationLevel: 'snapshot' }),
    ).rejects.toBeInstanceOf(NotSupportedError);
  });

  it('refuses a db that is not a router or a session, when the pool is made', () => {
    expect(() => rwsplitPool({} as Router)).toThrow(InvalidArgumentError);
  });
});

describe('rwsplitPool over a session or a function', () => {
  it('runs statements through the session: connection state pins it, by its own rule', async () => {
    const { router, primary, replicas } = make();
    const session = router.session();
    const db = knexOver(session);
    await db('notes').select();
    await db.raw('SET @x = 1');
    expect(session.pinned).toBe(true);
    await db('notes').select();
    expect(replicas[0]!.sqls).toEqual(['select * from `notes`']);
    expect(primary.sqls).toEqual(['SET @x = 1', 'select * from `notes`']);
    await session.end();
  });

  it('asks the function for the client at each query, so one knex serves every request', async () => {
    const { router, primary } = make();
    const sessions = [router.session(), router.session()];
    let next = 0;
    const db = knexOver(() => sessions[next++ % 2]!);
    await db.raw('SET @x = 1');
    await db('notes').select();
    await db('notes').select();
    // The first session pinned itself at the SET; the second never did, so its read went to the replica.
    expect(sessions.map((s) => s.pinned)).toEqual([true, false]);
    expect(primary.sqls).toEqual(['SET @x = 1', 'select * from `notes`']);
    for (const session of sessions) await session.end();
  });

  it('hands a failing function’s error to knex as the acquire error', async () => {
    make();
    // Knex logs every acquire error as a warning; these are expected.
    const log = { warn: () => {} };
    const db = knexOver(
      () => {
        throw new RangeError('no request');
      },
      { log },
    );
    await expect(db('notes').select()).rejects.toThrow('no request');
    const bad = knexOver(() => ({}) as Router, { log });
    await expect(bad('notes').select()).rejects.toBeInstanceOf(RwsplitError);
  });
});

describe('knexControl', () => {
  it.each([
    ['BEGIN;', { kind: 'begin' }],
    [' begin ', { kind: 'begin' }],
    ['COMMIT;', { kind: 'commit' }],
    ['ROLLBACK', { kind: 'rollback' }],
    ['SET TRANSACTION READ ONLY;', { kind: 'mode', readOnly: true }],
    [
      'SET TRANSACTION ISOLATION LEVEL read committed;',
      { kind: 'mode', readOnly: false, isolationLevel: 'READ COMMITTED' },
    ],
    [
      'SET TRANSACTION ISOLATION LEVEL serializable READ ONLY;',
      { kind: 'mode', readOnly: true, isolationLevel: 'SERIALIZABLE' },
    ],
  ])('reads %j as knex writes it', (text, expected) => {
    expect(knexControl(text)).toEqual(expected);
  });

  it.each([
    'SAVEPOINT trx2;',
    'RELEASE SAVEPOINT trx2;',
    'ROLLBACK TO SAVEPOINT trx2',
    'COMMIT AND CHAIN',
    'SET TRANSACTION',
    'SET TRANSACTION ISOLATION LEVEL chaos',
    'START TRANSACTION',
    'select 1',
    `select ${'x'.repeat(200)}`,
  ])('leaves %j alone', (text) => {
    expect(knexControl(text)).toBeUndefined();
  });

  it("refuses the 'snapshot' level", () => {
    expect(() => knexControl('SET TRANSACTION ISOLATION LEVEL snapshot;')).toThrow(NotSupportedError);
  });
});
