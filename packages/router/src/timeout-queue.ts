/** Something with a deadline that may settle on its own first. */
export interface Expirable {
  /** On the queue's clock; set by the queue (`add`) or by the caller (`addAt`). */
  deadline: number;
  /** False once it settled (or expired): the queue then forgets it. */
  readonly pending: boolean;
  /** Called once, at the deadline, if still pending. */
  expire(): void;
}

/**
 * Timeouts on one timer. Most deadlines arrive in order (one duration for all), so the queue is kept
 * sorted by inserting from the back, which is O(1) for them; only the earliest pending deadline has a
 * timer. The timer is never cleared when items settle: when it fires it expires what is due and moves
 * to the next pending deadline, or stops. A router under load (every statement has a deadline) then
 * pays an array push per statement instead of a setTimeout/clearTimeout pair, and a caller running one
 * statement after another arms at most one timer per duration.
 */
export class TimeoutQueue {
  private items: Expirable[] = [];
  /**
   * The deadline each entry was queued with. An item may be queued again with a new deadline (a
   * statement's second attempt) before its old entry is swept; that old entry must not expire it.
   */
  private due: number[] = [];
  private head = 0;
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

  /** Adds `item` to expire at `deadline` (on the queue's clock). */
  addAt(item: Expirable, deadline: number): void {
    item.deadline = deadline;
    this.prune();
    const { items, due } = this;
    let at = items.length;
    while (at > this.head && due[at - 1]! > deadline) at--;
    if (at === items.length) {
      items.push(item);
      due.push(deadline);
    } else {
      items.splice(at, 0, item);
      due.splice(at, 0, deadline);
    }
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Pending items, for tests and stats. */
  get size(): number {
    let count = 0;
    for (let i = this.head; i < this.items.length; i++) if (this.live(i)) count++;
    return count;
  }

  /** Every pending item, earliest deadline first (a copy: the caller may settle them). */
  pendingItems(): Expirable[] {
    const pending: Expirable[] = [];
    for (let i = this.head; i < this.items.length; i++) if (this.live(i)) pending.push(this.items[i]!);
    return pending;
  }

  /** Whether entry `i` still stands for a pending item's current deadline. */
  private live(i: number): boolean {
    const item = this.items[i]!;
    return item.pending && item.deadline === this.due[i];
  }

  /** Stops the timer; pending items never expire. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.items = [];
    this.due = [];
    this.head = 0;
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
    while (this.head < this.items.length) {
      const live = this.live(this.head);
      if (live && this.due[this.head]! > now) break;
      const item = this.items[this.head]!;
      this.head++;
      if (live) item.expire();
    }
    this.prune();
    // An expire() may have queued (and armed for) a later deadline meanwhile: the earliest one wins.
    const next = this.due[this.head];
    if (next !== undefined && next < this.armedFor) this.arm(next);
  };

  /** Drops settled items from the front (most settle in order) and compacts now and then. */
  private prune(): void {
    while (this.head < this.items.length && !this.live(this.head)) this.head++;
    if (this.head === this.items.length) {
      if (this.head === 0) return;
      this.items.length = 0;
      this.due.length = 0;
      this.head = 0;
    } else if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.due = this.due.slice(this.head);
      this.head = 0;
    }
  }
}
