import {
  atLeast,
  type Dialect,
  failed,
  MySqlDialect,
  mysqlGtid,
  type ParseResult,
  type Probe,
  parsed,
  parsePosition,
  type ServerVersion,
  type Statement,
} from '@rwsplit/router/replication';
import { FailoverError } from '../errors.js';
import type {
  ApplyOutcome,
  FailoverDialect,
  FollowOptions,
  History,
  NodeFacts,
  SemiSyncSettings,
  Source,
} from './failover-dialect.js';
import { firstRow, flag, probe, count as readCount, statement } from './rows.js';

/**
 * A plugin's variable read so that it is NULL, not an error, while the plugin is not installed
 * (`@@GLOBAL.rpl_semi_sync_...` would fail with ER_UNKNOWN_SYSTEM_VARIABLE).
 */
function variable(name: string): string {
  return `(SELECT VARIABLE_VALUE FROM performance_schema.global_variables WHERE VARIABLE_NAME = '${name}')`;
}

function status(name: string): string {
  return `(SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = '${name}')`;
}

/** An unreadable set counts as empty, as the MariaDB dialect treats an unreadable state. */
function set(text: string): mysqlGtid.MySqlGtidSet {
  const result = mysqlGtid.parse(text);
  return result.ok ? result.value : mysqlGtid.EMPTY;
}

/** 1 when `a` holds everything `b` holds and more, -1 the other way, 0 when equal; undefined when crossed. */
function order(a: mysqlGtid.MySqlGtidSet, b: mysqlGtid.MySqlGtidSet): number | undefined {
  const aHasB = mysqlGtid.contains(a, b);
  const bHasA = mysqlGtid.contains(b, a);
  if (aHasB && bHasA) return 0;
  if (aHasB) return 1;
  if (bHasA) return -1;
  return undefined;
}

/** The semi-sync plugins' names: semisync_source/semisync_replica from 8.0.26, master/slave before. */
interface SemiSyncNames {
  readonly sourceEnabled: string;
  readonly replicaEnabled: string;
  readonly waitPoint: string;
  readonly timeout: string;
  readonly status: string;
  readonly clients: string;
  readonly yesTx: string;
  readonly noTx: string;
}

function semiSyncNames(modern: boolean): SemiSyncNames {
  const source = modern ? 'source' : 'master';
  const replica = modern ? 'replica' : 'slave';
  return Object.freeze({
    sourceEnabled: `rpl_semi_sync_${source}_enabled`,
    replicaEnabled: `rpl_semi_sync_${replica}_enabled`,
    waitPoint: `rpl_semi_sync_${source}_wait_point`,
    timeout: `rpl_semi_sync_${source}_timeout`,
    status: `Rpl_semi_sync_${source}_status`,
    clients: `Rpl_semi_sync_${source}_clients`,
    yesTx: `Rpl_semi_sync_${source}_yes_tx`,
    noTx: `Rpl_semi_sync_${source}_no_tx`,
  });
}

/**
 * The facts query. `legacy` names are read where `names` are absent: on 8.0.26+ the old
 * `semisync_master`/`semisync_slave` plugins can still be installed, and keep their old names.
 */
function factsProbe(names: SemiSyncNames, legacy?: SemiSyncNames): Probe<NodeFacts> {
  const pick = (read: (name: string) => string, key: keyof SemiSyncNames) =>
    legacy === undefined ? read(names[key]) : `COALESCE(${read(names[key])}, ${read(legacy[key])})`;
  return probe(
    [
      'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid,',
      ' @@GLOBAL.gtid_executed AS executed,',
      ` ${pick(variable, 'sourceEnabled')} AS source_enabled,`,
      ` ${pick(variable, 'replicaEnabled')} AS replica_enabled,`,
      ` ${pick(status, 'status')} AS source_status,`,
      ` ${pick(status, 'clients')} AS clients,`,
      ` ${pick(status, 'yesTx')} AS yes_tx,`,
      ` ${pick(status, 'noTx')} AS no_tx`,
    ].join(''),
    [],
    readFacts,
  );
}

