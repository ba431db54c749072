/** The longest a stamping tick waits (see `TimeoutQueue.addAfter`). */
const MAX_TICK_MS = 10;
/** How far `TimeoutQueue.coarseNow()` may be behind the clock (one tick; more only while the event loop is late). */
export const COARSE_CLOCK_SLACK_MS = MAX_TICK_MS;

/** Something with a deadline that may settle on its own first. */
export interface Expirable {
  /** On the queue's clock; set by the queue (`add`) or by the caller (`addAt`). */
  deadline: number;
  /** False once it settled (or expired). */
  readonly pending: boolean;
  /** Called once, at the deadline, if still pending and still queued. */
  expire(): void;
  /**
   * Told when an item queued with `addAfter` is stamped (`now`, on the queue's clock) and how long it
   * asked for; returns its deadline. Without it the deadline is `now + afterMs`.
   */
  stamped?(now: number, afterMs: number): number;
  /** @internal What `addAfter` asked for while the item waits for its stamp; undefined once stamped. */
  unstampedMs?: number | undefined;
  /** @internal The queue's links (it keeps its items in a list threaded through them). */
  queuePrev?: Expirable | undefined;
  /** @internal */
  queueNext?: Expirable | undefined;
  /** @internal */
  queued?: boolean;
}

/**
 * Timeouts on one timer, for things that almost always finish long before their deadline (a statement, a
 * wait for a connection). Items sit in a doubly linked list threaded through the items themselves, so adding
 * and removing are O(1) and allocate nothing; nothing is sorted. The timer is armed for
 * the earliest deadline known when it is armed and is not cleared when that item leaves early: when it
 * fires, one pass over what is in flight expires what is due and re-arms for the earliest deadline left
 * (or stops). Under load that is one pass per deadline's length, over the statements in flight then, in
 * place of a setTimeout/clearTimeout pair per statement; a finished item is forgotten at once.
 */
export class TimeoutQueue {
  private head: Expirable | undefined;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;
  /** Items queued by `addAfter` still waiting for the next tick to stamp them. */
  private unstamped = 0;
  /** The stamping tick, armed while unstamped items wait (see `addAfter`). */
  private ticker: NodeJS.Timeout | undefined;
  /** When the armed tick fires (queue's clock). */
  private tickAt = Number.POSITIVE_INFINITY;
  /** The clock's last reading, by the queue itself. */
  private lastReading = 0;

