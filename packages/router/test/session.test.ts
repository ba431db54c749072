import { afterEach, describe, expect, it } from 'vitest';
import { HintRefusedError, InvalidArgumentError, SessionReleasedError } from '../src/index.js';
import { FakeConnection } from './fake-driver.js';
import { type Rig, rig } from './setup.js';

let current: Rig | undefined;
function make(options: Parameters<typeof rig>[0] = {}): Rig {
  current = rig(options);
  return current;
}
afterEach(async () => {
  if (current !== undefined) {
    for (const pool of current.router.pools()) expect(pool.used, `${pool.name} connections in use`).toBe(0);
  }
  await current?.router.close();
  current = undefined;
});

function connectionIds(r: Rig): number[] {
  return r.primary.executed.map((e) => e.connection);
}

describe('session()', () => {
  it('routes like the router until a statement carries session state', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SELECT 1');
    await session.execute('INSERT INTO t VALUES (1)');
    expect(session.pinned).toBe(false);
    expect(r.replicas[0]!.sqls).toEqual(['SELECT 1']);
    expect(r.primary.sqls).toEqual(['INSERT INTO t VALUES (1)']);
    session.release();
  });

  it('pins to one primary connection at the first session-state statement, for the rest of its life', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    expect(session.pinned).toBe(true);
    expect(session.node).toBe('primary');
    await session.query('SELECT @x');
    await session.query('SELECT * FROM notes');
    await session.query('CREATE TEMPORARY TABLE tmp (a INT)');
    await session.query('SELECT * FROM tmp');
    expect(r.replicas[0]!.executed).toHaveLength(0);
    expect(r.primary.sqls).toEqual([
      'SET @x := 1',
      'SELECT @x',
      'SELECT * FROM notes',
      'CREATE TEMPORARY TABLE tmp (a INT)',
      'SELECT * FROM tmp',
    ]);
    expect(new Set(connectionIds(r)).size).toBe(1);
    await session.end();
  });

  it('still refuses a replica hint on a write once pinned, and runs replica hints on its connection', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    await expect(session.query('/* rwsplit:replica */ UPDATE t SET a = @x')).rejects.toBeInstanceOf(
      HintRefusedError,
    );
    await session.query('SELECT 1', [], { target: 'replica' });
    expect(r.primary.sqls).toEqual(['SET @x := 1', 'SELECT 1']);
    await session.end();
  });

  it('resets a connection whose state changed before it goes back to the pool', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    const [connection] = [...r.primary.connections];
    await session.end();
    expect(connection!.resets).toBe(1);
    await r.router.execute('DELETE FROM t');
    expect(connectionIds(r)).toEqual([1, 1]);
  });

  it('destroys the connection when the driver cannot reset it', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    const [connection] = [...r.primary.connections];
    Object.defineProperty(connection, 'reset', { value: undefined });
    session.release();
    expect(connection!.closed).toBe(true);
    await r.router.execute('DELETE FROM t');
    expect(connectionIds(r)).toEqual([1, 2]);
  });

  it('refuses statements after release', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    session.release();
    session.release();
    await expect(session.query('SELECT @x')).rejects.toBeInstanceOf(SessionReleasedError);
    await expect(session.transaction(async () => {})).rejects.toBeInstanceOf(SessionReleasedError);
  });

  it('runs transactions on its pinned connection and stays pinned', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    await session.transaction(async (tx) => tx.execute('INSERT INTO t VALUES (@x)'));
    await session.query('SELECT @x');
    expect(r.primary.sqls).toEqual([
      'SET @x := 1',
      'START TRANSACTION',
      'INSERT INTO t VALUES (@x)',
      'COMMIT',
      'SELECT @x',
    ]);
    expect(new Set(connectionIds(r)).size).toBe(1);
    await session.end();
  });

  it('refuses a second transaction on the pinned connection while one runs', async () => {
    const r = make();
    const session = await r.router.getConnection();
    await session.transaction(async () => {
      await expect(session.transaction(async () => {})).rejects.toBeInstanceOf(InvalidArgumentError);
    });
    session.release();
  });

  it('runs unpinned transactions like the router does', async () => {
    const r = make();
    const session = r.router.session();
    await session.transaction(async (tx) => tx.query('SELECT 1'), { readOnly: true });
    expect(r.replicas[0]!.sqls).toEqual(['START TRANSACTION READ ONLY', 'SELECT 1', 'COMMIT']);
    expect(session.pinned).toBe(false);
    session.release();
  });

  it('gives the connection back if released while pinning', async () => {
    const r = make();
    const session = r.router.session();
    const pinning = session.query('SET @x := 1');
    session.release();
    await expect(pinning).rejects.toBeInstanceOf(SessionReleasedError);
    expect(r.primary.executed).toHaveLength(0);
  });
});

describe('session.lastNode', () => {
  it('names the node that answered the last statement, pinned or not', async () => {
    const r = make();
    const session = r.router.session();
    expect(session.lastNode).toBeUndefined();
    await session.query('SELECT 1');
    expect(session.lastNode).toBe('replica-1');
    await session.execute('INSERT INTO t VALUES (1)');
    expect(session.lastNode).toBe('primary');
    await session.query('SELECT 2');
    expect(session.lastNode).toBe('replica-1');
    await session.query('SET @x := 1');
    await session.query('SELECT @x');
    expect(session.lastNode).toBe('primary');
    await session.end();
  });
});

