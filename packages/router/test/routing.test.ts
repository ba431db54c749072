import { describe, expect, it } from 'vitest';
import {
  HintRefusedError,
  InvalidArgumentError,
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  QueryFailedError,
  type Router,
  RwsplitError,
  SessionStateError,
  WriteOutcomeUnknownError,
} from '../src/index.js';
import { driverError } from './fake-driver.js';
import { rigPerTest } from './setup.js';

const make = rigPerTest();

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('routing by classification', () => {
  it('sends reads to a replica and writes to the primary', async () => {
    const { router, primary, replicas } = make();
    const [rows] = await router.query('SELECT * FROM notes WHERE id = ?', [1]);
    await router.execute('INSERT INTO notes (title) VALUES (?)', ['hi']);
    expect(rows).toEqual([{ server: 'r1' }]);
    expect(replicas[0]!.sqls).toEqual(['SELECT * FROM notes WHERE id = ?']);
    expect(primary.executed).toMatchObject([
      { kind: 'execute', sql: 'INSERT INTO notes (title) VALUES (?)', values: ['hi'] },
    ]);
  });

  it('sends locking reads, primary-only functions and unknown statements to the primary', async () => {
    const { router, primary, replicas } = make();
    await router.query('SELECT * FROM t FOR UPDATE');
    await router.query('SELECT LAST_INSERT_ID()');
    await router.query('FROBNICATE everything');
    expect(primary.executed).toHaveLength(3);
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('accepts mysql2 QueryOptions objects and hands them to mysql2 unchanged, with values', async () => {
    const { router, replicas, primary } = make();
    const options = { sql: 'SELECT * FROM t WHERE a = ?', rowsAsArray: true };
    await router.query(options, [7]);
    await router.execute({ sql: 'UPDATE t SET a = ?', values: [1] });
    expect(replicas[0]!.executed[0]).toMatchObject({ sql: options.sql, values: [7], kind: 'query' });
    expect(primary.executed[0]).toMatchObject({ sql: 'UPDATE t SET a = ?', values: [1], kind: 'execute' });
  });

  it('refuses a first argument without SQL text', async () => {
    const { router } = make();
    await expect(router.query({} as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(router.execute(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('routing hints', () => {
  it('follows a comment hint to the primary', async () => {
    const { router, primary } = make();
    await router.query('/* rwsplit:primary */ SELECT * FROM notes');
    expect(primary.executed).toHaveLength(1);
  });

  it('follows the target option, as third argument or property, over the comment', async () => {
    const { router, primary, replicas } = make();
    await router.query('SELECT 1', undefined, { target: 'primary' });
    await router.query({ sql: 'SELECT 2', target: 'primary' });
    await router.query('/* rwsplit:primary */ SELECT 3', [], { target: 'replica' });
    expect(primary.sqls).toEqual(['SELECT 1', 'SELECT 2']);
    expect(replicas[0]!.sqls).toEqual(['/* rwsplit:primary */ SELECT 3']);
  });

  it.each([
    ['a comment hint', (db: Router) => db.query('/* rwsplit:replica */ INSERT INTO t VALUES (1)')],
    ['the target option', (db: Router) => db.execute('UPDATE t SET a = 1', [], { target: 'replica' })],
    ['a target property', (db: Router) => db.query({ sql: 'SELECT * FROM t FOR UPDATE', target: 'replica' })],
    [
      'a hint on a primary-only read',
      (db: Router) => db.query('/* rwsplit:replica */ SELECT LAST_INSERT_ID()'),
    ],
  ])('refuses a replica asked for by %s on a statement that must run on the primary', async (_, run) => {
    const { router, primary, replicas } = make();
    const error = await rejection(run(router));
    expect(error).toBeInstanceOf(HintRefusedError);
    expect((error as HintRefusedError).code).toBe('RWSPLIT_HINT_REFUSED');
    expect((error as Error).message).toMatch(/must run on the primary/);
    expect(primary.executed).toHaveLength(0);
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('rejects a target that is neither primary nor replica', async () => {
    const { router } = make();
    await expect(router.query('SELECT 1', [], { target: 'standby' as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('session state on the shared API', () => {
  it.each([
    'SET @x := 1',
    'CREATE TEMPORARY TABLE tmp (a INT)',
    'BEGIN',
    'LOCK TABLES t WRITE',
    "SELECT GET_LOCK('a', 1)",
  ])('refuses %s with a typed error that points to session() and transaction()', async (sql) => {
    const { router, primary } = make();
    const error = await rejection(router.query(sql));
    expect(error).toBeInstanceOf(SessionStateError);
    expect((error as SessionStateError).code).toBe('RWSPLIT_SESSION_STATE');
    expect((error as Error).message).toMatch(/db\.session\(\) or db\.transaction\(\)/);
    expect(primary.executed).toHaveLength(0);
  });
});

describe('reads without a healthy replica', () => {
  it("fall back to the primary by default (whenNoReplica: 'primary')", async () => {
    const { router, primary, replicas } = make();
    replicas[0]!.refuse = true;
    for (let i = 0; i < 4; i++) await router.query(`SELECT ${i}`);
    expect(primary.sqls).toEqual(['SELECT 0', 'SELECT 1', 'SELECT 2', 'SELECT 3']);
    // Two failed connects open the breaker: later reads skip the replica without trying it.
    expect(replicas[0]!.connectAttempts).toBe(2);
  });

  it('fall back to the primary when no replica is configured', async () => {
    const { router, primary } = make({ replicaCount: 0 });
    await router.query('SELECT 1');
    expect(primary.sqls).toEqual(['SELECT 1']);
  });

  it("fail with NoReplicaAvailableError under whenNoReplica: 'error'", async () => {
    const { router, primary, replicas } = make({
      whenNoReplica: 'error',
      circuitBreaker: { failureThreshold: 1 },
    });
    replicas[0]!.refuse = true;
    const first = await rejection(router.query('SELECT 1'));
    expect(first).toMatchObject({ code: 'RWSPLIT_REPLICA_UNAVAILABLE', retryable: true, node: 'replica-1' });
    const second = await rejection(router.query('SELECT 1'));
    expect(second).toBeInstanceOf(NoReplicaAvailableError);
    expect(second).toMatchObject({ code: 'RWSPLIT_NO_REPLICA', retryable: true });
    expect(primary.executed).toHaveLength(0);
  });

  it('writes are unaffected by missing replicas', async () => {
    const { router, primary } = make({ whenNoReplica: 'error', replicaCount: 0 });
    await router.execute('DELETE FROM t');
    expect(primary.sqls).toEqual(['DELETE FROM t']);
  });
});

describe('retries', () => {
  it('retries a read once on another replica when the connection fails mid-read', async () => {
    const { router, replicas } = make({ replicaCount: 2 });
    replicas[0]!.failNext(/SELECT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'r2' }]);
  });

  it('retries a read on the primary when the only replica cannot be reached', async () => {
    const { router, primary, replicas } = make();
    replicas[0]!.refuse = true;
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'p' }]);
    expect(primary.sqls).toEqual(['SELECT 1']);
  });

  it('retries a read only once', async () => {
    const { router, primary, replicas } = make({ replicaCount: 2 });
    replicas[0]!.failNext(/SELECT/, driverError('ECONNRESET', true), true);
    replicas[1]!.failNext(/SELECT/, driverError('ECONNRESET', true), true);
    const error = await rejection(router.query('SELECT 1'));
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({ code: 'RWSPLIT_QUERY_FAILED', retryable: true, node: 'replica-2' });
    expect((error as QueryFailedError).cause).toMatchObject({ code: 'ECONNRESET' });
    expect(primary.executed).toHaveLength(0);
  });

  it('never retries a write, and says its outcome is unknown', async () => {
    const { router, primary } = make();
    primary.failNext(/INSERT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    const error = await rejection(router.execute('INSERT INTO t VALUES (1)'));
    expect(error).toBeInstanceOf(WriteOutcomeUnknownError);
    expect(error).toMatchObject({
      code: 'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
      retryable: false,
      node: 'primary',
      reason: 'connection lost',
    });
    expect((error as Error).message).toMatch(/may or may not have been applied/);
    expect(primary.connectAttempts).toBe(1);
  });

  it('does not retry a read hinted to the primary', async () => {
    const { router, primary, replicas } = make();
    primary.failNext(/SELECT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    const error = await rejection(router.query('/* rwsplit:primary */ SELECT 1'));
    expect(error).toMatchObject({ code: 'RWSPLIT_QUERY_FAILED', retryable: true });
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('passes SQL errors through unchanged and does not retry them', async () => {
    const { router, primary, replicas } = make({ replicaCount: 2 });
    const duplicate = driverError('ER_DUP_ENTRY', false, 1062);
    primary.failNext(/INSERT/, duplicate);
    expect(await rejection(router.execute('INSERT INTO t VALUES (1)'))).toBe(duplicate);
    const syntax = driverError('ER_PARSE_ERROR', false, 1064);
    replicas[0]!.failNext(/SELECT/, syntax);
    const error = await rejection(router.query('SELECT nonsense'));
    expect(error).toBe(syntax);
    expect(error).toMatchObject({ code: 'ER_PARSE_ERROR', errno: 1064 });
    expect(replicas[1]!.executed).toHaveLength(0);
  });
});

describe('an unreachable primary', () => {
  it('fails writes with a typed, retryable PrimaryUnavailableError carrying the driver error', async () => {
    const { router, primary } = make();
    primary.refuse = true;
    const error = await rejection(router.execute('INSERT INTO t VALUES (1)'));
    expect(error).toBeInstanceOf(PrimaryUnavailableError);
    expect(error).toBeInstanceOf(RwsplitError);
    expect(error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true, node: 'primary' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect((error as Error).message).toMatch(/not executed.*Retry/);
  });

  it('fails fast while its circuit breaker is open, without connecting', async () => {
    const { router, primary } = make({ circuitBreaker: { failureThreshold: 2, backoffMs: 60_000 } });
    primary.refuse = true;
    for (let i = 0; i < 5; i++) {
      await expect(router.execute('DELETE FROM t')).rejects.toBeInstanceOf(PrimaryUnavailableError);
    }
    expect(primary.connectAttempts).toBe(2);
    const error = await rejection(router.execute('DELETE FROM t'));
    expect((error as Error).message).toMatch(
      /2 connects failed in a row, last ECONNREFUSED; next attempt in \d+ ms/,
    );
  });
});

describe('weighted round robin over replicas', () => {
  it('spreads reads by weight, interleaved', async () => {
    const { router } = make({
      replicas: [
        { host: 'r1', name: 'replica-1', weight: 2 },
        { host: 'r2', name: 'replica-2', weight: 1 },
      ],
    });
    const seen: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      const [rows] = await router.query('SELECT 1');
      seen.push((rows as Array<{ server: string }>)[0]?.server);
    }
    expect(seen).toEqual(['r1', 'r2', 'r1', 'r1', 'r2', 'r1']);
  });
});
