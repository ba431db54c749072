/** Something a read can be sent to: a replica, as far as selection is concerned. */
export interface Candidate {
  /** Positive integer share of reads. */
  readonly weight: number;
  /** False while the node is skipped (circuit breaker open, later: lagging). */
  isAvailable(now: number): boolean;
}

/**
 * Smooth weighted round robin, as in nginx: every available candidate's current weight grows by its
 * weight, the largest wins and pays back the total. Over any window of sum(weights) picks each
 * candidate gets exactly its share, and the picks interleave (5,1,1 gives a a b a c a a, not a a a a a b c).
 * Unavailable candidates (and `exclude`) neither win nor accumulate credit, as in nginx.
 *
 * All state lives in `current` (one slot per candidate, start with zeros), so the function is pure
 * apart from updating that array, and allocates nothing. Returns the winner's index, or -1 if none is
 * available.
 */
export function selectWeighted(
  candidates: readonly Candidate[],
  current: number[],
  now: number,
  exclude?: Candidate,
): number {
  let total = 0;
  let best = -1;
  let bestWeight = 0;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    if (candidate === exclude || !candidate.isAvailable(now)) continue;
    const weight = (current[i] ?? 0) + candidate.weight;
    current[i] = weight;
    total += candidate.weight;
    if (best < 0 || weight > bestWeight) {
      best = i;
      bestWeight = weight;
    }
  }
  if (best >= 0) current[best] = bestWeight - total;
  return best;
}
