import type { ResolvedCircuitBreakerConfig } from './circuit-breaker-config.js';

/**
 * Per-node connect breaker. Closed while connects succeed; after `failureThreshold` consecutive
 * failures it opens for a back-off that doubles per further failure (capped). When the back-off has
 * passed, attempts go through again (half-open): one success closes it, one failure reopens it with
 * the next, longer back-off. Time is passed in, so tests need no clock.
 */
/** How many of a set of breakers are open or half-open: lets read selection skip the clock while none is. */
export class BreakerCount {
  tripped = 0;
}

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private lastFailure: unknown;

  constructor(
    private readonly config: ResolvedCircuitBreakerConfig,
    private readonly count: BreakerCount = new BreakerCount(),
  ) {}

  /** True while the node should be skipped. */
  isOpen(now: number): boolean {
    return now < this.openUntil;
  }

  /** Consecutive connect failures so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The driver error of the most recent failed connect, for error messages and `cause`. */
  get lastError(): unknown {
    return this.lastFailure;
  }

  /** When the current back-off ends (epoch ms); 0 when closed. */
  get retryAt(): number {
    return this.openUntil;
  }

  recordSuccess(): void {
    if (this.openUntil !== 0) this.count.tripped--;
    this.failures = 0;
    this.openUntil = 0;
    this.lastFailure = undefined;
  }

  recordFailure(now: number, error: unknown): void {
    this.failures += 1;
    this.lastFailure = error;
    const { failureThreshold, backoffMs, maxBackoffMs } = this.config;
    if (this.failures < failureThreshold) return;
    const doublings = Math.min(this.failures - failureThreshold, 30);
    if (this.openUntil === 0) this.count.tripped++;
    this.openUntil = now + Math.min(backoffMs * 2 ** doublings, maxBackoffMs);
  }
}
