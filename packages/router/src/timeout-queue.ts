/** Something with a deadline that may settle on its own first. */
export interface Expirable {
  /** Epoch ms; set by the queue. */
  deadline: number;
  /** False once it settled (or expired): the queue then forgets it. */
  readonly pending: boolean;
  /** Called once, at the deadline, if still pending. */
  expire(): void;
}

/**
 * Timeouts that all share one duration, on one timer. Deadlines arrive in order, so only the earliest
 * pending one needs a timer; when it fires, everything due expires and the timer moves to the next
 * pending deadline. A pool under load (every caller waits for a connection) then pays an array push
 * per wait instead of a setTimeout/clearTimeout pair.
 */
export class TimeoutQueue {
  private items: Expirable[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly durationMs: number) {}

  add(item: Expirable): void {
    item.deadline = Date.now() + this.durationMs;
    this.prune();
    this.items.push(item);
    if (this.timer === undefined) this.arm(this.durationMs);
  }

  /** Pending items, for tests and stats. */
  get size(): number {
    let count = 0;
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.pending) count++;
    return count;
  }

  /** Stops the timer; pending items never expire. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.items = [];
    this.head = 0;
  }

  private arm(ms: number): void {
    // Unref'd: a caller waits on a connection in use or a connect in progress, whose sockets keep the process up.
    this.timer = setTimeout(this.sweep, Math.max(ms, 1)).unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = Date.now();
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (item.pending && item.deadline > now) break;
      this.head++;
      if (item.pending) item.expire();
    }
    this.prune();
    const next = this.items[this.head];
    if (next !== undefined) this.arm(next.deadline - now);
  };

  /** Drops settled items from the front (most settle in order) and compacts now and then. */
  private prune(): void {
    while (this.head < this.items.length && !this.items[this.head]!.pending) this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
