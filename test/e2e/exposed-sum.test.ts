// The RYW check compares each server's /metrics with its status through exposedSum: a parser that
// missed series or matched labels loosely would let a missing or miscounted metric pass.
import { describe, expect, it } from 'vitest';
import { exposedSum } from './support/read-your-writes.js';

const EXPOSITION = [
  '# HELP rwsplit_consistency_waits_total Bounded waits on a replica.',
  '# TYPE rwsplit_consistency_waits_total counter',
  'rwsplit_consistency_waits_total{rwsplit_outcome="reached"} 3',
  'rwsplit_consistency_waits_total{rwsplit_outcome="timed_out"} 4',
  'rwsplit_consistency_waits_totals{rwsplit_outcome="reached"} 100',
  'rwsplit_routing_decisions_total{rwsplit_target="primary",rwsplit_fallback="replica behind session"} 5',
  'rwsplit_routing_decisions_total{rwsplit_target="primary",rwsplit_fallback="replica behind, session"} 7',
  'rwsplit_routing_decisions_total{rwsplit_target="replica"} 11',
].join('\n');

describe('exposedSum', () => {
  it('sums every series of the metric and no other metric sharing its prefix', () => {
    expect(exposedSum(EXPOSITION, 'rwsplit_consistency_waits_total')).toBe(7);
  });

  it('keeps only the series carrying the label, matched whole', () => {
    const label = 'rwsplit_fallback="replica behind session"';
    expect(exposedSum(EXPOSITION, 'rwsplit_routing_decisions_total', label)).toBe(5);
    expect(exposedSum(EXPOSITION, 'rwsplit_routing_decisions_total', 'rwsplit_fallback="replica"')).toBe(0);
  });

  it('counts a metric the exporter left out as 0, so a server that counted some fails the comparison', () => {
    expect(exposedSum(EXPOSITION, 'rwsplit_topology_changes_total')).toBe(0);
  });
});
