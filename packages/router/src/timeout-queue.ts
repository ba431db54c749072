/** Something with a deadline that may settle on its own first. */
export interface Expirable {
  /** On the queue's clock; set by the queue (`add`) or by the caller (`addAt`). */
  deadline: number;
  /** False once it settled (or expired). */
  readonly pending: boolean;
  /** Called once, at the deadline, if still pending and still queued. */
  expire(): void;
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
    item.deadline = deadline;
    if (item.queued !== true) {
      item.queued = true;
      item.queuePrev = undefined;
      item.queueNext = this.head;
      if (this.head !== undefined) this.head.queuePrev = item;
      this.head = item;
      this.count++;
    }
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Takes `item` off the queue (it settled); nothing if it is not queued. */
  remove(item: Expirable): void {
    if (item.queued !== true) return;
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

  /** Stops the timer and forgets every item; they never expire. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    while (this.head !== undefined) this.remove(this.head);
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    // Unref'd: whatever has a deadline waits on a socket, which keeps the process up on its own.
    this.timer = setTimeout(this.sweep, Math.max(deadline - this.clock(), 1)).unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock();
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
