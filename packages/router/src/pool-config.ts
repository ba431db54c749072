import { InvalidOptionError } from './errors.js';
import { bag, integer, rejectUnknown } from './options/validate.js';

/** One `generic-pool` per node; these settings apply to each. */
export interface PoolConfig {
  /** Connections each pool keeps open even when idle. Default: `0`. */
  readonly min?: number;
  /** Most connections each pool opens. Default: `10`. */
  readonly max?: number;
  /** How long a statement waits for a free connection before `AcquireTimeoutError`. Default: `5000` ms. */
  readonly acquireTimeoutMs?: number;
  /**
   * Bound on opening one connection (TCP connect + handshake); a node that does not answer within it
   * counts as a failed connect. Default: `2000` ms.
   */
  readonly connectTimeoutMs?: number;
  /** Idle connections above `min` are closed after this long. `0` disables eviction. Default: `60000` ms. */
  readonly idleTimeoutMs?: number;
  /**
   * A connection idle for longer than this is pinged before reuse, and replaced if the ping fails.
   * `0` pings before every reuse. Default: `5000` ms.
   */
  readonly validateAfterIdleMs?: number;
  /** Bound on that validation ping. Default: `1000` ms. */
  readonly pingTimeoutMs?: number;
}

/** `PoolConfig` with every default filled in. */
export type ResolvedPoolConfig = Required<PoolConfig>;

/** Each default, stated once (the doc comments above are checked against these by a test). */
export const POOL_DEFAULTS: ResolvedPoolConfig = Object.freeze({
  min: 0,
  max: 10,
  acquireTimeoutMs: 5_000,
  connectTimeoutMs: 2_000,
  idleTimeoutMs: 60_000,
  validateAfterIdleMs: 5_000,
  pingTimeoutMs: 1_000,
});

const POOL_KEYS: ReadonlySet<string> = new Set(Object.keys(POOL_DEFAULTS));

/** Validates the `pool` option (errors name `pool.<key>`), fills in defaults, freezes. */
export function resolvePoolConfig(value: unknown): ResolvedPoolConfig {
  const pool = bag(value, 'pool');
  rejectUnknown(pool, POOL_KEYS, 'pool');
  const d = POOL_DEFAULTS;
  const max = integer(pool.max, 'pool.max', d.max, 1);
  const min = integer(pool.min, 'pool.min', d.min, 0);
  if (min > max) throw new InvalidOptionError('pool.min', `must not exceed pool.max (${max}), got ${min}`);
  return Object.freeze({
    min,
    max,
    acquireTimeoutMs: integer(pool.acquireTimeoutMs, 'pool.acquireTimeoutMs', d.acquireTimeoutMs, 1),
    connectTimeoutMs: integer(pool.connectTimeoutMs, 'pool.connectTimeoutMs', d.connectTimeoutMs, 1),
    idleTimeoutMs: integer(pool.idleTimeoutMs, 'pool.idleTimeoutMs', d.idleTimeoutMs, 0),
    validateAfterIdleMs: integer(
      pool.validateAfterIdleMs,
      'pool.validateAfterIdleMs',
      d.validateAfterIdleMs,
      0,
    ),
    pingTimeoutMs: integer(pool.pingTimeoutMs, 'pool.pingTimeoutMs', d.pingTimeoutMs, 1),
  });
}
