import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Expirable, TimeoutQueue } from '../src/timeout-queue.js';

function item(log: string[], name: string): Expirable & { pending: boolean } {
  const entry = {
    deadline: 0,
    pending: true,
    expire: () => {
      entry.pending = false;
      log.push(name);
    },
  };
  return entry;
}

describe('TimeoutQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each pending item once its duration has passed, in order', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(100);
    queue.add(item(log, 'a'));
    vi.advanceTimersByTime(40);
    queue.add(item(log, 'b'));
    vi.advanceTimersByTime(59);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['a']);
    vi.advanceTimersByTime(40);
    expect(log).toEqual(['a', 'b']);
    expect(queue.size).toBe(0);
  });

  it('never expires items that settled on their own', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(50);
    const settled = item(log, 'settled');
    queue.add(settled);
    queue.add(item(log, 'waiting'));
    settled.pending = false;
    vi.advanceTimersByTime(50);
    expect(log).toEqual(['waiting']);
  });

  it('arms one timer for many waits', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(1_000);
    const log: string[] = [];
    const items = Array.from({ length: 5_000 }, (_, i) => item(log, String(i)));
    for (const entry of items) {
      queue.add(entry);
      entry.pending = false;
    }
    expect(vi.getTimerCount()).toBe(1);
    expect(queue.size).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
    expect(log).toEqual([]);
  });

  it('stops on clear()', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(10);
    queue.add(item(log, 'a'));
    queue.clear();
    vi.advanceTimersByTime(100);
    expect(log).toEqual([]);
  });
});
