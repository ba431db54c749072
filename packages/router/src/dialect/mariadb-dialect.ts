import * as mariadbGtid from '../consistency/mariadb-gtid.js';
import type { ParseResult } from '../consistency/parse-result.js';
import { parsed } from '../consistency/parse-result.js';
import { type GtidPosition, mariadbPosition, parsePosition } from '../consistency/position.js';
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
import { stateChanges } from './state-changes.js';

const TRACKED = '@@SESSION.session_track_system_variables';

/**
 * MariaDB (10.3+; tested on 10.11). GTIDs are `domain-server-seq` lists ordered per domain by seq (see
 * `consistency/mariadb-gtid.ts`); the commit GTID comes from the `last_gtid` session variable.
 */
export class MariaDbDialect implements Dialect {
  readonly flavor = 'mariadb' as const;

  readonly role: Probe<RoleState> = probe('SELECT @@GLOBAL.read_only AS read_only', [], (row) =>
    readRole(row, 'read_only'),
  );

  // SHOW SLAVE STATUS works on every MariaDB; SHOW REPLICA STATUS only from 10.5.1, with the same columns.
  readonly replicaStatus: Probe<ReplicaState | undefined> = Object.freeze({
    ...statement('SHOW SLAVE STATUS'),
    parse: parseReplicaStatus,
  });

  /**
   * Per domain, the higher of `gtid_slave_pos` (what replication applied) and `gtid_binlog_pos` (what this
   * node committed and logged: its own writes as a primary, and with log_slave_updates the replicated ones
   * too). A former primary keeps its own writes only in the binlog position, a replica without
   * log_slave_updates only in the slave position; either way the node has the transactions, so both count.
   */
  readonly appliedPosition: Probe<GtidPosition> = probe(
    'SELECT @@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos',
    [],
    (row) => {
      const slave = readPosition('mariadb', row, 'gtid_slave_pos');
      if (!slave.ok) return slave;
      const binlog = readPosition('mariadb', row, 'gtid_binlog_pos');
      if (!binlog.ok) return binlog;
      return parsed(mariadbPosition(mariadbGtid.merge(gtidsOf(slave.value), gtidsOf(binlog.value))));
    },
  );

  /**
   * Adds `last_gtid` to the tracked variables and keeps the rest: mysql2 follows `character_set_client`
   * through this tracker, and an operator may track more. The server de-duplicates the list (so running it
   * twice is harmless) but refuses `*` combined with a name; `*` already tracks `last_gtid`. Its 10.11
   * default is `autocommit,character_set_client,character_set_connection,character_set_results,time_zone`.
   */
  readonly enableGtidTracking: Statement = statement(
    `SET SESSION session_track_system_variables = IF(${TRACKED} = '*', '*', CONCAT_WS(',', NULLIF(${TRACKED}, ''), 'last_gtid'))`,
  );

  /** `result.stateChanges.systemVariables.last_gtid`, sent with the OK packet of each commit. */
  commitPosition(result: unknown): GtidPosition | undefined {
    const text = asText(stateChanges(result)?.systemVariables?.last_gtid);
    if (text === undefined || text === '') return undefined;
    const position = parsePosition('mariadb', text);
    return position.ok ? position.value : undefined;
  }

  /** The session's last GTID: exactly what its last commit wrote (empty if it never wrote). */
  readonly lastCommitPosition: Probe<GtidPosition> = probe(
    'SELECT @@SESSION.last_gtid AS last_gtid',
    [],
    (row) => readPosition('mariadb', row, 'last_gtid'),
  );

  /**
   * `MASTER_GTID_WAIT(pos, seconds)`: 0 when `gtid_slave_pos` reached `pos`, -1 on timeout. A negative or
   * NULL timeout would wait forever, so the budget is clamped at 0 (check once). It watches only the slave
   * position, so on a node that is not replicating it times out.
   */
  waitForPosition(position: GtidPosition, timeoutMs: number): Probe<WaitOutcome> | undefined {
    if (position.flavor !== 'mariadb') return undefined;
    const seconds = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs / 1000 : 0;
    return probe(
      'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
      [mariadbGtid.format(position.gtids), seconds],
      (row) => readWait(row, 0, -1),
    );
  }

  heartbeat(table: HeartbeatTable): HeartbeatStatements {
    return heartbeatStatements(table);
  }

  parsePosition(text: string): ParseResult<GtidPosition> {
    return parsePosition('mariadb', text);
  }
}

function gtidsOf(position: GtidPosition): mariadbGtid.MariaDbGtidList {
  return position.flavor === 'mariadb' ? position.gtids : mariadbGtid.EMPTY;
}
