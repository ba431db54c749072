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

describe('TimeoutQueue stamping starts it did not read (addAfter)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** An item that records when it expired, on the fake clock. */
  function timed(log: Array<[string, number]>, name: string): Expirable & { pending: boolean } {
    const entry = {
      deadline: 0,
      pending: true,
      expire: () => {
        entry.pending = false;
        log.push([name, Date.now()]);
      },
    };
    return entry;
  }

  it('never expires an item early, and at most one tick (a tenth of its wait) late', () => {
    vi.useFakeTimers();
    const clock = vi.fn(() => Date.now());
    const queue = new TimeoutQueue(0, clock);
    const log: Array<[string, number]> = [];
    const start = Date.now();
    queue.addAfter(timed(log, 'a'), 200);
    vi.advanceTimersByTime(7);
    const bAddedAt = Date.now();
    queue.addAfter(timed(log, 'b'), 200);
    vi.advanceTimersByTime(400);
    // Both were stamped by the same tick, so they share a deadline.
    const at = new Map(log);
    expect([...at.keys()].sort()).toEqual(['a', 'b']);
    const aAt = at.get('a') ?? 0;
    const bAt = at.get('b') ?? 0;
    expect(aAt - start).toBeGreaterThanOrEqual(200);
    expect(aAt - start).toBeLessThanOrEqual(200 + 20);
    expect(bAt - bAddedAt).toBeGreaterThanOrEqual(200);
    expect(bAt - bAddedAt).toBeLessThanOrEqual(200 + 20);
  });

  it('reads the clock once per tick, not once per item', () => {
    vi.useFakeTimers();
    const clock = vi.fn(() => Date.now());
    const queue = new TimeoutQueue(0, clock);
    const items = Array.from({ length: 1_000 }, () => timed([], 'x'));
    for (const entry of items) queue.addAfter(entry, 1_000);
    // One reading arms the tick; the rest ride on it.
    expect(clock).toHaveBeenCalledTimes(1);
    for (const entry of items) queue.remove(entry);
    expect(queue.length).toBe(0);
  });

  it('lets the item compute its own deadline from the stamp', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(0, () => Date.now());
    const log: Array<[string, number]> = [];
    const capped = timed(log, 'capped');
    const stamps: number[] = [];
    const start = Date.now();
    // A statement whose whole budget (50 ms) is shorter than the attempt it asked for (500 ms).
    capped.stamped = (now, afterMs) => {
      stamps.push(afterMs);
      return Math.min(now + 50, now + afterMs);
    };
    queue.addAfter(capped, 500);
    vi.advanceTimersByTime(1_000);
    expect(stamps).toEqual([500]);
    expect(log[0]?.[1]).toBeGreaterThanOrEqual(start + 50);
    expect(log[0]?.[1]).toBeLessThanOrEqual(start + 50 + 10);
  });

  it('forgets an item removed before its stamp, and stops ticking when nothing waits', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(0, () => Date.now());
    const log: Array<[string, number]> = [];
    const gone = timed(log, 'gone');
    queue.addAfter(gone, 100);
    gone.pending = false;
    queue.remove(gone);
    vi.advanceTimersByTime(500);
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves an unstamped item to an exact deadline (addAt) and stamps items mixed with exact ones', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(0, () => Date.now());
    const log: Array<[string, number]> = [];
    const start = Date.now();
    const moved = timed(log, 'moved');
    queue.addAfter(moved, 1_000);
    queue.addAt(timed(log, 'exact'), start + 30);
    queue.addAfter(timed(log, 'after'), 100);
    queue.addAt(moved, start + 60);
    vi.advanceTimersByTime(1_000);
    expect(log.map(([name]) => name)).toEqual(['exact', 'moved', 'after']);
    expect(log[1]?.[1]).toBe(start + 60);
  });

  it('ticks sooner for a shorter wait than the armed tick allows for', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(0, () => Date.now());
    const log: Array<[string, number]> = [];
    const start = Date.now();
    queue.addAfter(timed(log, 'long'), 10_000);
    queue.addAfter(timed(log, 'short'), 5);
    vi.advanceTimersByTime(20);
    expect(log[0]?.[0]).toBe('short');
    expect(log[0]?.[1]).toBeGreaterThanOrEqual(start + 5);
    expect(log[0]?.[1]).toBeLessThanOrEqual(start + 7);
  });

  it('gives a coarse clock that is never ahead and at most a tick behind while it ticks', () => {
    vi.useFakeTimers();
    const queue = new TimeoutQueue(0, () => Date.now());
    queue.addAfter(timed([], 'a'), 1_000);
    for (let step = 0; step < 50; step++) {
      vi.advanceTimersByTime(3);
      queue.addAfter(timed([], 'b'), 1_000);
      const coarse = queue.coarseNow();
      expect(coarse).toBeLessThanOrEqual(Date.now());
      expect(Date.now() - coarse).toBeLessThanOrEqual(10);
    }
  });
});
