import { afterEach, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, PrimaryUnavailableError, ReplicaUnavailableError } from '../src/index.js';
import { driverError } from './fake-driver.js';
import { type Rig, rig } from './setup.js';

let current: Rig | undefined;
function make(options: Parameters<typeof rig>[0] = {}): Rig {
  current = rig(options);
  return current;
}
afterEach(async () => {
  await current?.router.close();
  current = undefined;
});

function usedConnections(rigged: Rig): number[] {
  return [rigged.primary, ...rigged.replicas].flatMap((s) => s.executed.map((e) => e.connection));
}

describe('per-node pools', () => {
  it('reuses an idle connection', async () => {
    const r = make();
    await r.router.execute('DELETE FROM t');
    await r.router.execute('DELETE FROM t');
    expect(r.primary.connectAttempts).toBe(1);
    expect(usedConnections(r)).toEqual([1, 1]);
  });

  it('opens at most pool.max connections per node and queues the rest', async () => {
    const r = make({ pool: { max: 2 } });
    await Promise.all(Array.from({ length: 10 }, (_, i) => r.router.execute(`UPDATE t SET a = ${i}`)));
    expect(r.primary.connectAttempts).toBe(2);
    expect(r.primary.executed).toHaveLength(10);
  });

  it('destroys a connection whose socket closed instead of handing it out again', async () => {
    const r = make();
    await r.router.execute('DELETE FROM t');
    for (const connection of r.primary.connections) connection.serverClosed();
    await r.router.execute('DELETE FROM t');
    expect(usedConnections(r)).toEqual([1, 2]);
  });

  it('destroys a connection that failed mid-statement', async () => {
    const r = make();
    r.primary.failNext(/DELETE/, driverError('ECONNRESET', true));
    await expect(r.router.execute('DELETE FROM t')).rejects.toMatchObject({
      code: 'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
    });
    await r.router.execute('UPDATE t SET a = 1');
    expect(r.primary.executed.map((e) => e.connection)).toEqual([2]);
  });

  it('keeps a connection after an SQL error', async () => {
    const r = make();
    r.primary.failNext(/DELETE/, driverError('ER_NO_SUCH_TABLE', false, 1146));
    await expect(r.router.execute('DELETE FROM t')).rejects.toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
    await r.router.execute('UPDATE t SET a = 1');
    expect(r.primary.connectAttempts).toBe(1);
  });

  it('pings a connection idle past validateAfterIdleMs and replaces it if the ping fails', async () => {
    const r = make({ pool: { validateAfterIdleMs: 0 } });
    await r.router.execute('DELETE FROM t');
    // Only the idle connection's ping fails: under load the replacement may itself count as idle by the
    // time it is checked (validateAfterIdleMs 0) and be pinged too; that ping must succeed.
    r.primary.pingFailures = 1;
    // No wait: `0` pings before every reuse, however recent (the pool's coarse clock must not hide it).
    await r.router.execute('DELETE FROM t');
    expect(usedConnections(r)).toEqual([1, 2]);
  });

  it('does not ping a connection used moments ago', async () => {
    const r = make({ pool: { validateAfterIdleMs: 60_000 } });
    await r.router.execute('DELETE FROM t');
    r.primary.pingFails = true;
    await r.router.execute('DELETE FROM t');
    expect(usedConnections(r)).toEqual([1, 1]);
  });

  it('bounds a connect that never answers by connectTimeoutMs', async () => {
    const r = make({ pool: { connectTimeoutMs: 50 } });
    r.primary.hang = true;
    const started = performance.now();
    const error = await r.router.execute('DELETE FROM t').catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(PrimaryUnavailableError);
    expect((error as Error).cause).toMatchObject({ code: 'ETIMEDOUT' });
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('moves a read off a hung replica within the connect timeout', async () => {
    const r = make({ pool: { connectTimeoutMs: 50 } });
    r.replicas[0]!.hang = true;
    const [rows] = await r.router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'p' }]);
  });

  it('fails with AcquireTimeoutError when every connection stays busy', async () => {
    const r = make({ pool: { max: 1, acquireTimeoutMs: 50 } });
    const held = await r.router.getConnection();
    const error = await r.router.execute('DELETE FROM t').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error).toMatchObject({ code: 'RWSPLIT_ACQUIRE_TIMEOUT', retryable: true, node: 'primary' });
    held.release();
    await r.router.execute('DELETE FROM t');
  });

  it('hands a released connection straight to the caller waiting longest', async () => {
    const r = make({ pool: { max: 1 } });
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((i) => r.router.execute(`UPDATE t SET a = ${i}`).then(() => order.push(i))),
    );
    expect(order).toEqual([1, 2, 3, 4]);
    expect(r.primary.connectAttempts).toBe(1);
    expect(r.router.pools()[0]).toMatchObject({ used: 0, idle: 1, pending: 0 });
  });

  it('opens a new connection for a waiting caller when the busy one breaks', async () => {
    const r = make({ pool: { max: 1, acquireTimeoutMs: 5_000 } });
    const held = await r.router.getConnection();
    const waiting = r.router.execute('UPDATE t SET a = 1');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(r.router.pools()[0]?.pending).toBe(1);
    r.primary.failNext(/SELECT/, driverError('PROTOCOL_CONNECTION_LOST', true), true);
    await expect(held.query('SELECT 1')).rejects.toMatchObject({ code: 'RWSPLIT_QUERY_FAILED' });
    const started = performance.now();
    held.release();
    await waiting;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.primary.executed.at(-1)).toMatchObject({ sql: 'UPDATE t SET a = 1', connection: 2 });
  });

  it('survives an error event on an idle connection', async () => {
    const r = make();
    await r.router.execute('DELETE FROM t');
    for (const connection of r.primary.connections) connection.emit('error', driverError('ECONNRESET', true));
    await r.router.execute('DELETE FROM t');
    expect(usedConnections(r)).toEqual([1, 2]);
  });

  it('reports a replica connect failure as ReplicaUnavailableError when it cannot fall back', async () => {
    const r = make({ whenNoReplica: 'error' });
    r.replicas[0]!.refuse = true;
    await expect(r.router.query('SELECT 1')).rejects.toBeInstanceOf(ReplicaUnavailableError);
  });

  it('reports idle and used connections per node, back to idle after work', async () => {
    const r = make({ replicaCount: 2 });
    const work = Array.from({ length: 50 }, (_, i) =>
      i % 3 === 0 ? r.router.execute('UPDATE t SET a = 1') : r.router.query('SELECT 1'),
    );
    await Promise.all(work);
    for (const pool of r.router.pools()) {
      expect(pool.used).toBe(0);
      expect(pool.pending).toBe(0);
      expect(pool.idle).toBeGreaterThan(0);
    }
  });
});