describe('getConnection()', () => {
  it('is a session pinned to the primary from the start', async () => {
    const r = make();
    const connection = await r.router.getConnection();
    expect(connection.pinned).toBe(true);
    await connection.query('SELECT 1');
    expect(r.primary.sqls).toEqual(['SELECT 1']);
    connection.release();
  });

  it("serves Drizzle's transaction flow: begin, query(options, params), commit, release", async () => {
    const r = make();
    const connection = await r.router.getConnection();
    await connection.query('begin');
    await connection.query({ sql: 'insert into t (a) values (?)', rowsAsArray: true }, [1]);
    await connection.execute('select a from t where a = ?', [1]);
    await connection.query('commit');
    const [conn] = [...r.primary.connections];
    connection.release();
    // Only complete transactions ran: the connection goes straight back, without a reset.
    expect(conn).toBeInstanceOf(FakeConnection);
    expect(conn!.resets).toBe(0);
    expect(r.primary.sqls).toEqual([
      'begin',
      'insert into t (a) values (?)',
      'select a from t where a = ?',
      'commit',
    ]);
    expect(r.primary.executed[1]?.values).toEqual([1]);
  });

  it('resets a connection released with its transaction still open', async () => {
    const r = make();
    const connection = await r.router.getConnection();
    await connection.query('START TRANSACTION');
    await connection.execute('UPDATE t SET a = 1');
    const [conn] = [...r.primary.connections];
    await connection.end();
    expect(conn!.resets).toBe(1);
  });

  it('keeps a ROLLBACK TO SAVEPOINT from counting as the end of the transaction', async () => {
    const r = make();
    const connection = await r.router.getConnection();
    await connection.query('BEGIN');
    await connection.query('SAVEPOINT a');
    await connection.query('ROLLBACK TO SAVEPOINT a');
    const [conn] = [...r.primary.connections];
    await connection.end();
    expect(conn!.resets).toBe(1);
  });

  it('keeps a ROLLBACK TO SAVEPOINT behind a comment from counting as the end of the transaction', async () => {
    const r = make();
    const connection = await r.router.getConnection();
    await connection.query('BEGIN');
    await connection.query('SAVEPOINT a');
    await connection.query('/* c */ ROLLBACK TO SAVEPOINT a');
    const [conn] = [...r.primary.connections];
    await connection.end();
    expect(conn!.resets).toBe(1);
  });

  it.each([
    ['COMMIT AND CHAIN'],
    ['ROLLBACK WORK AND CHAIN'],
    ["XA START 'x'"],
    ['SET autocommit = 0'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'],
    ['LOCK TABLES t WRITE'],
  ])('resets the connection after %s: it may hold a transaction, a lock or settings', async (sql) => {
    const r = make();
    const connection = await r.router.getConnection();
    await connection.query('BEGIN');
    await connection.query(sql);
    const [conn] = [...r.primary.connections];
    await connection.end();
    expect(conn!.resets).toBe(1);
  });

  it.each([['COMMIT'], ['/* done */ ROLLBACK'], ['CREATE TABLE t2 (a int)'], ['SET autocommit = 1']])(
    'gives the connection back as it is after BEGIN ... %s ended the transaction',
    async (sql) => {
      const r = make();
      const connection = await r.router.getConnection();
      await connection.query('BEGIN');
      await connection.execute('UPDATE t SET a = 1');
      await connection.query(sql);
      const [conn] = [...r.primary.connections];
      await connection.end();
      expect(conn!.resets).toBe(0);
    },
  );

  it('drops a connection the server closes after COMMIT RELEASE, and pins afresh for the next statement', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('BEGIN');
    const [first] = [...r.primary.connections];
    await session.query('COMMIT RELEASE');
    expect(session.pinned).toBe(false);
    expect(first!.closed).toBe(true);
    await session.query('SET @y := 2');
    expect(session.node).toBe('primary');
    await session.end();
  });

  it('runs START TRANSACTION READ ONLY on a replica, refuses writes inside, and unpins at its end', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('START TRANSACTION READ ONLY');
    expect(session.node).toBe('replica-1');
    await session.query('SELECT * FROM t');
    await expect(session.execute('UPDATE t SET a = 1')).rejects.toBeInstanceOf(HintRefusedError);
    await expect(session.query('SET @x := 1')).rejects.toBeInstanceOf(HintRefusedError);
    await session.query('COMMIT');
    expect(session.pinned).toBe(false);
    await session.execute('UPDATE t SET a = 2');
    expect(r.replicas[0]!.sqls).toEqual(['START TRANSACTION READ ONLY', 'SELECT * FROM t', 'COMMIT']);
    expect(r.primary.sqls).toEqual(['UPDATE t SET a = 2']);
    await session.end();
  });

  it('runs a read-only transaction on the connection it is pinned to when it already holds state', async () => {
    const r = make();
    const session = r.router.session();
    await session.query('SET @x := 1');
    await session.query('START TRANSACTION READ ONLY');
    await session.query('SELECT @x');
    await session.query('COMMIT');
    expect(session.node).toBe('primary');
    expect(r.replicas[0]!.executed).toHaveLength(0);
    await session.end();
  });

  it('supports await using', async () => {
    const r = make();
    {
      await using connection = await r.router.getConnection();
      await connection.query('SET @x := 1');
    }
    expect(r.router.pools()[0]?.used).toBe(0);
  });
});
