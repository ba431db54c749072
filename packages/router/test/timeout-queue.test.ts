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

describe('TimeoutQueue with deadlines of their own', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the timer on the earliest deadline when an expiring item queues a later one', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(100);
    const retry = item(log, 'retry');
    const first: Expirable & { pending: boolean } = {
      deadline: 0,
      pending: true,
      expire: () => {
        first.pending = false;
        log.push('first');
        // A statement's retry is queued from inside its own expiry, with a far deadline.
        queue.addAt(retry, Date.now() + 500);
      },
    };
    queue.addAt(first, Date.now() + 100);
    queue.addAt(item(log, 'second'), Date.now() + 110);
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['first']);
    vi.advanceTimersByTime(10);
    expect(log).toEqual(['first', 'second']);
    vi.advanceTimersByTime(490);
    expect(log).toEqual(['first', 'second', 'retry']);
  });

  it('ignores an entry whose item was queued again with another deadline', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(100);
    const again = item(log, 'again');
    queue.addAt(again, Date.now() + 50);
    queue.addAt(again, Date.now() + 200);
    vi.advanceTimersByTime(60);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(140);
    expect(log).toEqual(['again']);
  });

  it('orders deadlines that arrive out of order', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(100);
    queue.addAt(item(log, 'late'), Date.now() + 300);
    queue.addAt(item(log, 'early'), Date.now() + 100);
    queue.addAt(item(log, 'middle'), Date.now() + 200);
    vi.advanceTimersByTime(300);
    expect(log).toEqual(['early', 'middle', 'late']);
  });
});

describe('TimeoutQueue bookkeeping', () => {
  it('forgets a removed item at once, so a finished statement is not kept until its deadline', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const queue = new TimeoutQueue(30_000);
    const items = Array.from({ length: 1_000 }, (_, i) => item(log, String(i)));
    for (const entry of items) queue.add(entry);
    for (const entry of items.slice(0, 999)) {
      entry.pending = false;
      queue.remove(entry);
    }
    expect(queue.length).toBe(1);
    vi.advanceTimersByTime(30_000);
    expect(log).toEqual(['999']);
    expect(queue.length).toBe(0);
    vi.useRealTimers();
  });
});
