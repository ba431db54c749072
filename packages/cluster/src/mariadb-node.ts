import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { findBinary } from './binaries.js';
import { ClusterError } from './errors.js';
import { HERE, type Launcher } from './host-access.js';
import { runCommand, tailFile } from './managed-process.js';
import { databaseConfig } from './render/service-configs.js';
import { NATIVE_RUNTIME } from './runtime/native-runtime.js';
import type { ProcessRuntime, SupervisedProcess } from './runtime/supervised-process.js';
import { databaseServiceUser, handOver, harnessUserName, type ServiceUser } from './service-user.js';
import { renderTemplateText, writeRenderedFile } from './templates.js';
import { waitFor } from './wait.js';

export type DbRole = 'primary' | 'replica';

/** What `SHOW SLAVE STATUS` says, in the names a test wants. */
export interface ReplicationStatus {
  readonly primaryHost: string;
  readonly primaryPort: number;
  readonly ioRunning: boolean;
  readonly sqlRunning: boolean;
  /** NULL in MariaDB (replication broken or stopped) becomes null here. */
  readonly secondsBehindPrimary: number | null;
  /** The configured MASTER_DELAY, in seconds. */
  readonly sqlDelaySeconds: number;
  readonly gtidSlavePos: string;
  readonly lastError: string;
}

/** One MariaDB node as a test sees it: where it is, and the faults it can suffer. */
export interface DbNode {
  /** `db-primary`, `db-replica-1`, ...: the name it started with (roles may change by promotion). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  readonly role: DbRole;
  readonly running: boolean;
  readonly paused: boolean;
  readonly pid: number | undefined;
  /** SIGKILL: like a crash. Undo with restart(). */
  kill(): Promise<void>;
  /** SIGSTOP: the node hangs with its connections open. Undo with resume(). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Graceful stop if running, then start again with the same data; replicas resume replicating. */
  restart(): Promise<void>;
  /** A query as the server's root user over the local socket. */
  query<T extends RowDataPacket[] = RowDataPacket[]>(sql: string, values?: readonly unknown[]): Promise<T>;
  /** STOP SLAVE (replicas only). Undo with startReplication(). */
  stopReplication(): Promise<void>;
  startReplication(): Promise<void>;
  /** MASTER_DELAY, rounded up to whole seconds as MariaDB counts it; 0 removes the delay. */
  delayReplication(ms: number): Promise<void>;
  /** Undefined on a node that does not replicate. */
  replicationStatus(): Promise<ReplicationStatus | undefined>;
  /** Makes this replica the primary and re-points every other node at it. */
  promote(): Promise<void>;
}

export interface ReplicationAccount {
  readonly user: string;
  readonly password: string;
}

/** The node's TLS material, all inside its state directory (the server reads them as its own user). */
export interface NodeTls {
  readonly caFile: string;
  readonly certificateFile: string;
  readonly keyFile: string;
}

export interface MariaDbNodeConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  readonly role: DbRole;
  /** This node's state directory (datadir, socket, config, logs). */
  readonly dir: string;
  readonly replication: ReplicationAccount;
  /** Served to every TCP client (no plain-text TCP at all) and used to verify the primary when replicating. */
  readonly tls: NodeTls;
  readonly startTimeoutMs: number;
  /** Asks the cluster to promote this node (the cluster re-points the others). */
  readonly onPromote: (node: MariaDbNode) => Promise<void>;
  /** After a restart: the cluster re-points the node if the primary changed while it was down. */
  readonly onRestarted: (node: MariaDbNode) => Promise<void>;
  /** Semi-sync settings for my.cnf; undefined: asynchronous replication. */
  readonly semiSync: { readonly timeoutMs: number } | undefined;
  /**
   * Failover managers own the roles: the node always starts read-only (the primary too: the harness
   * makes it writable at boot, a manager after that), so a crashed primary never comes back writable.
   */
  readonly managed: boolean;
  /** How to start the server on the node's host. Default: here (loopback). */
  readonly launch?: Launcher;
  /** What runs it: a child process (default) or a container. */
  readonly runtime?: ProcessRuntime;
}

const ADMIN_TIMEOUT_MS = 5_000;