  constructor(
    private readonly durationMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Adds `item` with the queue's own duration from now. */
  add(item: Expirable): void {
    this.addAt(item, this.clock() + this.durationMs);
  }

  /** Queues `item` to expire at `deadline` (on the queue's clock); an item already queued moves there. */
  addAt(item: Expirable, deadline: number): void {
    if (item.unstampedMs !== undefined) {
      item.unstampedMs = undefined;
      this.unstamped--;
    }
    item.deadline = deadline;
    this.link(item);
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /**
   * Queues `item` to expire `ms` after now without reading the clock now: a reading costs ~0.1 µs on some
   * virtual machines, and most items settle long before their deadline. The next tick stamps every item
   * queued since the last one with the clock it reads (`stamped`), so a deadline is never early and at
   * most one tick (a tenth of `ms`, 10 ms at most) plus the event loop's delay late. The tick runs only
   * while such items arrive.
   */
  addAfter(item: Expirable, ms: number): void {
    if (item.unstampedMs === undefined) this.unstamped++;
    item.unstampedMs = ms;
    item.deadline = Number.POSITIVE_INFINITY;
    this.link(item);
    const tickMs = Math.min(Math.max(ms / 10, 1), MAX_TICK_MS);
    if (this.ticker === undefined) {
      this.tickAt = this.read() + tickMs;
      this.ticker = setTimeout(this.tick, tickMs).unref();
    } else if (this.lastReading + tickMs < this.tickAt) {
      // A shorter wait than the armed tick allows for: tick sooner.
      clearTimeout(this.ticker);
      this.tickAt = this.lastReading + tickMs;
      this.ticker = setTimeout(this.tick, tickMs).unref();
    }
  }

  /**
   * The clock without a fresh reading while the stamping tick is armed: then the last reading, at most a
   * tick (plus the event loop's delay) behind, never ahead. Good for bookkeeping that tolerates that (when a
   * connection was last used); never for a deadline.
   */
  coarseNow(): number {
    return this.ticker === undefined ? this.read() : this.lastReading;
  }

  /** Takes `item` off the queue (it settled); nothing if it is not queued. */
  remove(item: Expirable): void {
    if (item.queued !== true) return;
    if (item.unstampedMs !== undefined) {
      item.unstampedMs = undefined;
      this.unstamped--;
    }
    item.queued = false;
    const { queuePrev: prev, queueNext: next } = item;
    if (prev === undefined) this.head = next;
    else prev.queueNext = next;
    if (next !== undefined) next.queuePrev = prev;
    item.queuePrev = undefined;
    item.queueNext = undefined;
    this.count--;
  }

  /** Pending items queued, for tests and stats. */
  get size(): number {
    let pending = 0;
    for (let item = this.head; item !== undefined; item = item.queueNext) if (item.pending) pending++;
    return pending;
  }

  /** Every pending item queued, earliest deadline first (a copy: the caller may settle them). */
  pendingItems(): Expirable[] {
    const pending: Expirable[] = [];
    for (let item = this.head; item !== undefined; item = item.queueNext)
      if (item.pending) pending.push(item);
    return pending.sort((a, b) => a.deadline - b.deadline);
  }

  /** Items queued (pending or not yet removed). */
  get length(): number {
    return this.count;
  }

  /** Stops the timers and forgets every item; they never expire. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    clearTimeout(this.ticker);
    this.ticker = undefined;
    this.tickAt = Number.POSITIVE_INFINITY;
    while (this.head !== undefined) this.remove(this.head);
  }

  private link(item: Expirable): void {
    if (item.queued === true) return;
    item.queued = true;
    item.queuePrev = undefined;
    item.queueNext = this.head;
    if (this.head !== undefined) this.head.queuePrev = item;
    this.head = item;
    this.count++;
  }

  private read(): number {
    this.lastReading = this.clock();
    return this.lastReading;
  }

  /**
   * Stamps what `addAfter` queued since the last tick. New items go in at the head, so they are all ahead
   * of every item stamped before: the walk stops once the last of them is found.
   */
  private readonly tick = (): void => {
    this.ticker = undefined;
    this.tickAt = Number.POSITIVE_INFINITY;
    const now = this.read();
    let earliest = Number.POSITIVE_INFINITY;
    for (let item = this.head; item !== undefined && this.unstamped > 0; item = item.queueNext) {
      const ms = item.unstampedMs;
      if (ms === undefined) continue;
      item.unstampedMs = undefined;
      this.unstamped--;
      const deadline = item.stamped === undefined ? now + ms : item.stamped(now, ms);
      item.deadline = deadline;
      if (deadline < earliest) earliest = deadline;
    }
    if (earliest < this.armedFor) this.arm(earliest);
  };

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    // Unref'd: whatever has a deadline waits on a socket, which keeps the process up on its own.
    this.timer = setTimeout(this.sweep, Math.max(deadline - this.read(), 1)).unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.read();
    const due: Expirable[] = [];
    for (let item = this.head; item !== undefined; ) {
      const after = item.queueNext;
      if (!item.pending) this.remove(item);
      else if (item.deadline <= now) due.push(item);
      item = after;
    }
    due.sort((a, b) => a.deadline - b.deadline);
    for (const item of due) {
      this.remove(item);
      // An expire() may queue again (a statement's retry), which may arm the timer itself.
      if (item.pending) item.expire();
    }
    let next = Number.POSITIVE_INFINITY;
    for (let item = this.head; item !== undefined; item = item.queueNext) {
      if (item.deadline < next) next = item.deadline;
    }
    if (next < this.armedFor) this.arm(next);
  };
}
