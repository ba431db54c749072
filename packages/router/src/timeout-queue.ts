/** Something with a deadline that may settle on its own first. */
export interface Expirable {
  /** On the queue's clock; set by the queue (`add`) or by the caller (`addAt`). */
  deadline: number;
  /** False once it settled (or expired). */
  readonly pending: boolean;
  /** Called once, at the deadline, if still pending and still queued. */
  expire(): void;
  /** @internal Where the queue keeps it (-1 or absent: not queued). */
  queueIndex?: number;
}

/**
 * Timeouts on one timer: a binary min-heap of deadlines, each item knowing its place, so that adding,
 * moving (a statement's second attempt) and removing (a statement that finished) cost O(log n) and a
 * finished statement is not kept alive until its deadline. Only the earliest deadline has a timer; it is
 * not cleared when that item leaves early: when it fires, whatever is due expires and the timer moves to
 * the next deadline, or stops. A router under load then pays a few comparisons per statement instead of
 * a setTimeout/clearTimeout pair.
 */
export class TimeoutQueue {
  private heap: Expirable[] = [];
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
    this.remove(item);
    item.deadline = deadline;
    const heap = this.heap;
    item.queueIndex = heap.length;
    heap.push(item);
    this.up(heap.length - 1);
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Takes `item` off the queue (it settled); nothing if it is not queued. */
  remove(item: Expirable): void {
    const index = item.queueIndex;
    if (index === undefined || index < 0) return;
    const heap = this.heap;
    item.queueIndex = -1;
    const last = heap.pop() as Expirable;
    if (index === heap.length) return;
    heap[index] = last;
    last.queueIndex = index;
    this.down(index);
    this.up(index);
  }

  /** Pending items queued, for tests and stats. */
  get size(): number {
    let count = 0;
    for (const item of this.heap) if (item.pending) count++;
    return count;
  }

  /** Every pending item queued, earliest deadline first (a copy: the caller may settle them). */
  pendingItems(): Expirable[] {
    return this.heap.filter((item) => item.pending).sort((a, b) => a.deadline - b.deadline);
  }

  /** Stops the timer and forgets every item; they never expire. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    for (const item of this.heap) item.queueIndex = -1;
    this.heap = [];
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
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const item = heap[0]!;
      this.remove(item);
      // An expire() may queue again (a retry), which may arm the timer: the loop sees that item too.
      if (item.pending) item.expire();
    }
    const next = heap[0];
    if (next !== undefined && next.deadline < this.armedFor) this.arm(next.deadline);
  };

  private up(index: number): void {
    const heap = this.heap;
    let i = index;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (above.deadline <= item.deadline) break;
      heap[i] = above;
      above.queueIndex = i;
      i = parent;
    }
    heap[i] = item;
    item.queueIndex = i;
  }

  private down(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    let i = index;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right]!.deadline < heap[left]!.deadline ? right : left;
      const below = heap[child]!;
      if (below.deadline >= item.deadline) break;
      heap[i] = below;
      below.queueIndex = i;
      i = child;
    }
    heap[i] = item;
    item.queueIndex = i;
  }
}
