import { afterEach, describe, expect, it, vi } from 'vitest';
import { BreakerCount, CircuitBreaker } from '../src/circuit-breaker.js';
import { type Rig, rig } from './setup.js';

describe('CircuitBreaker', () => {
  const config = { failureThreshold: 3, backoffMs: 100, maxBackoffMs: 350 };

  it('counts the breakers of a set that are tripped (open or half-open), once each', () => {
    const count = new BreakerCount();
    const a = new CircuitBreaker(config, count);
    const b = new CircuitBreaker(config, count);
    for (let i = 0; i < 5; i++) a.recordFailure(i, new Error('down'));
    expect(count.tripped).toBe(1);
    for (let i = 0; i < 3; i++) b.recordFailure(i, new Error('down'));
    expect(count.tripped).toBe(2);
    // Half-open after the back-off: still tripped until a connect succeeds.
    expect(a.isOpen(10_000)).toBe(false);
    expect(count.tripped).toBe(2);
    a.recordSuccess();
    a.recordSuccess();
    expect(count.tripped).toBe(1);
    b.recordSuccess();
    expect(count.tripped).toBe(0);
  });

  it('stays closed below the failure threshold', () => {
    const breaker = new CircuitBreaker(config);
    breaker.recordFailure(0, new Error('a'));
    breaker.recordFailure(1, new Error('b'));
    expect(breaker.isOpen(2)).toBe(false);
    expect(breaker.consecutiveFailures).toBe(2);
  });

  it('opens at the threshold for backoffMs, then lets attempts through again', () => {
    const breaker = new CircuitBreaker(config);
    for (let i = 0; i < 3; i++) breaker.recordFailure(1_000, new Error(`e${i}`));
    expect(breaker.isOpen(1_000)).toBe(true);
    expect(breaker.isOpen(1_099)).toBe(true);
    expect(breaker.isOpen(1_100)).toBe(false);
    expect(breaker.retryAt).toBe(1_100);
    expect((breaker.lastError as Error).message).toBe('e2');
  });

  it('doubles the back-off on each failure while half-open, up to maxBackoffMs', () => {
    const breaker = new CircuitBreaker(config);
    const backoffs: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      breaker.recordFailure(now, new Error('down'));
      if (breaker.isOpen(now)) {
        backoffs.push(breaker.retryAt - now);
        now = breaker.retryAt;
      }
    }
    expect(backoffs).toEqual([100, 200, 350, 350]);
  });

  it('closes on the first success', () => {
    const breaker = new CircuitBreaker(config);
    for (let i = 0; i < 4; i++) breaker.recordFailure(0, new Error('down'));
    breaker.recordSuccess();
    expect(breaker.isOpen(0)).toBe(false);
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.lastError).toBeUndefined();
    breaker.recordFailure(0, new Error('again'));
    expect(breaker.isOpen(0)).toBe(false);
  });
});

describe('circuit breaker in the router', () => {
  let current: Rig | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await current?.router.close();
  });

  it('skips a replica whose connects keep failing, and tries it again after the back-off', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    current = rig({ circuitBreaker: { failureThreshold: 2, backoffMs: 1_000 } });
    const { router, primary, replicas } = current;
    const replica = replicas[0]!;
    replica.refuse = true;
    for (let i = 0; i < 5; i++) await router.query('SELECT 1');
    expect(replica.connectAttempts).toBe(2);
    expect(primary.executed).toHaveLength(5);
    expect(router.pools().find((p) => p.name === 'replica-1')?.healthy).toBe(false);

    replica.refuse = false;
    vi.setSystemTime(Date.now() + 1_000);
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'r1' }]);
    expect(router.pools().find((p) => p.name === 'replica-1')?.healthy).toBe(true);
  });

  it('reopens with a longer back-off when the first attempt after it fails', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    current = rig({ circuitBreaker: { failureThreshold: 1, backoffMs: 1_000 } });
    const { router, replicas } = current;
    replicas[0]!.refuse = true;
    await router.query('SELECT 1');
    vi.setSystemTime(Date.now() + 1_000);
    await router.query('SELECT 1');
    expect(replicas[0]!.connectAttempts).toBe(2);
    vi.setSystemTime(Date.now() + 1_500);
    await router.query('SELECT 1');
    expect(replicas[0]!.connectAttempts).toBe(2);
    vi.setSystemTime(Date.now() + 500);
    await router.query('SELECT 1');
    expect(replicas[0]!.connectAttempts).toBe(3);
  });
});
