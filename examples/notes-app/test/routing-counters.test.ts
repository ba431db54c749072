import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { routingCounters } from '../src/dashboard/routing-counters.js';
import { AppMetrics } from '../src/metrics.js';

/** Feeds the router's instrument names into a real SDK pipeline, as the router would. */
async function countersAfter(record: (provider: MeterProvider) => void) {
  const metrics = new AppMetrics();
  record(metrics.meterProvider);
  const counters = routingCounters(await metrics.collect());
  await metrics.shutdown();
  return counters;
}

describe('routingCounters', () => {
  it('is all zero before the router routed anything', async () => {
    expect(await countersAfter(() => {})).toEqual({
      writes: 0,
      replicaReads: 0,
      primaryReads: 0,
      fallbacks: {},
      waits: { reached: 0, timedOut: 0, failed: 0 },
    });
  });

  it('splits decisions into replica reads, primary statements and fallbacks by why', async () => {
    const counters = await countersAfter((provider) => {
      const decisions = provider.getMeter('@rwsplit/router').createCounter('rwsplit.routing.decisions');
      decisions.add(5, { 'rwsplit.target': 'replica', 'rwsplit.reason': 'read' });
      decisions.add(3, { 'rwsplit.target': 'primary', 'rwsplit.reason': 'write' });
      decisions.add(1, { 'rwsplit.target': 'primary', 'rwsplit.reason': 'locking read' });
      decisions.add(2, {
        'rwsplit.target': 'primary',
        'rwsplit.reason': 'read',
        'rwsplit.fallback': 'replica behind session',
      });
      decisions.add(4, {
        'rwsplit.target': 'primary',
        'rwsplit.reason': 'read',
        'rwsplit.fallback': 'no healthy replica',
      });
      const waits = provider.getMeter('@rwsplit/router').createCounter('rwsplit.consistency.waits');
      waits.add(6, { 'rwsplit.outcome': 'reached' });
      waits.add(1, { 'rwsplit.outcome': 'timed_out' });
      waits.add(1, { 'rwsplit.outcome': 'failed' });
    });
    expect(counters).toEqual({
      writes: 4,
      replicaReads: 5,
      primaryReads: 6,
      fallbacks: { 'replica behind session': 2, 'no healthy replica': 4 },
      waits: { reached: 6, timedOut: 1, failed: 1 },
    });
  });
});
