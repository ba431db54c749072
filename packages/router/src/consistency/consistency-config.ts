import type { TokenSecret } from './token.js';

/**
 * What a read must see:
 * - `eventual`: any replica in rotation (bounded by `lag.maxMs`, nothing more).
 * - `session`: read-your-writes: everything this session (or the token it resumed) wrote.
 * - `strong`: the primary.
 */
export type ConsistencyMode = 'eventual' | 'session' | 'strong';

export interface ConsistencyConfig {
  /** Default for the router; sessions and calls may override it. Default: `'session'`. */
  readonly mode?: ConsistencyMode;
  /**
   * How long a session read may wait for a replica to apply the session's last write
   * (`MASTER_GTID_WAIT` / `WAIT_FOR_EXECUTED_GTID_SET`) before it reads from the primary instead.
   * Default: `50` ms.
   */
  readonly waitMs?: number;
  /**
   * Signs consistency tokens (HMAC-SHA256) so clients cannot forge positions; a list rotates secrets
   * (the first signs, all verify). Every app server must share it. Default: unsigned tokens with a checksum.
   */
  readonly secret?: TokenSecret | readonly TokenSecret[];
}

/** The fixed defaults, stated once (the doc comments above are checked against them by a test). */
export const CONSISTENCY_DEFAULTS: Required<Pick<ConsistencyConfig, 'mode' | 'waitMs'>> = Object.freeze({
  mode: 'session',
  waitMs: 50,
});
