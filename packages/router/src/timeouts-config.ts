import { InvalidOptionError } from './errors.js';
import { bag, integer, rejectUnknown } from './options/validate.js';

/**
 * Deadlines, so that no statement waits on a stalled server for ever (a SIGSTOPped replica, a network
 * path that drops packets). A statement's clock starts when it is called and covers waiting for a
 * connection as well as running. Per call, `{ timeoutMs }` replaces the budget.
 *
 * Precision: a deadline is never early, and at most a tenth of it (10 ms at most) plus the event loop's
 * delay late: the router stamps the start of a statement on a shared tick instead of reading the clock
 * for each one (see `TimeoutQueue.addAfter`).
 */
export interface TimeoutsConfig {
  /**
   * One attempt of a read on one node. Past it the read is abandoned (its connection destroyed), cancelled
   * on the server (KILL QUERY) and sent once to another eligible node. Default: `5000` ms.
   */
  readonly readMs?: number;
  /** A read's whole budget, its one retry included; then `StatementTimeoutError`. Default: `10000` ms. */
  readonly readTotalMs?: number;
  /**
   * Anything else (writes, DDL, statements in transactions and pinned sessions that are not reads). Past
   * it: `WriteOutcomeUnknownError` if it was sent (it may have been applied; never retried), else
   * `StatementTimeoutError`. Default: `30000` ms.
   */
  readonly writeMs?: number;
  /**
   * How long `close()` waits for running statements, open transactions and held sessions before it fails
   * and destroys them. Default: `5000` ms.
   */
  readonly closeMs?: number;
}

export type ResolvedTimeoutsConfig = Required<TimeoutsConfig>;

export const TIMEOUTS_DEFAULTS: ResolvedTimeoutsConfig = Object.freeze({
  readMs: 5_000,
  readTotalMs: 10_000,
  writeMs: 30_000,
  closeMs: 5_000,
});

const TIMEOUT_KEYS: ReadonlySet<string> = new Set(Object.keys(TIMEOUTS_DEFAULTS));

export function resolveTimeoutsConfig(value: unknown): ResolvedTimeoutsConfig {
  const timeouts = bag(value, 'timeouts');
  rejectUnknown(timeouts, TIMEOUT_KEYS, 'timeouts');
  const d = TIMEOUTS_DEFAULTS;
  const readMs = integer(timeouts.readMs, 'timeouts.readMs', d.readMs, 1);
  const readTotalMs = integer(
    timeouts.readTotalMs,
    'timeouts.readTotalMs',
    Math.max(d.readTotalMs, readMs),
    1,
  );
  if (readTotalMs < readMs) {
    throw new InvalidOptionError(
      'timeouts.readTotalMs',
      `must be at least timeouts.readMs (${readMs}), got ${readTotalMs}`,
    );
  }
  return Object.freeze({
    readMs,
    readTotalMs,
    writeMs: integer(timeouts.writeMs, 'timeouts.writeMs', d.writeMs, 1),
    closeMs: integer(timeouts.closeMs, 'timeouts.closeMs', d.closeMs, 0),
  });
}
