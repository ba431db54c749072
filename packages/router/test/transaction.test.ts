import { afterEach, describe, expect, it } from 'vitest';
import {
  HintRefusedError,
  InvalidArgumentError,
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  type Transaction,
  TransactionEndedError,
  TransactionResolutionUnknownError,
} from '../src/index.js';
import { driverError } from './fake-driver.js';
import { type Rig, rig } from './setup.js';

let current: Rig | undefined;
function make(options: Parameters<typeof rig>[0] = {}): Rig {
  current = rig(options);
  return current;
}
afterEach(async () => {
  if (current !== undefined) expectAllReleased(current);
  await current?.router.close();
  current = undefined;
});

function expectAllReleased(r: Rig): void {
  for (const pool of r.router.pools()) expect(pool.used, `${pool.name} connections in use`).toBe(0);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('transaction()', () => {
  it('runs the callback on one primary connection between START TRANSACTION and COMMIT', async () => {
    const { router, primary, replicas } = make();
    const result = await router.transaction(async (tx) => {
      await tx.execute('INSERT INTO t VALUES (?)', [1]);
      await tx.query('SELECT * FROM t');
      await tx.query('/* rwsplit:replica */ SELECT 2', [], { target: 'replica' });
      return 'done';
    });
    expect(result).toBe('done');
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'INSERT INTO t VALUES (?)',
      'SELECT * FROM t',
      '/* rwsplit:replica */ SELECT 2',
      'COMMIT',
    ]);
    expect(new Set(primary.executed.map((e) => e.connection)).size).toBe(1);
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('rolls back and rethrows the very error when the callback throws', async () => {
    const { router, primary } = make();
    const boom = new Error('boom');
    const error = await rejection(
      router.transaction(async (tx) => {
        await tx.execute('INSERT INTO t VALUES (1)');
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'INSERT INTO t VALUES (1)', 'ROLLBACK']);
  });

  it('allows statements with session state inside', async () => {
    const { router, primary } = make();
    await router.transaction(async (tx) => {
      await tx.query('SET @x := 1');
      await tx.query('SELECT @x');
    });
    expect(primary.sqls).toEqual(['START TRANSACTION', 'SET @x := 1', 'SELECT @x', 'COMMIT']);
  });

  it('sets the isolation level right before starting', async () => {
    const { router, primary } = make();
    await router.transaction(async () => {}, { isolationLevel: 'SERIALIZABLE' });
    expect(primary.sqls).toEqual([
      'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
      'START TRANSACTION',
      'COMMIT',
    ]);
  });

  it.each([[{ isolationLevel: 'CHAOS' }], [{ readOnly: 'yes' }], ['readOnly']])(
    'refuses bad options %j before touching a connection',
    async (options) => {
      const { router, primary } = make();
      await expect(router.transaction(async () => {}, options as never)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      expect(primary.connectAttempts).toBe(0);
    },
  );

  it('runs readOnly transactions on a replica, READ ONLY, and refuses writes in them', async () => {
    const { router, primary, replicas } = make();
    const error = await rejection(
      router.transaction(
        async (tx) => {
          expect(tx.readOnly).toBe(true);
          expect(tx.node).toBe('replica-1');
          await tx.query('SELECT 1');
          await tx.execute('UPDATE t SET a = 1');
        },
        { readOnly: true },
      ),
    );
    expect(error).toBeInstanceOf(HintRefusedError);
    expect((error as Error).message).toMatch(/read-write transaction/);
    expect(replicas[0]!.sqls).toEqual(['START TRANSACTION READ ONLY', 'SELECT 1', 'ROLLBACK']);
    expect(primary.executed).toHaveLength(0);
  });

  it('runs a readOnly transaction on the primary when no replica is healthy', async () => {
    const { router, primary, replicas } = make();
    replicas[0]!.refuse = true;
    await router.transaction(async (tx) => tx.query('SELECT 1'), { readOnly: true });
    expect(primary.sqls).toEqual(['START TRANSACTION READ ONLY', 'SELECT 1', 'COMMIT']);
  });

  it("fails a readOnly transaction without replicas under whenNoReplica: 'error'", async () => {
    const { router } = make({ replicaCount: 0, whenNoReplica: 'error' });
    await expect(router.transaction(async () => {}, { readOnly: true })).rejects.toBeInstanceOf(
      NoReplicaAvailableError,
    );
  });

  it('refuses the handle once the transaction is over', async () => {
    const { router } = make();
    let leaked: Transaction | undefined;
    await router.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toBeInstanceOf(TransactionEndedError);
    await expect(leaked!.transaction(async () => {})).rejects.toBeInstanceOf(TransactionEndedError);
  });

  it('fails with a retryable PrimaryUnavailableError when the primary cannot be reached', async () => {
    const { router, primary } = make();
    primary.refuse = true;
    const error = await rejection(router.transaction(async () => 1));
    expect(error).toBeInstanceOf(PrimaryUnavailableError);
    expect(error).toMatchObject({ retryable: true });
  });

  it('reports a connection lost at START TRANSACTION as a retryable unavailable primary', async () => {
    const { router, primary } = make();
    primary.failNext(/START/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    let ran = false;
    const error = await rejection(
      router.transaction(async () => {
        ran = true;
      }),
    );
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(PrimaryUnavailableError);
    expect(error).toMatchObject({ retryable: true });
  });
});

describe('COMMIT failures', () => {
  it('says "outcome unknown" when the connection dies during COMMIT, and discards the connection', async () => {
    const { router, primary } = make();
    primary.failNext(/COMMIT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    const error = await rejection(router.transaction(async (tx) => tx.execute('INSERT INTO t VALUES (1)')));
    expect(error).toBeInstanceOf(TransactionResolutionUnknownError);
    expect(error).toMatchObject({ code: 'RWSPLIT_TRANSACTION_UNKNOWN', retryable: false, node: 'primary' });
    expect((error as Error).message).toMatch(/outcome is unknown/);
    expect((error as Error).cause).toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' });
    expect(primary.sqls).not.toContain('ROLLBACK');
    await router.execute('DELETE FROM t');
    expect(primary.executed.at(-1)?.connection).toBe(2);
  });

  it('rolls back and passes the error through when the server refuses COMMIT', async () => {
    const { router, primary } = make();
    const deadlock = driverError('ER_LOCK_DEADLOCK', false, 1213);
    primary.failNext(/COMMIT/, deadlock);
    const error = await rejection(router.transaction(async (tx) => tx.execute('UPDATE t SET a = 1')));
    expect(error).toBe(deadlock);
    expect(primary.sqls).toEqual(['START TRANSACTION', 'UPDATE t SET a = 1', 'ROLLBACK']);
  });

  it('discards the connection when ROLLBACK fails, and still rethrows the callback error', async () => {
    const { router, primary } = make();
    primary.failNext(/ROLLBACK/, driverError('ER_UNKNOWN', false, 1105));
    const boom = new Error('boom');
    const error = await rejection(
      router.transaction(async () => {
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    await router.execute('DELETE FROM t');
    expect(primary.executed.at(-1)?.connection).toBe(2);
  });
});

describe('nested transactions', () => {
  it('nest through savepoints, released on success', async () => {
    const { router, primary } = make();
    await router.transaction(async (tx) => {
      await tx.execute('INSERT INTO t VALUES (1)');
      const inner = await tx.transaction(async (nested) => {
        await nested.execute('INSERT INTO t VALUES (2)');
        return 'inner';
      });
      expect(inner).toBe('inner');
    });
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'INSERT INTO t VALUES (1)',
      'SAVEPOINT rwsplit_sp_1_1',
      'INSERT INTO t VALUES (2)',
      'RELEASE SAVEPOINT rwsplit_sp_1_1',
      'COMMIT',
    ]);
  });

  it('roll back to the savepoint on throw and let the outer transaction go on', async () => {
    const { router, primary } = make();
    await router.transaction(async (tx) => {
      await expect(
        tx.transaction(async (nested) => {
          await nested.execute('INSERT INTO t VALUES (2)');
          await nested.transaction(async (deeper) => deeper.execute('INSERT INTO t VALUES (3)'));
          throw new Error('undo 2 and 3');
        }),
      ).rejects.toThrow('undo 2 and 3');
      await tx.execute('INSERT INTO t VALUES (4)');
    });
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'SAVEPOINT rwsplit_sp_1_1',
      'INSERT INTO t VALUES (2)',
      'SAVEPOINT rwsplit_sp_2_1',
      'INSERT INTO t VALUES (3)',
      'RELEASE SAVEPOINT rwsplit_sp_2_1',
      'ROLLBACK TO SAVEPOINT rwsplit_sp_1_1',
      'INSERT INTO t VALUES (4)',
      'COMMIT',
    ]);
  });

  it('roll back everything when the nested error escapes the outer callback', async () => {
    const { router, primary } = make();
    await expect(
      router.transaction(async (tx) => {
        await tx.transaction(async () => {
          throw new Error('escapes');
        });
      }),
    ).rejects.toThrow('escapes');
    expect(primary.sqls).toEqual([
      'START TRANSACTION',
      'SAVEPOINT rwsplit_sp_1_1',
      'ROLLBACK TO SAVEPOINT rwsplit_sp_1_1',
      'ROLLBACK',
    ]);
  });

  it('end the nested handle with its scope', async () => {
    const { router } = make();
    await router.transaction(async (tx) => {
      let inner: Transaction | undefined;
      await tx.transaction(async (nested) => {
        inner = nested;
      });
      await expect(inner!.query('SELECT 1')).rejects.toBeInstanceOf(TransactionEndedError);
      await tx.query('SELECT 1');
    });
  });
});

describe('connections that transactions leave state on', () => {
  it('resets a connection whose transaction set a variable or took a lock before it is reused', async () => {
    const r = rig();
    await r.router.transaction(async (tx) => {
      await tx.query('SET @x := 1');
      await tx.query('LOCK TABLES t WRITE');
    });
    const [conn] = [...r.primary.connections];
    expect(conn!.resets).toBe(1);
    await r.router.transaction(async (tx) => {
      await tx.execute('UPDATE t SET a = 1');
    });
    // A clean transaction goes back as it is.
    expect(conn!.resets).toBe(1);
    await r.router.close();
  });

  it('resets a connection on which the callback committed and chained itself', async () => {
    const r = rig();
    await r.router.transaction(async (tx) => {
      await tx.query('COMMIT AND CHAIN');
    });
    expect([...r.primary.connections][0]!.resets).toBe(1);
    await r.router.close();
  });
});
