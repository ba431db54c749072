import type { NodeStatus } from '@rwsplit/router';
import { describe, expect, it } from 'vitest';
import { LagHistory } from '../src/dashboard/lag-history.js';

function node(name: string, role: NodeStatus['role'], lagMs: number | null): NodeStatus {
  return {
    name,
    host: '127.0.0.1',
    port: 3306,
    role,
    reachable: true,
    lagMs,
    inRotation: role === 'replica',
    checkedAt: 1,
  };
}

describe('LagHistory', () => {
  it('records each replica by name and leaves the primary out', () => {
    const history = new LagHistory();
    history.record(
      [
        node('db-primary', 'primary', null),
        node('db-replica-1', 'replica', 12),
        node('db-replica-2', 'unknown', null),
      ],
      1_000,
    );
    expect(history.samples()).toEqual([{ at: 1_000, lagMs: { 'db-replica-1': 12, 'db-replica-2': null } }]);
  });

  it('keeps only the samples inside the window, oldest first', () => {
    const history = new LagHistory(60_000, 1_000);
    for (let at = 0; at <= 90_000; at += 1_000)
      history.record([node('db-replica-1', 'replica', at / 1000)], at);
    const samples = history.samples();
    expect(samples[0]?.at).toBe(30_000);
    expect(samples.at(-1)?.at).toBe(90_000);
    expect(samples).toHaveLength(61);
  });

  it('samples on its own timer until stopped', async () => {
    const history = new LagHistory(60_000, 10);
    let calls = 0;
    history.start(() => {
      calls++;
      return [node('db-replica-1', 'replica', calls)];
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    history.stop();
    const seen = calls;
    expect(seen).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(calls).toBe(seen);
    expect(history.samples()).toHaveLength(seen);
  });
});
