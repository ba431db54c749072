import type { NodePool } from './pool.js';

/** A node as read selection sees it. */
export interface SelectableNode {
  readonly node: NodePool;
  /** Name as configured. */
  readonly name: string;
  /** Positive integer share of reads. */
  readonly weight: number;
  /** Statements holding a connection of this node right now (pinned sessions included), plus callers waiting for one. */
  readonly outstanding: number;
  /** In rotation (the monitor's view) and its circuit breaker closed. `now` is 0 while no breaker is open. */
  isAvailable(now: number): boolean;
}

/**
 * Chooses the replica for each read among the nodes available now. A strategy object, so a user can
 * bring their own (zone-aware, latency-aware ...); it keeps whatever state it needs between calls.
 * `exclude` is a node this read already failed on. Returns undefined when none is available. Called on
 * every read: keep it allocation-free.
 */
export interface ReadSelector {
  select(
    candidates: readonly SelectableNode[],
    now: number,
    exclude: NodePool | undefined,
  ): SelectableNode | undefined;
}

/** The built-in selectors by name (`readSelector` option). */
export type ReadSelectorName = 'weighted-round-robin' | 'least-outstanding';

/**
 * Smooth weighted round robin, as in nginx: every available candidate's current weight grows by its
 * weight, the largest wins and pays back the total. Over any window of sum(weights) picks each
 * candidate gets exactly its share, and the picks interleave (5,1,1 gives a a b a c a a, not a a a a a b c).
 * Unavailable candidates (and `exclude`) neither win nor accumulate credit, as in nginx. The default.
 */
export function weightedRoundRobin(): ReadSelector {
  const current: number[] = [];
  return {
    select(candidates, now, exclude) {
      let total = 0;
      let best = -1;
      let bestWeight = 0;
      for (let i = 0; i < candidates.length; i++) {
        const candidate = candidates[i]!;
        if (candidate.node === exclude || !candidate.isAvailable(now)) continue;
        const weight = (current[i] ?? 0) + candidate.weight;
        current[i] = weight;
        total += candidate.weight;
        if (best < 0 || weight > bestWeight) {
          best = i;
          bestWeight = weight;
        }
      }
      if (best < 0) return undefined;
      current[best] = bestWeight - total;
      return candidates[best];
    },
  };
}

/**
 * Least outstanding requests, weighted: the available candidate with the fewest statements in flight
 * per unit of weight; ties go round robin, so an idle cluster still spreads its reads. Serves unequal
 * replicas better than round robin: a slow replica accumulates outstanding statements and gets fewer
 * new ones, where round robin keeps sending it its share.
 */
export function leastOutstanding(): ReadSelector {
  let turn = 0;
  return {
    select(candidates, now, exclude) {
      const count = candidates.length;
      let best: SelectableNode | undefined;
      let bestLoad = Number.POSITIVE_INFINITY;
      turn = (turn + 1) % (count || 1);
      for (let k = 0; k < count; k++) {
        const candidate = candidates[(turn + k) % count]!;
        if (candidate.node === exclude || !candidate.isAvailable(now)) continue;
        const load = candidate.outstanding / candidate.weight;
        if (load < bestLoad) {
          best = candidate;
          bestLoad = load;
        }
      }
      return best;
    },
  };
}

/** The selector for a `readSelector` option value. */
export function readSelectorFor(option: ReadSelectorName | ReadSelector): () => ReadSelector {
  if (option === 'least-outstanding') return leastOutstanding;
  if (option === 'weighted-round-robin') return weightedRoundRobin;
  return () => option;
}

/**
 * A node as the router offers it to a selector. `readable` (in rotation per the monitor, or a configured
 * replica without one) is a field the router updates when the rotation changes, so a read asks no monitor.
 */
export class ReadCandidate implements SelectableNode {
  readonly name: string;
  readonly weight: number;

  constructor(
    readonly node: NodePool,
    public readable: boolean,
  ) {
    this.name = node.name;
    this.weight = node.weight;
  }

  get outstanding(): number {
    return this.node.outstanding;
  }

  isAvailable(now: number): boolean {
    return this.readable && this.node.isAvailable(now);
  }
}