function readFacts(result: unknown): ParseResult<NodeFacts> {
  const row = firstRow(result);
  if (row === undefined) return failed('no row for the node facts');
  const serverId = readCount(row.server_id);
  if (serverId === undefined) return failed(`server_id is not a number: ${String(row.server_id)}`);
  const uuid = typeof row.server_uuid === 'string' ? row.server_uuid.trim().toLowerCase() : '';
  // Checked by the GTID parser, so a UUID is valid here exactly when it can name a GTID.
  if (!mysqlGtid.parse(`${uuid}:1`).ok)
    return failed(`server_uuid is not a UUID: ${String(row.server_uuid)}`);
  const text = typeof row.executed === 'string' ? row.executed : '';
  const executed = mysqlGtid.parse(text);
  if (!executed.ok) return failed(`gtid_executed is not a GTID set: ${text}`);
  // Without the plugins every semi-sync column is NULL: switched off, nobody connected.
  const sourceEnabled = flag(row.source_enabled);
  const clients = readCount(row.clients) ?? 0;
  return parsed({
    serverId,
    serverUuid: uuid,
    // Canonical text: the server breaks a long gtid_executed with newlines after the commas.
    executed: mysqlGtid.format(executed.value),
    semiSync: {
      sourceEnabled,
      // The status reads ON with no replica connected as well (commits then wait for nobody until the
      // timeout): active means a replica is there to acknowledge.
      active: sourceEnabled && flag(row.source_status) && clients >= 1,
      clients,
      yesTx: readCount(row.yes_tx) ?? 0,
      noTx: readCount(row.no_tx) ?? 0,
      replicaEnabled: flag(row.replica_enabled),
    },
  });
}

/**
 * MySQL 8.0.22+ with `gtid_mode = ON` and `enforce_gtid_consistency = ON` (written for 8.0.26+ and 8.4;
 * no MySQL server runs these tests, only realistic rows). GTIDs are sets, so "has" is set inclusion and a
 * failover needs no position bookkeeping: auto-position sends the replica's whole set.
 *
 * Version quirks it follows: `START/STOP/RESET REPLICA` exist from 8.0.22, `CHANGE REPLICATION SOURCE TO`
 * from 8.0.23 (8.0.22 gets `CHANGE MASTER TO`), the semi-sync plugins' source/replica variable names from
 * 8.0.26. Installing the plugins is the operator's job (`INSTALL PLUGIN rpl_semi_sync_source SONAME
 * 'semisync_source.so'` and `rpl_semi_sync_replica` on every node, since any may become the primary); on
 * 8.0.26+ it must be the new pair, as the old one keeps the master/slave names this dialect does not read
 * there. Without the plugins the facts read semi-sync as off and `semiSync()` fails.
 *
 * There is no rebuild: copy a node with the CLONE plugin (`CLONE INSTANCE FROM ...`), which brings its
 * GTID set along; the manager reports FAILOVER_UNSUPPORTED.
 */
export class MySqlFailoverDialect implements FailoverDialect {
  readonly flavor = 'mysql' as const;
  readonly router: Dialect;
  readonly facts: Probe<NodeFacts>;
  /** None on MySQL: rebuild a node with the CLONE plugin (see the class comment). */
  readonly rebuild = undefined;

  private readonly semiSyncNames: SemiSyncNames;
  /** `CHANGE REPLICATION SOURCE TO` (8.0.23+) rather than `CHANGE MASTER TO`. */
  private readonly changeSource: boolean;

  /** Throws FAILOVER_UNSUPPORTED before 8.0.22, which lacks the REPLICA statements used here. */
  constructor(version: ServerVersion) {
    if (!atLeast(version, 8, 0, 22)) {
      const shown = `${version.major}.${version.minor}.${version.patch}`;
      throw new FailoverError(
        'FAILOVER_UNSUPPORTED',
        `MySQL ${shown} is too old for failover: upgrade the nodes to MySQL 8.0.22 or later (8.0.26+ recommended).`,
      );
    }
    this.router = new MySqlDialect(version);
    this.semiSyncNames = semiSyncNames(atLeast(version, 8, 0, 26));
    this.changeSource = atLeast(version, 8, 0, 23);
    const modern = atLeast(version, 8, 0, 26);
    this.facts = factsProbe(this.semiSyncNames, modern ? semiSyncNames(false) : undefined);
  }

  history(executed: string, receivedGtids: string): History {
    const received = mysqlGtid.format(mysqlGtid.union(set(executed), set(receivedGtids)));
    return { flavor: 'mysql', executed, received };
  }

  errant(node: History, others: readonly History[], ignoreServer: { id: number; uuid: string }): string {
    const known = others.reduce((all, other) => mysqlGtid.union(all, set(other.received)), mysqlGtid.EMPTY);
    // Every tag of the failed primary's UUID is its own writes (8.4 tags stay under the server's UUID).
    const ignored = ignoreServer.uuid.trim().toLowerCase();
    const own = set(node.executed).filter((entry) => entry.uuid !== ignored);
    return mysqlGtid.format(mysqlGtid.subtract(own, known));
  }

  missing(node: string, reference: string): string {
    return mysqlGtid.format(mysqlGtid.subtract(set(node), set(reference)));
  }

