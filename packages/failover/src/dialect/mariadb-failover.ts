import {
  type BinlogState,
  type Dialect,
  failed,
  formatBinlogState,
  MariaDbDialect,
  mariadbGtid,
  notIn,
  type Probe,
  parseBinlogState,
  parsed,
  type Statement,
  unionOf,
} from '@rwsplit/router/replication';
import type {
  ApplyOutcome,
  FailoverDialect,
  FollowOptions,
  History,
  NodeFacts,
  RebuildCommands,
  SemiSyncSettings,
  Source,
} from './failover-dialect.js';
import { firstRow, flag, probe, count as readCount, statement } from './rows.js';

function status(name: string): string {
  return `(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '${name}')`;
}

function state(text: string): BinlogState {
  const result = parseBinlogState(text);
  return result.ok ? result.value : [];
}

/** Per domain, the highest seq: the position a state has reached (what MASTER_GTID_WAIT compares). */
function positionOf(entries: BinlogState): string {
  const best = new Map<number, mariadbGtid.MariaDbGtid>();
  for (const entry of entries) {
    const found = best.get(entry.domain);
    if (found === undefined || found.seq < entry.seq) best.set(entry.domain, entry);
  }
  return mariadbGtid.format([...best.values()].sort((a, b) => a.domain - b.domain));
}

/** > 0 when `a` has reached further than `b` in some domain and nowhere less; 0 when equal or crossed. */
function comparePositions(a: BinlogState, b: BinlogState): number {
  const pa = mariadbGtid.parse(positionOf(a));
  const pb = mariadbGtid.parse(positionOf(b));
  if (!pa.ok || !pb.ok) return 0;
  const aCoversB = mariadbGtid.covers(pa.value, pb.value);
  const bCoversA = mariadbGtid.covers(pb.value, pa.value);
  if (aCoversB && !bCoversA) return 1;
  if (bCoversA && !aCoversB) return -1;
  return 0;
}

/**
 * MariaDB 10.6+ (tested on 10.11): semi-sync built in, GTIDs `domain-server-seq`, the binlog state for who
 * wrote what. Observed behaviour this relies on (see the package README): `rpl_semi_sync_slave_enabled`
 * takes effect when the IO thread restarts; `MASTER_GTID_WAIT` compares seqs per domain against
 * `gtid_slave_pos` only; there is no `super_read_only`, so accounts with READ_ONLY ADMIN (ALL PRIVILEGES)
 * still write to a fenced node.
 */
export class MariaDbFailoverDialect implements FailoverDialect {
  readonly flavor = 'mariadb' as const;
  readonly router: Dialect = new MariaDbDialect();

  readonly facts: Probe<NodeFacts> = probe(
    [
      'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.gtid_binlog_state AS executed,',
      ' @@GLOBAL.rpl_semi_sync_master_enabled AS source_enabled,',
      ' @@GLOBAL.rpl_semi_sync_slave_enabled AS replica_enabled,',
      ` ${status('RPL_SEMI_SYNC_MASTER_STATUS')} AS source_status,`,
      ` ${status('RPL_SEMI_SYNC_MASTER_CLIENTS')} AS clients,`,
      ` ${status('RPL_SEMI_SYNC_MASTER_YES_TX')} AS yes_tx,`,
      ` ${status('RPL_SEMI_SYNC_MASTER_NO_TX')} AS no_tx`,
    ].join(''),
    [],
    (result) => {
      const row = firstRow(result);
      if (row === undefined) return failed('no row for the node facts');
      const serverId = readCount(row.server_id);
      if (serverId === undefined) return failed(`server_id is not a number: ${String(row.server_id)}`);
      const executed = typeof row.executed === 'string' ? row.executed : '';
      if (!parseBinlogState(executed).ok) return failed(`gtid_binlog_state is not a GTID list: ${executed}`);
      const sourceEnabled = flag(row.source_enabled);
      const clients = readCount(row.clients) ?? 0;
      return parsed({
        serverId,
        serverUuid: '',
        executed,
        semiSync: {
          sourceEnabled,
          // The status alone reads ON on a replica and with no client connected (commits then wait for
          // nobody): active means a replica is there to acknowledge.
          active: sourceEnabled && flag(row.source_status) && clients >= 1,
          clients,
          yesTx: readCount(row.yes_tx) ?? 0,
          noTx: readCount(row.no_tx) ?? 0,
          replicaEnabled: flag(row.replica_enabled),
        },
      });
    },
  );

