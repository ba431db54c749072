import { describe, expect, it } from 'vitest';
import { RouterClosedError } from '../src/index.js';
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

  it('is idempotent, and end() is the same', async () => {
    const { router } = rig();
    await Promise.all([router.close(), router.close(), router.end()]);
    await router.close();
  });
});