  /** Executed breaks a tie only between equal received sets: crossed sets are not ordered at all. */
  compare(a: History, b: History): number {
    const received = order(set(a.received), set(b.received));
    if (received !== 0) return received ?? 0;
    return order(set(a.executed), set(b.executed)) ?? 0;
  }

  /** `super_read_only = ON` turns `read_only` on with it and also refuses SUPER/CONNECTION_ADMIN accounts. */
  readonly fence = [statement('SET GLOBAL super_read_only = ON')];
  /** Turning `super_read_only` off leaves `read_only` on: both, in this order. */
  readonly unfence = [statement('SET GLOBAL super_read_only = OFF'), statement('SET GLOBAL read_only = OFF')];
  readonly stopReceiving = [statement('STOP REPLICA IO_THREAD')];
  readonly startReceiving = [statement('START REPLICA IO_THREAD')];
  readonly startApplying = [statement('START REPLICA SQL_THREAD')];
  readonly forgetSource = [statement('STOP REPLICA'), statement('RESET REPLICA ALL')];

  /**
   * The router's wait (`WAIT_FOR_EXECUTED_GTID_SET`: 0 applied, 1 timeout), so its timeout rules hold here
   * too: a positive budget is never sent as 0, which would mean "wait forever"; 0 or less only checks.
   */
  waitApplied(history: History, timeoutMs: number): Probe<ApplyOutcome> {
    const position = parsePosition('mysql', history.received);
    const wait = position.ok ? this.router.waitForPosition(position.value, timeoutMs) : undefined;
    if (wait === undefined) {
      // Never "applied" for a set that cannot be read: waiting for the empty set would say so at once.
      const why = position.ok ? 'not a MySQL position' : position.error;
      return probe('SELECT NULL AS waited', [], () =>
        failed(`cannot wait for "${history.received}": ${why}`),
      );
    }
    return probe(wait.sql, wait.values, (result) => {
      const outcome = wait.parse(result);
      if (!outcome.ok) return outcome;
      return parsed(outcome.value === 'reached' ? 'applied' : 'timeout');
    });
  }

  /**
   * A former primary needs nothing extra: its own writes are in its `gtid_executed`, which auto-position
   * sends, so the source skips them. Changing the host drops the relay log, so whatever was received and
   * not yet applied is fetched again from the new source (or lost if it lacks it: wait first).
   */
  follow(source: Source, options: FollowOptions): readonly Statement[] {
    const values: unknown[] = [
      source.host,
      source.port,
      source.user,
      source.password,
      options.heartbeatMs / 1_000,
    ];
    const word = this.changeSource ? 'SOURCE' : 'MASTER';
    let ssl = `${word}_SSL = 0`;
    if (source.caFile !== undefined) {
      ssl = `${word}_SSL = 1, ${word}_SSL_CA = ?, ${word}_SSL_VERIFY_SERVER_CERT = 1`;
      values.push(source.caFile);
    }
    const change = this.changeSource
      ? `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = ?, ${ssl}, GET_SOURCE_PUBLIC_KEY = 1`
      : `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_AUTO_POSITION = 1, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ?, ${ssl}, GET_MASTER_PUBLIC_KEY = 1`;
    // GET_SOURCE_PUBLIC_KEY: caching_sha2_password (8.0's default) refuses a replica on a plain connection
    // that has neither the source's RSA key nor a cached login; asking for the key lets it in.
    return [statement('STOP REPLICA'), statement(change, values), statement('START REPLICA')];
  }

  semiSync(settings: SemiSyncSettings): readonly Statement[] {
    const on = settings.enabled ? 'ON' : 'OFF';
    const names = this.semiSyncNames;
    return [
      statement(
        `SET GLOBAL ${names.sourceEnabled} = ${on}, GLOBAL ${names.replicaEnabled} = ${on}, GLOBAL ${names.waitPoint} = AFTER_SYNC, GLOBAL ${names.timeout} = ?`,
        // An integer variable: MySQL refuses a fraction with "Incorrect argument type".
        [Math.max(0, Math.round(settings.timeoutMs))],
      ),
    ];
  }

  /** Lock names longer than 64 characters are an error on MySQL, not a refusal. */
  takeLock(name: string): Probe<boolean> {
    return probe('SELECT GET_LOCK(?, 0) AS taken', [name], (result) =>
      parsed(readCount(firstRow(result)?.taken) === 1),
    );
  }

  sessionLease(seconds: number): Statement {
    return statement('SET SESSION wait_timeout = ?', [Math.max(1, Math.ceil(seconds))]);
  }
}
