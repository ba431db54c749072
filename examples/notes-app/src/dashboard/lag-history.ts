import type { NodeStatus } from '@rwsplit/router';

/** One second of the dashboard's lag chart: each replica's lag in ms (null while unknown). */
export interface LagSample {
  readonly at: number;
  readonly lagMs: Readonly<Record<string, number | null>>;
}

/**
 * The replicas' lag over the last minute, sampled from the router's monitor once per interval, so a
 * freshly opened dashboard draws a full chart at once instead of starting empty.
 */
export class LagHistory {
  readonly #samples: LagSample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs = 60_000,
    private readonly intervalMs = 1_000,
  ) {}

  /** Records the replicas' current lag and forgets samples older than the window. */
  record(topology: readonly NodeStatus[], at: number): void {
    const lagMs: Record<string, number | null> = {};
    for (const node of topology) if (node.role !== 'primary') lagMs[node.name] = node.lagMs;
    this.#samples.push({ at, lagMs });
    const oldest = at - this.windowMs;
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? at) < oldest) this.#samples.shift();
  }

  /** Oldest first. */
  samples(): readonly LagSample[] {
    return this.#samples;
  }

  /** Samples `topology()` every interval until `stop()`; the timer never keeps the process alive. */
  start(topology: () => readonly NodeStatus[], now: () => number = Date.now): void {
    this.stop();
    this.record(topology(), now());
    this.#timer = setInterval(() => this.record(topology(), now()), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