  history(executed: string, receivedGtids: string): History {
    const received = formatBinlogState(unionOf([state(executed), state(receivedGtids)]));
    return { flavor: 'mariadb', executed, received };
  }

  errant(node: History, others: readonly History[], ignoreServer: { id: number; uuid: string }): string {
    const known = unionOf(others.map((other) => state(other.received)));
    const own = state(node.executed).filter((entry) => entry.serverId !== ignoreServer.id);
    return formatBinlogState(notIn(own, known));
  }

  missing(node: string, reference: string): string {
    return formatBinlogState(notIn(state(node), state(reference)));
  }

  compare(a: History, b: History): number {
    return (
      comparePositions(state(a.received), state(b.received)) ||
      comparePositions(state(a.executed), state(b.executed))
    );
  }

  readonly fence = [statement('SET GLOBAL read_only = ON')];
  readonly unfence = [statement('SET GLOBAL read_only = OFF')];
  readonly stopReceiving = [statement('STOP SLAVE IO_THREAD')];
  readonly startReceiving = [statement('START SLAVE IO_THREAD')];
  readonly startApplying = [statement('START SLAVE SQL_THREAD')];
  readonly forgetSource = [statement('STOP SLAVE'), statement('RESET SLAVE ALL')];

  waitApplied(history: History, timeoutMs: number): Probe<ApplyOutcome> {
    const seconds = Math.max(0, timeoutMs) / 1_000;
    return probe(
      'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
      [positionOf(state(history.received)), seconds],
      (result) => {
        const waited = readCount(firstRow(result)?.waited);
        if (waited === 0) return parsed('applied');
        if (waited === -1) return parsed('timeout');
        return failed(`MASTER_GTID_WAIT returned ${String(firstRow(result)?.waited)}`);
      },
    );
  }

  follow(source: Source, options: FollowOptions): readonly Statement[] {
    return [
      statement('STOP SLAVE'),
      // A former primary's own writes are only in its binlog: replicate from after them.
      ...(options.formerPrimary ? [statement('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos')] : []),
      statement(
        `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ?, ${
          source.caFile === undefined
            ? 'MASTER_SSL = 0'
            : 'MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1'
        }`,
        [
          source.host,
          source.port,
          source.user,
          source.password,
          options.heartbeatMs / 1_000,
          ...(source.caFile === undefined ? [] : [source.caFile]),
        ],
      ),
      statement('START SLAVE'),
    ];
  }

  semiSync(settings: SemiSyncSettings): readonly Statement[] {
    const on = settings.enabled ? 'ON' : 'OFF';
    return [
      statement(
        `SET GLOBAL rpl_semi_sync_master_enabled = ${on}, GLOBAL rpl_semi_sync_slave_enabled = ${on}, GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_master_timeout = ?`,
        [settings.timeoutMs],
      ),
    ];
  }

  takeLock(name: string): Probe<boolean> {
    return probe('SELECT GET_LOCK(?, 0) AS taken', [name], (result) =>
      parsed(readCount(firstRow(result)?.taken) === 1),
    );
  }

  sessionLease(seconds: number): Statement {
    return statement('SET SESSION wait_timeout = ?', [Math.max(1, Math.ceil(seconds))]);
  }

  readonly rebuild: RebuildCommands = Object.freeze({
    dumpArgs: Object.freeze([
      '--single-transaction',
      '--gtid',
      '--master-data=1',
      '--all-databases',
      '--routines',
      '--events',
      '--triggers',
      // Without it the loaded grants stay inactive until FLUSH PRIVILEGES: the app's account is refused.
      '--flush-privileges',
    ]),
    beforeLoad: Object.freeze([
      statement('STOP SLAVE'),
      statement('RESET SLAVE ALL'),
      statement('RESET MASTER'),
    ]),
    loadInitCommand: 'SET SESSION sql_log_bin = 0',
  });
}
