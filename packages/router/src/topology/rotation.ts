/**
 * Whether a replica may serve reads, decided from one probe at a time: pure, so the rules are tested
 * without servers. A replica leaves rotation on the first bad probe (so a lagging replica is out within
 * one or two monitor intervals) and comes back only after it has stayed good for `readmitAfterMs`
 * (hysteresis, so one that hovers around the limit cannot flap).
 */

/**
 * Where a replica's `lagMs` comes from: `positions` (this round's GTID positions proved the replica had
 * applied what the primary had: the figure is at most the time between those reads, the heartbeat's when
 * that is smaller), `heartbeat` (the age of the last heartbeat it applied), `seconds behind` (the server's
 * own Seconds_Behind_Master, whole seconds), or `last known` (a figure kept from an earlier probe: from
 * before the primary was lost, or while the replica is unreachable, with that probe's source).
 */
export type LagSource = 'positions' | 'heartbeat' | 'seconds behind' | 'last known';

/** What the monitor learned about a replica in one probe. */
export type ReplicaProbe =
  | { readonly reachable: false; readonly error: string }
  | {
      readonly reachable: true;
      /** `read_only` (MySQL: or `super_read_only`) is on. */
      readonly readOnly: boolean;
      /** Both replication threads run. Undefined when the node replicates from nobody. */
      readonly replicating: boolean | undefined;
      /** Best lag estimate in ms: heartbeat when available, else Seconds_Behind × 1000; null = unknown. */
      readonly lagMs: number | null;
      /** Where `lagMs` comes from; absent when it is null. */
      readonly lagSource?: LagSource;
    };

/** Why a replica is not serving reads. Stable strings: they appear in `topology()`, logs and metrics. */
export type OutOfRotationReason =
  | 'unreachable'
  | 'writable'
  | 'not replicating'
  | 'replication stopped'
  | 'lag unknown'
  | 'lagging'
  | 'readmitting';

export interface RotationState {
  readonly inRotation: boolean;
  /** Set whenever `inRotation` is false. */
  readonly reason?: OutOfRotationReason;
  /** Last lag seen, ms; null when unknown. */
  readonly lagMs: number | null;
  /** Where `lagMs` comes from; absent when it is null. */
  readonly lagSource?: LagSource;
  /** Since when the replica has been continuously good while out (for the hysteresis). */
  readonly goodSince?: number;
  /** The probe error when unreachable. */
  readonly error?: string;
}

export interface RotationPolicy {
  /** Replicas whose lag is above this leave rotation. */
  readonly maxLagMs: number;
  /** A replica out of rotation returns after being good for this long. */
  readonly readmitAfterMs: number;
}

/** Why this probe alone keeps the replica out, or undefined when it is good. */
function badReason(probe: ReplicaProbe, policy: RotationPolicy): OutOfRotationReason | undefined {
  if (!probe.reachable) return 'unreachable';
  if (!probe.readOnly) return 'writable';
  if (probe.replicating === undefined) return 'not replicating';
  if (!probe.replicating) return 'replication stopped';
  if (probe.lagMs === null) return 'lag unknown';
  if (probe.lagMs > policy.maxLagMs) return 'lagging';
  return undefined;
}

/**
 * The next rotation state. `previous` undefined means the first probe: a good replica enters at once
 * (there is nothing to flap from yet).
 */
export function nextRotation(
  previous: RotationState | undefined,
  probe: ReplicaProbe,
  now: number,
  policy: RotationPolicy,
): RotationState {
  const seen = probe.reachable ? probe : previous;
  const lag = {
    lagMs: seen?.lagMs ?? null,
    ...(seen?.lagSource === undefined ? {} : { lagSource: seen.lagSource }),
  };
  const reason = badReason(probe, policy);
  if (reason !== undefined) {
    return probe.reachable
      ? { inRotation: false, reason, ...lag }
      : { inRotation: false, reason, ...lag, error: probe.error };
  }
  if (previous === undefined || previous.inRotation) return { inRotation: true, ...lag };
  const goodSince = previous.goodSince ?? now;
  if (now - goodSince >= policy.readmitAfterMs) return { inRotation: true, ...lag };
  return { inRotation: false, reason: 'readmitting', ...lag, goodSince };
}
