import * as mysqlGtid from '../consistency/mysql-gtid.js';
import type { ParseResult } from '../consistency/parse-result.js';
import { type GtidPosition, parsePosition } from '../consistency/position.js';
import type {
  Dialect,
  HeartbeatStatements,
  HeartbeatTable,
  Probe,
  ReplicaState,
  RoleState,
  Statement,
  WaitOutcome,
} from './dialect.js';
import { heartbeatStatements } from './heartbeat.js';
import { probe, readPosition, readRole, readWait, statement } from './probe.js';
import { parseReplicaStatus } from './replica-status.js';
import { asText } from './row-values.js';
import { atLeast, type ServerVersion } from './server-version.js';
import { stateChanges } from './state-changes.js';

/**
 * MySQL 5.7+ with `gtid_mode = ON` (written for 8.0 and 8.4; no MySQL server runs these tests, only
 * realistic rows). GTIDs are sets (see `consistency/mysql-gtid.ts`); the commit GTID comes from the
 * `session_track_gtids` tracker.
 */
export class MySqlDialect implements Dialect {
  readonly flavor = 'mysql' as const;

  /** `super_read_only` also stops SUPER/CONNECTION_ADMIN accounts; either makes the node read-only. */
  readonly role: Probe<RoleState> = probe(
    'SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only',
    [],
    (row) => readRole(row, 'read_only', 'super_read_only'),
  );

  readonly replicaStatus: Probe<ReplicaState | undefined>;

  /** `gtid_executed`: every transaction committed here, replicated or local. */
  readonly appliedPosition: Probe<GtidPosition> = probe(
    'SELECT @@GLOBAL.gtid_executed AS gtid_executed',
    [],
    (row) => readPosition('mysql', row, 'gtid_executed'),
  );

  /** OWN_GTID: each commit's OK packet carries the GTIDs this session committed since the last report. */
  readonly enableGtidTracking: Statement = statement("SET SESSION session_track_gtids = 'OWN_GTID'");

  /**
   * There is no `@@last_gtid` in MySQL: the fallback requires everything the server has executed, which
   * includes this session's commit (a superset, so it may wait for other sessions' writes too).
   */
  readonly lastCommitPosition: Probe<GtidPosition> = this.appliedPosition;

  /** Before 8.0.22 the wait timeout may be whole seconds only (5.7 reads it as an integer). */
  private readonly fractionalTimeout: boolean;

  constructor(version: ServerVersion = { flavor: 'mysql', major: 8, minor: 4, patch: 0 }) {
    const modern = atLeast(version, 8, 0, 22);
    this.fractionalTimeout = modern;
    this.replicaStatus = Object.freeze({
      ...statement(modern ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS'),
      parse: parseReplicaStatus,
    });
  }

  /** `result.stateChanges.gtids` (mysql2 split the tracker's set text at commas; joined back here). */
  commitPosition(result: unknown): GtidPosition | undefined {
    const gtids = stateChanges(result)?.gtids;
    if (!Array.isArray(gtids) || gtids.length === 0) return undefined;
    const parts = gtids.map(asText);
    if (parts.some((part) => part === undefined)) return undefined;
    const position = parsePosition('mysql', parts.join(','));
    return position.ok && position.value.flavor === 'mysql' && position.value.gtidSet.length > 0
      ? position.value
      : undefined;
  }

  /**
   * `WAIT_FOR_EXECUTED_GTID_SET(set, seconds)`: 0 when `gtid_executed` contains the set, 1 on timeout.
   * Its timeout 0 means "wait forever" (and 5.7 truncates fractions to 0), so a budget of 0 or less only
   * checks with `GTID_SUBSET`, and a positive one is never sent as 0: at least 1 ms, or on servers before
   * 8.0.22 rounded up to whole seconds.
   */
  waitForPosition(position: GtidPosition, timeoutMs: number): Probe<WaitOutcome> | undefined {
    if (position.flavor !== 'mysql') return undefined;
    const text = mysqlGtid.format(position.gtidSet);
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      return probe('SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS waited', [text], (row) =>
        readWait(row, 1, 0),
      );
    }
    const seconds = this.fractionalTimeout ? Math.max(timeoutMs, 1) / 1000 : Math.ceil(timeoutMs / 1000);
    return probe('SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS waited', [text, seconds], (row) =>
      readWait(row, 0, 1),
    );
  }

  heartbeat(table: HeartbeatTable): HeartbeatStatements {
    return heartbeatStatements(table);
  }

  parsePosition(text: string): ParseResult<GtidPosition> {
    return parsePosition('mysql', text);
  }
}
