import { describe, expect, it } from 'vitest';
import { CallbackApiError, RouterClosedError, WriteOutcomeUnknownError } from '../src/index.js';
import { rig } from './setup.js';

describe('close()', () => {
  it('closes every pooled connection', async () => {
    const { router, primary, replicas } = rig({ pool: { min: 0 } });
    await router.query('SELECT 1');
    await router.execute('DELETE FROM t');
    expect(primary.connections.size).toBe(1);
    await router.close();
    expect(primary.connections.size).toBe(0);
    expect(replicas[0]!.connections.size).toBe(0);
    expect(router.closed).toBe(true);
  });

  it('fails every later call with RouterClosedError', async () => {
    const { router } = rig();
    await router.close();
    const calls = [
      () => router.query('SELECT 1'),
      () => router.execute('INSERT INTO t VALUES (1)'),
      () => router.transaction(async () => {}),
      () => router.getConnection(),
      () => router.session().query('SELECT 1'),
      () => router.session().query('SET @x := 1'),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RouterClosedError);
      expect(error).toMatchObject({ code: 'RWSPLIT_CLOSED', retryable: false });
    }
  });

  it('lets running statements finish first', async () => {
    const { router, primary } = rig();
    let finish: () => void = () => {};
    primary.reply = () =>
      new Promise((resolve) => {
        finish = () => resolve([]);
      });
    const running = router.execute('UPDATE t SET a = 1');
    await new Promise((resolve) => setTimeout(resolve, 5));
    let closed = false;
    const closing = router.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(closed).toBe(false);
    finish();
    await running;
    await closing;
    expect(closed).toBe(true);
  });

  it('finishes within timeouts.closeMs with sessions still out, destroys them and says how many', async () => {
    const warnings: Array<Record<string, unknown> | undefined> = [];
    const logger = {
      info() {},
      warn: (_: string, fields?: Record<string, unknown>) => warnings.push(fields),
    };
    const { router, primary } = rig({ timeouts: { closeMs: 50 }, logger });
    const leaked = await router.getConnection();
    await leaked.query('SELECT 1');
    const started = performance.now();
    const report = await router.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(report).toEqual({ destroyedConnections: 1, abortedStatements: 0 });
    expect(warnings).toEqual([{ destroyedConnections: 1, abortedStatements: 0 }]);
    expect(primary.connections.size).toBe(0);
    // The leaked session's owner gets a clear error, not a hang.
    await expect(leaked.query('SELECT 2')).rejects.toThrow();
    leaked.release();
  });

  it('fails a statement that never ends once the grace period is over', async () => {
    const { router, primary, replicas } = rig({ timeouts: { closeMs: 30, writeMs: 60_000, readMs: 60_000 } });
    primary.hangNext(/UPDATE/);
    replicas[0]!.hangNext(/SELECT/);
    const write = router.execute('UPDATE t SET a = 1');
    const read = router.query('SELECT 1');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await router.close();
    // The write was sent: it may have been applied. The read changed nothing.
    await expect(write).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    await expect(read).rejects.toBeInstanceOf(RouterClosedError);
    expect(report.abortedStatements).toBe(2);
  });

  it('is idempotent, and end() is the same', async () => {
    const { router } = rig();
    await Promise.all([router.close(), router.close(), router.end()]);
    await router.close();
  });
});

describe("mysql2's callback API", () => {
  it('fails getConnection(callback) at once, as Kysely calls it, and takes no connection', async () => {
    const { router, primary } = rig();
    const kyselyStyle = new Promise((resolve, reject) => {
      // Kysely's MysqlDialect: pool.getConnection((err, connection) => ...)
      (router.getConnection as unknown as (cb: (e: unknown) => void) => void)((error) =>
        error ? reject(error) : resolve(undefined),
      );
    });
    await expect(kyselyStyle).rejects.toBeInstanceOf(CallbackApiError);
    await expect(kyselyStyle).rejects.toMatchObject({ code: 'RWSPLIT_CALLBACK_API' });
    expect(primary.connectAttempts).toBe(0);
    // close() then finishes at once: nothing was leaked.
    const report = await router.close();
    expect(report.destroyedConnections).toBe(0);
  });

  it.each([
    [
      'query with a callback as values',
      (r: ReturnType<typeof rig>['router']) => r.query('SELECT 1', (() => {}) as never),
    ],
    [
      'execute with a callback as options',
      (r: ReturnType<typeof rig>['router']) => r.execute('SELECT 1', [], (() => {}) as never),
    ],
  ])('throws CallbackApiError for %s', async (_, call) => {
    const { router, replicas } = rig();
    expect(() => call(router)).toThrow(CallbackApiError);
    expect(replicas[0]!.executed).toHaveLength(0);
    await router.close();
  });
});