export class MariaDbNode implements DbNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  private currentRole: DbRole;
  /** The primary this node replicates from, as `host:port`; undefined for a primary. */
  private following: string | undefined;
  private wasPrimary: boolean;
  private readonly process: SupervisedProcess;
  private readonly serviceUser: ServiceUser | undefined = databaseServiceUser();
  private readonly paths: {
    datadir: string;
    tmpDir: string;
    filesDir: string;
    socket: string;
    config: string;
    errorLog: string;
    pid: string;
  };

  constructor(private readonly config: MariaDbNodeConfig) {
    this.name = config.name;
    this.host = config.host;
    this.port = config.port;
    this.serverId = config.serverId;
    this.currentRole = config.role;
    this.wasPrimary = config.role === 'primary';
    this.paths = {
      datadir: join(config.dir, 'data'),
      tmpDir: join(config.dir, 'tmp'),
      filesDir: join(config.dir, 'files'),
      socket: join(config.dir, 'mariadb.sock'),
      config: join(config.dir, 'my.cnf'),
      errorLog: join(config.dir, 'error.log'),
      pid: join(config.dir, 'mariadb.pid'),
    };
    // On the node's own host: its namespace under the netns model (the server binds the node's address).
    const line = (config.launch ?? HERE)(findBinary('mariadbd'), [
      `--defaults-file=${this.paths.config}`,
      ...this.userArgs(),
    ]);
    this.process = (config.runtime ?? NATIVE_RUNTIME).process({
      name: config.name,
      command: line.command,
      args: line.args,
      logFile: join(config.dir, 'mariadbd.out'),
      // For a runtime that waits itself (docker): the server answers on its socket.
      readiness: [
        'mariadb-admin',
        '--no-defaults',
        `--socket=${this.paths.socket}`,
        '--connect-timeout=1',
        'ping',
      ],
    });
  }

  get role(): DbRole {
    return this.currentRole;
  }
  get running(): boolean {
    return this.process.running;
  }
  get paused(): boolean {
    return this.process.isPaused;
  }
  get pid(): number | undefined {
    return this.process.pid;
  }
  /** The node's unix socket (the harness's and the exporter's way in). */
  get socketPath(): string {
    return this.paths.socket;
  }

  get endpoint(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Creates the data directory (system tables only; users come from the primary by replication). The one
   * account it starts with is the harness's own login over the unix socket (unix_socket authentication,
   * no password exists to guess or leak): root can reach no node over TCP.
   */
  async initialize(): Promise<void> {
    mkdirSync(this.paths.tmpDir, { recursive: true });
    mkdirSync(this.paths.filesDir, { recursive: true });
    this.renderConfig();
    handOver(this.config.dir, this.serviceUser);
    // Data, key and logs: the server's alone.
    chmodSync(this.config.dir, 0o700);
    await runCommand(
      findBinary('mariadb-install-db'),
      [
        `--defaults-file=${this.paths.config}`,
        '--auth-root-authentication-method=socket',
        `--auth-root-socket-user=${harnessUserName()}`,
        '--skip-test-db',
        ...this.userArgs(),
      ],
      { timeoutMs: 60_000 },
    );
  }

  /** Starts mariadbd and waits until it answers on its socket. */
  async start(): Promise<void> {
    this.renderConfig();
    this.process.start();
    await waitFor(async () => (await this.query('SELECT 1 AS ok')).length, {
      what: `${this.name} to accept connections`,
      timeoutMs: this.config.startTimeoutMs,
      abortIf: () => this.process.deathReason() ?? undefined,
    }).catch((error: unknown) => {
      throw withLogTail(error, this.paths.errorLog);
    });
  }

  /** Forgets binlogs written before replication was set up (bootstrap), so GTID strict mode holds. */
  async resetBinlog(): Promise<void> {
    await this.query('RESET MASTER');
  }

  async query<T extends RowDataPacket[] = RowDataPacket[]>(
    sql: string,
    values: readonly unknown[] = [],
  ): Promise<T> {
    const connection = await mysql.createConnection({
      socketPath: this.paths.socket,
      // unix_socket authentication: the server checks the connecting process's login, no password.
      user: harnessUserName(),
      connectTimeout: ADMIN_TIMEOUT_MS,
      multipleStatements: true,
    });
    try {
      const [rows] = await connection.query<T>({ sql, timeout: ADMIN_TIMEOUT_MS }, [...values]);
      return rows;
    } catch (error) {
      // mysql2 keeps the statement on its error, and the set-up scripts carry passwords in theirs.
      if (typeof (error as { sql?: unknown }).sql === 'string') {
        (error as { sql: string }).sql = redactPasswords((error as { sql: string }).sql);
      }
      throw error;
    } finally {
      connection.destroy();
    }
  }

  /**
   * Points this node at `primary` and starts replicating. With `caughtUpTimeoutMs` it waits until it has
   * applied everything the primary has; without, only until both replication threads run.
   */
  async follow(primary: MariaDbNode, caughtUpTimeoutMs?: number): Promise<void> {
    await this.query('STOP SLAVE');
    await this.query('SET GLOBAL read_only = ON');
    if (this.wasPrimary) {
      // A demoted primary's own writes are in its binlog, not in gtid_slave_pos: without this it would
      // ask the new primary for everything again and fail on duplicates.
      await this.query('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos');
      this.wasPrimary = false;
    }
    await this.query(
      renderTemplateText('mariadb/follow-primary.sql.tmpl', {
        primaryHost: primary.host,
        primaryPort: primary.port,
        replicationUser: this.config.replication.user,
        replicationPassword: this.config.replication.password,
        caFile: this.config.tls.caFile,
      }),
    );
    await this.query('START SLAVE');
    this.following = primary.endpoint;
    this.currentRole = 'replica';
    if (caughtUpTimeoutMs !== undefined) await this.waitCaughtUp(primary, caughtUpTimeoutMs);
    else await this.waitReplicating(primary);
  }

  private async waitReplicating(primary: MariaDbNode): Promise<void> {
    await waitFor(
      async () => {
        const status = await this.replicationStatus();
        if (status?.lastError) throw new Error(status.lastError);
        return status?.ioRunning && status.sqlRunning ? true : undefined;
      },
      { what: `${this.name} to replicate from ${primary.name}`, timeoutMs: this.config.startTimeoutMs },
    );
  }

  /** Waits until both replication threads run and this node has applied the primary's current position. */
  async waitCaughtUp(primary: MariaDbNode, timeoutMs: number): Promise<void> {
    const [position] = await primary.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const target = String(position?.pos ?? '');
    await waitFor(
      async () => {
        const status = await this.replicationStatus();
        if (status?.lastError) throw new Error(status.lastError);
        if (!status?.ioRunning || !status.sqlRunning) return undefined;
        const [row] = await this.query('SELECT MASTER_GTID_WAIT(?, 0.5) AS waited', [target]);
        return row?.waited === 0 ? true : undefined;
      },
      {
        what: `${this.name} to replicate from ${primary.name} up to ${target || 'the start'}`,
        timeoutMs,
        abortIf: () => this.process.deathReason(),
      },
    );
  }

  /**
   * What the server says this node is now (writable: primary; else replica, with its source), for the
   * cluster's bookkeeping after a failover manager changed roles. False when it cannot be asked.
   */
  async observeRole(nodes: readonly MariaDbNode[]): Promise<boolean> {
    if (!this.running || this.paused) return false;
    try {
      const [row] = await this.query('SELECT @@GLOBAL.read_only AS ro');
      const writable = Number(row?.ro) === 0;
      const [status] = await this.query('SHOW SLAVE STATUS');
      this.currentRole = writable ? 'primary' : 'replica';
      const source =
        status === undefined ? undefined : `${String(status.Master_Host)}:${String(status.Master_Port)}`;
      this.following = writable ? undefined : nodes.find((n) => n.endpoint === source)?.endpoint;
      // A node that was ever primary keeps its own writes in its binlog (see follow()).
      if (writable) this.wasPrimary = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Turns this node into a writable primary that replicates from nobody. */
  async becomePrimary(): Promise<void> {
    if ((await this.replicationStatus()) !== undefined) {
      // Apply everything already fetched before cutting the link: nothing acknowledged upstream is lost.
      await this.query('STOP SLAVE');
      await this.query('CHANGE MASTER TO MASTER_DELAY = 0');
      await this.query('START SLAVE SQL_THREAD');
      // Gtid_IO_Pos: the last GTID the IO thread fetched into the relay log.
      const [status] = await this.query('SHOW SLAVE STATUS');
      await this.query('SELECT MASTER_GTID_WAIT(?, 30)', [String(status?.Gtid_IO_Pos ?? '')]);
      await this.query('STOP SLAVE');
      await this.query('RESET SLAVE ALL');
    }
    await this.query('SET GLOBAL read_only = OFF');
    this.currentRole = 'primary';
    this.following = undefined;
    this.wasPrimary = true;
  }

  /** Marks a node that is down as a replica of `primary`; it follows it when restarted. */
  demoteWhileDown(): void {
    this.currentRole = 'replica';
    this.following = undefined;
  }

  needsRepointing(primary: MariaDbNode): boolean {
    return this.currentRole === 'replica' && this.following !== primary.endpoint;
  }

  async kill(): Promise<void> {
    await this.process.kill();
  }

  async pause(): Promise<void> {
    await this.process.pause();
  }

  async resume(): Promise<void> {
    await this.process.resume();
  }

  /** Stops (gracefully) and starts again; the cluster re-points it if the primary changed meanwhile. */
  async restart(): Promise<void> {
    await this.process.stop(30_000);
    await this.start();
    await this.config.onRestarted(this);
  }

  async stopReplication(): Promise<void> {
    this.requireReplica('stopReplication');
    await this.query('STOP SLAVE');
  }

  async startReplication(): Promise<void> {
    this.requireReplica('startReplication');
    await this.query('START SLAVE');
  }

  async delayReplication(ms: number): Promise<void> {
    this.requireReplica('delayReplication');
    if (!Number.isFinite(ms) || ms < 0) {
      throw new ClusterError(`delayReplication(ms): ms must be >= 0, got ${ms}`, 'CLUSTER_INVALID_OPTION');
    }
    const seconds = Math.ceil(ms / 1000);
    // MASTER_DELAY can only change while replication is stopped.
    await this.query('STOP SLAVE');
    await this.query(`CHANGE MASTER TO MASTER_DELAY = ${seconds}`);
    await this.query('START SLAVE');
  }

  async replicationStatus(): Promise<ReplicationStatus | undefined> {
    const [row] = await this.query('SHOW SLAVE STATUS');
    if (!row) return undefined;
    // SHOW SLAVE STATUS's own Gtid_Slave_Pos column lags behind; the variable is exact.
    const [position] = await this.query('SELECT @@GLOBAL.gtid_slave_pos AS pos');
    const behind = row.Seconds_Behind_Master;
    return {
      primaryHost: String(row.Master_Host),
      primaryPort: Number(row.Master_Port),
      ioRunning: row.Slave_IO_Running === 'Yes',
      sqlRunning: row.Slave_SQL_Running === 'Yes',
      secondsBehindPrimary: behind === null || behind === undefined ? null : Number(behind),
      sqlDelaySeconds: Number(row.SQL_Delay ?? 0),
      gtidSlavePos: String(position?.pos ?? ''),
      lastError: String(row.Last_SQL_Error || row.Last_IO_Error || ''),
    };
  }

  promote(): Promise<void> {
    return this.config.onPromote(this);
  }

  /** Graceful shutdown for cluster.stop(). */
  async stop(): Promise<void> {
    await this.process.stop(15_000);
  }

  private requireReplica(operation: string): void {
    if (this.currentRole !== 'replica') {
      throw new ClusterError(
        `${operation}: ${this.name} is the primary, not a replica`,
        'CLUSTER_INVALID_OPTION',
      );
    }
  }

  private renderConfig(): void {
    // The function `rwsplit-cluster render` writes a real host's my.cnf with: one source of config.
    writeRenderedFile(
      this.paths.config,
      databaseConfig('mariadb', {
        datadir: this.paths.datadir,
        tmpDir: this.paths.tmpDir,
        socket: this.paths.socket,
        pidFile: this.paths.pid,
        errorLog: this.paths.errorLog,
        host: this.host,
        port: this.port,
        serverId: this.serverId,
        readOnly: this.config.managed || this.currentRole === 'replica',
        semiSyncTimeoutMs: this.config.semiSync?.timeoutMs,
        managed: this.config.managed,
        filesDir: this.paths.filesDir,
        tls: {
          ca: this.config.tls.caFile,
          certificate: this.config.tls.certificateFile,
          key: this.config.tls.keyFile,
        },
      }),
    );
  }

  /** Started as root, mariadbd drops to the service user (see `databaseServiceUser`). */
  private userArgs(): string[] {
    return this.serviceUser === undefined ? [] : [`--user=${this.serviceUser.name}`];
  }
}

/** The statement without its passwords (`IDENTIFIED BY '...'`, `MASTER_PASSWORD = '...'`). */
export function redactPasswords(sql: string): string {
  return sql.replace(/(IDENTIFIED BY|MASTER_PASSWORD\s*=)\s*'[^']*'/gi, "$1 '<redacted>'");
}

function withLogTail(error: unknown, errorLog: string): unknown {
  if (!(error instanceof ClusterError)) return error;
  return new ClusterError(
    `${error.message}\nlast lines of ${errorLog}:\n${tailFile(errorLog, 15)}`,
    error.code,
    {
      cause: error.cause,
    },
  );
}
