import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** What the dashboard shows of the router's routing decisions since this app server started. */
export interface RoutingCounters {
  /**
   * Statements routed to the primary because they must run there: writes, DDL, locking reads,
   * transactions, and anything sent there by a hint or the `target` option.
   */
  writes: number;
  /** Reads routed to a replica (a read that then failed there counts too: the router counts decisions). */
  replicaReads: number;
  /** Reads that wanted a replica but ran on the primary. */
  primaryReads: number;
  /** `primaryReads` by why: `no healthy replica`, `replica behind session`, `replica failed` ... */
  fallbacks: Record<string, number>;
  /** Read-your-writes waits on a replica for the session's last write. */
  waits: { reached: number; timedOut: number; failed: number };
}

const DECISIONS = 'rwsplit.routing.decisions';
const WAITS = 'rwsplit.consistency.waits';

/** Sums the router's counters (`rwsplit.routing.decisions`, `rwsplit.consistency.waits`) into dashboard numbers. */
export function routingCounters(metrics: ResourceMetrics): RoutingCounters {
  const counters: RoutingCounters = {
    writes: 0,
    replicaReads: 0,
    primaryReads: 0,
    fallbacks: {},
    waits: { reached: 0, timedOut: 0, failed: 0 },
  };
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name;
      if (name !== DECISIONS && name !== WAITS) continue;
      for (const point of metric.dataPoints) {
        const value = typeof point.value === 'number' ? point.value : 0;
        const attributes = point.attributes;
        if (name === WAITS) {
          const outcome = attributes['rwsplit.outcome'];
          if (outcome === 'reached') counters.waits.reached += value;
          else if (outcome === 'timed_out') counters.waits.timedOut += value;
          else counters.waits.failed += value;
          continue;
        }
        const fallback = attributes['rwsplit.fallback'];
        if (typeof fallback === 'string') {
          counters.primaryReads += value;
          counters.fallbacks[fallback] = (counters.fallbacks[fallback] ?? 0) + value;
        } else if (attributes['rwsplit.target'] === 'replica') {
          counters.replicaReads += value;
        } else {
          counters.writes += value;
        }
      }
    }
  }
  return counters;
}
