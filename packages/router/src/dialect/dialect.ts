import type { ParseResult } from '../consistency/parse-result.js';
import type { Flavor, GtidPosition } from '../consistency/position.js';
import { MariaDbDialect } from './mariadb-dialect.js';
import { MySqlDialect } from './mysql-dialect.js';
import { parseServerVersion } from './server-version.js';

export type { Flavor } from '../consistency/position.js';
export type { Row } from './row-values.js';
export { parseServerVersion, type ServerVersion } from './server-version.js';

/** SQL text with `?` placeholders and its values: run it as `connection.query(sql, values)`. */
export interface Statement {
  readonly sql: string;
  readonly values: readonly unknown[];
}

/**
 * A statement and the reader of its result. `parse` takes what mysql2's `query` resolves to first (the
 * rows, as objects: do not run probes with `rowsAsArray`) and never throws: an unexpected result is
 * `{ ok: false, error }`, which the monitor can show as why a node is out of rotation.
 */
export interface Probe<T> extends Statement {
  parse(result: unknown): ParseResult<T>;
}

/** What `@@read_only` says about a node. */
export interface RoleState {
  /** True when the node refuses writes from ordinary accounts (MySQL: `read_only` or `super_read_only`). */
  readonly readOnly: boolean;
}

/** A replica's replication threads, normalized over `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS`. */
export interface ReplicaState {
  /** The IO (receiver) thread is connected and fetching (`Yes`; `Connecting` and `No` are false). */
  readonly ioRunning: boolean;
  /** The SQL (applier) thread is running. */
  readonly sqlRunning: boolean;
  /** The server's own lag estimate; null while a thread is stopped or it does not know. */
  readonly secondsBehind: number | null;
  readonly sourceHost: string;
  readonly sourcePort: number;
  /** The IO and SQL threads' last errors joined by `; `, or `''`. */
  readonly lastError: string;
  /** The IO (receiver) thread's state as the server says it: `Yes`, `Connecting`, `No`, `Preparing`. */
  readonly ioState: string;
  /** The IO thread's last error number (2003: cannot connect, 1236: the source cannot serve the position ...), 0 for none. */
  readonly ioErrno: number;
  /** The SQL (applier) thread's last error number, 0 for none. */
  readonly sqlErrno: number;
  /**
   * What the IO thread has received, applied or not, as the server prints it: MariaDB's `Gtid_IO_Pos`,
   * MySQL's `Retrieved_Gtid_Set`; `''` when the column is absent or empty.
   */
  readonly receivedGtids: string;
}

/** How a wait for a position ended: applied within the budget, or not (read from the primary). */
export type WaitOutcome = 'reached' | 'timeout';

/** Where the heartbeat row lives. Both names must be plain identifiers (letters, digits, `_`, `$`; <= 64). */
export interface HeartbeatTable {
  readonly schema: string;
  readonly table: string;
}

/**
 * The replication heartbeat: the primary's monitor upserts `NOW(6)` every interval; on a replica,
 * lag = its `NOW(6)` minus the newest replicated `ts`. The lag includes the time since the last upsert
 * (up to one interval) and any clock difference between the hosts.
 */
export interface HeartbeatStatements {
  /**
   * Run once on each monitor connection: a fixed UTC session time zone, so `TIMESTAMP` conversions are
   * exact (in a zone with daylight saving, an autumn hour of local times is ambiguous).
   */
  readonly sessionSetup: Statement;
  readonly createTable: Statement;
  /** The primary's write; `writerId` (an INT) tells several writers' rows apart. */
  upsert(writerId: number): Statement;
  /** On a replica (or the primary): lag in ms, never negative; null when no heartbeat row exists yet. */
  readonly lag: Probe<number | null>;
}

/**
 * Everything that differs between MariaDB and MySQL, as data: statements to run and readers of their
 * results. The router keeps no flavor `if`s; it asks its dialect.
 */
export interface Dialect {
  readonly flavor: Flavor;
  /** Role discovery: is the node read-only? */
  readonly role: Probe<RoleState>;
  /** Replication threads; `undefined` on a node that does not replicate. Needs REPLICA MONITOR (MariaDB) / REPLICATION CLIENT (MySQL). */
  readonly replicaStatus: Probe<ReplicaState | undefined>;
  /** Everything the node has committed, to compare with `covers` (replica or primary alike). */
  readonly appliedPosition: Probe<GtidPosition>;
  /**
   * Makes the server report each commit's GTID in the OK packet (read it with `commitPosition`). Run once
   * per connection and again after COM_RESET_CONNECTION, which resets session variables.
   */
  readonly enableGtidTracking: Statement;
  /**
   * The GTID a write committed, from the result mysql2 returned (its `ResultSetHeader.stateChanges`);
   * undefined when the result carries none (no tracking, nothing committed, inside a transaction).
   */
  commitPosition(result: unknown): GtidPosition | undefined;
  /** Fallback when `commitPosition` has nothing after a commit: run on the same connection, right after. */
  readonly lastCommitPosition: Probe<GtidPosition>;
  /**
   * A statement that waits at most `timeoutMs` for the node to apply `position` (0 or less: only checks).
   * Run it on the connection that will then read. Undefined when `position` is of the other flavor: no
   * wait can satisfy it here, so read from the primary.
   */
  waitForPosition(position: GtidPosition, timeoutMs: number): Probe<WaitOutcome> | undefined;
  /** The heartbeat statements for `table`; throws `InvalidArgumentError` for names that are not plain identifiers. */
  heartbeat(table: HeartbeatTable): HeartbeatStatements;
  /** Parses this flavor's GTID text (`@@gtid_slave_pos`, `@@gtid_executed`, ...). */
  parsePosition(text: string): ParseResult<GtidPosition>;
}

/** The dialect for a server, from its version string (`SELECT VERSION()` or the handshake). */
export function detectDialect(version: string): Dialect {
  const parsed = parseServerVersion(version);
  return parsed.flavor === 'mariadb' ? new MariaDbDialect() : new MySqlDialect(parsed);
}

/**
 * Cancels the statement running on connection `threadId` (the connection stays open). The same on MariaDB
 * and MySQL; needs the same account as the connection or CONNECTION ADMIN / SUPER.
 */
export function cancelStatement(threadId: number): Statement {
  return { sql: 'KILL QUERY ?', values: [threadId] };
}
