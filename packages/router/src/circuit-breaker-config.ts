import { InvalidOptionError } from './errors.js';
import { bag, integer, rejectUnknown } from './options/validate.js';

/**
 * A node whose connects fail `failureThreshold` times in a row is skipped for `backoffMs`, doubling on
 * each further failure up to `maxBackoffMs`; the first successful connect closes the breaker. Meanwhile
 * reads go elsewhere and writes fail fast with `PrimaryUnavailableError` instead of each waiting for a
 * connect timeout.
 */
export interface CircuitBreakerConfig {
  /** Consecutive connect failures that open the breaker. Default: `2`. */
  readonly failureThreshold?: number;
  /** First back-off. Default: `1000` ms. */
  readonly backoffMs?: number;
  /** Longest back-off. Default: `10000` ms (or `backoffMs` if that is longer). */
  readonly maxBackoffMs?: number;
}

export type ResolvedCircuitBreakerConfig = Required<CircuitBreakerConfig>;

export const CIRCUIT_BREAKER_DEFAULTS: ResolvedCircuitBreakerConfig = Object.freeze({
  failureThreshold: 2,
  backoffMs: 1_000,
  maxBackoffMs: 10_000,
});

const BREAKER_KEYS: ReadonlySet<string> = new Set(Object.keys(CIRCUIT_BREAKER_DEFAULTS));

export function resolveCircuitBreakerConfig(value: unknown): ResolvedCircuitBreakerConfig {
  const breaker = bag(value, 'circuitBreaker');
  rejectUnknown(breaker, BREAKER_KEYS, 'circuitBreaker');
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const backoffMs = integer(breaker.backoffMs, 'circuitBreaker.backoffMs', d.backoffMs, 1);
  const maxBackoffMs = integer(
    breaker.maxBackoffMs,
    'circuitBreaker.maxBackoffMs',
    Math.max(d.maxBackoffMs, backoffMs),
    1,
  );
  if (maxBackoffMs < backoffMs) {
    throw new InvalidOptionError(
      'circuitBreaker.maxBackoffMs',
      `must be at least circuitBreaker.backoffMs (${backoffMs}), got ${maxBackoffMs}`,
    );
  }
  return Object.freeze({
    failureThreshold: integer(
      breaker.failureThreshold,
      'circuitBreaker.failureThreshold',
      d.failureThreshold,
      1,
    ),
    backoffMs,
    maxBackoffMs,
  });
}
