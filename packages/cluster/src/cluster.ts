import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServerHost, type Server } from './app-server.js';
import { findBinary } from './binaries.js';
import { createCertificate } from './certificate.js';
import { ClusterError } from './errors.js';
import { type FailoverManagerHandle, FailoverManagers } from './failover-managers.js';
import { isAhead, mostAdvanced } from './gtid-order.js';
import { HOST_OCTETS, type HostModel, LoopbackHostModel } from './host-model.js';
import { LoadBalancer } from './load-balancer.js';
import { type DbNode, MariaDbNode } from './mariadb-node.js';
import {
  type AppSpec,
  type ClusterOptions,
  type Credentials,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { forgetCluster, trackCluster } from './signals.js';
import { renderTemplateText } from './templates.js';
import { waitFor } from './wait.js';

const NOTES_APP_DIR = fileURLToPath(new URL('../../../examples/notes-app/', import.meta.url));

/**
 * The app every server runs unless told otherwise: examples/notes-app, from its TypeScript source
 * (`--import tsx` resolves from `cwd`), with Nginx serving its dashboard files.
 */
export const NOTES_APP: AppSpec = {
  command: [process.execPath, '--conditions=source', '--import', 'tsx', join(NOTES_APP_DIR, 'src/main.ts')],
  cwd: NOTES_APP_DIR,
  staticDir: join(NOTES_APP_DIR, 'public'),
};

/** A dependency-free app for harness tests: echoes the request it got and says which server it is. */
export const ECHO_APP: AppSpec = {
  command: [process.execPath, fileURLToPath(new URL('../../../test/fixtures/echo-app.mjs', import.meta.url))],
};

/** Where to reach the load balancer (only clusters with servers have one). */
export interface LoadBalancerEndpoints {
  readonly host: string;
  /** Plain HTTP; every request is redirected to HTTPS. */
  readonly httpUrl: string;
  readonly httpsUrl: string;
  /** HAProxy stats page (basic auth: `credentials.stats`). */
  readonly statsUrl: string;
  /** HAProxy's built-in Prometheus exporter. */
  readonly prometheusUrl: string;
  /** The self-signed certificate the LB serves: trust it as a CA in clients. */
  readonly certificatePem: string;
}

export interface ClusterCredentials {
  /** The application's account: DML + DDL on `database` only. */
  readonly app: Credentials & { readonly database: string };
  /** Everything, for operators and tests. */
  readonly admin: Credentials;
  /** Replication state and the heartbeat table, for the router's topology monitor. */
  readonly monitor: Credentials;
  /** HAProxy stats page. */
  readonly stats: Credentials;
}

/** Everything a script needs to talk to a running cluster, as plain JSON. */
export interface ClusterEndpoints {
  readonly stateDir: string;
  readonly block: string;
  readonly lb: Omit<LoadBalancerEndpoints, 'certificatePem'> | null;
  readonly servers: readonly { name: string; nginx: string; app: string }[];
  readonly db: readonly { name: string; role: string; host: string; port: number; serverId: number }[];
  readonly credentials: ClusterCredentials;
}

/** A started cluster: endpoints, faults and stop(). Nothing on it is "undefined until started". */
export interface Cluster {
  /** All state (datadirs, configs, logs, certificates): kept after a failure, printed in errors. */
  readonly stateDir: string;
  /** The cluster's address block, `127.X.Y`. */
  readonly block: string;
  readonly hostModel: HostModel;
  readonly credentials: ClusterCredentials;
  /** Throws for a database-only cluster (`servers: 0`), which has no LB. */
  readonly lb: LoadBalancerEndpoints;
  readonly servers: readonly Server[];
  server(index: number): Server;
  /** Every DB node in start order: `db-primary`, `db-replica-1`, ... (names stay; roles may change). */
  readonly dbNodes: readonly DbNode[];
  /** The node that is primary now (after a promotion, the promoted one). */
  primary(): DbNode;
  /** The index-th node that is a replica now. */
  replica(index: number): DbNode;
  replicas(): DbNode[];
  /** The failover managers (empty with `failover: false` or without replicas). */
  readonly failover: readonly FailoverManagerHandle[];
  /** The manager that leads now, waiting up to `timeoutMs` for one. Throws without managers. */
  failoverLeader(timeoutMs?: number): Promise<FailoverManagerHandle>;
  /**
   * Re-reads every running node's role from the server (`read_only`, its source): after a failover
   * manager promoted a replica, `primary()` and `replicas()` say so again.
   */
  refreshRoles(): Promise<void>;
  /** Waits until a running node other than `not` is writable, and returns it (roles refreshed). */
  waitForPrimary(options?: { readonly not?: DbNode; readonly timeoutMs?: number }): Promise<DbNode>;
  /** HAProxy's view of each server (`UP`, `DOWN`, `DRAIN` ...). Throws without servers. */
  backendStates(): Promise<{ name: string; status: string }[]>;
  endpoints(): ClusterEndpoints;
  /** Stops every process, waits for each to be reaped, releases the block. Safe to call twice. */
  stop(): Promise<void>;
}

class RunningCluster implements Cluster {
  readonly dbNodes: MariaDbNode[] = [];
  readonly servers: AppServerHost[] = [];
  private loadBalancer: LoadBalancer | undefined;
  private managers: FailoverManagers | undefined;
  private certificatePem = '';
  private stopping: Promise<void> | undefined;
  readonly credentials: ClusterCredentials;

  constructor(
    readonly options: ResolvedOptions,
    readonly hostModel: HostModel,
    readonly stateDir: string,
  ) {
    const c = options.credentials;
    this.credentials = {
      app: { ...c.app, database: c.database },
      admin: c.admin,
      monitor: c.monitor,
      stats: c.stats,
    };
  }

  get block(): string {
    return this.hostModel.block;
  }

  get lb(): LoadBalancerEndpoints {
    const lb = this.loadBalancer;
    if (!lb)
      throw new ClusterError('this cluster has no load balancer (servers: 0)', 'CLUSTER_INVALID_OPTION');
    const { host, httpUrl, httpsUrl, statsUrl, prometheusUrl } = lb;
    return { host, httpUrl, httpsUrl, statsUrl, prometheusUrl, certificatePem: this.certificatePem };
  }

  server(index: number): Server {
    const server = this.servers[index];
    if (!server)
      throw new ClusterError(
        `no server ${index}; this cluster has ${this.servers.length}`,
        'CLUSTER_INVALID_OPTION',
      );
    return server;
  }

  primary(): MariaDbNode {
    // After a failover a dead old primary may still be marked so until it is seen again: the running one wins.
    const primary =
      this.dbNodes.find((node) => node.role === 'primary' && node.running) ??
      this.dbNodes.find((node) => node.role === 'primary');
    if (!primary) throw new ClusterError('no node is primary', 'CLUSTER_COMMAND_FAILED');
    return primary;
  }

  replicas(): MariaDbNode[] {
    return this.dbNodes.filter((node) => node.role === 'replica');
  }

  get failover(): readonly FailoverManagerHandle[] {
    return this.managers?.handles ?? [];
  }

  failoverLeader(timeoutMs?: number): Promise<FailoverManagerHandle> {
    if (this.managers === undefined) {
      throw new ClusterError(
        'this cluster runs no failover managers (failover: false)',
        'CLUSTER_INVALID_OPTION',
      );
    }
    return this.managers.leader(timeoutMs);
  }

  async refreshRoles(): Promise<void> {
    await Promise.all(this.dbNodes.map((node) => node.observeRole(this.dbNodes)));
  }

  async waitForPrimary(
    options: { readonly not?: DbNode; readonly timeoutMs?: number } = {},
  ): Promise<DbNode> {
    return waitFor(
      async () => {
        await this.refreshRoles();
        return this.dbNodes.find(
          (node) => node !== options.not && node.running && !node.paused && node.role === 'primary',
        );
      },
      {
        what: `a writable primary${options.not ? ` other than ${options.not.name}` : ''}`,
        timeoutMs: options.timeoutMs ?? 30_000,
        intervalMs: 50,
      },
    );
  }

  replica(index: number): MariaDbNode {
    const replica = this.replicas()[index];
    if (!replica)
      throw new ClusterError(
        `no replica ${index}; this cluster has ${this.replicas().length}`,
        'CLUSTER_INVALID_OPTION',
      );
    return replica;
  }

  async backendStates(): Promise<{ name: string; status: string }[]> {
    const lb = this.loadBalancer;
    if (!lb)
      throw new ClusterError('this cluster has no load balancer (servers: 0)', 'CLUSTER_INVALID_OPTION');
    return lb.backends();
  }

  endpoints(): ClusterEndpoints {
    const lb = this.loadBalancer;
    return {
      stateDir: this.stateDir,
      block: this.block,
      lb: lb
        ? {
            host: lb.host,
            httpUrl: lb.httpUrl,
            httpsUrl: lb.httpsUrl,
            statsUrl: lb.statsUrl,
            prometheusUrl: lb.prometheusUrl,
          }
        : null,
      servers: this.servers.map((s) => ({ name: s.name, nginx: s.nginx.url, app: s.app.url })),
      db: this.dbNodes.map((n) => ({
        name: n.name,
        role: n.role,
        host: n.host,
        port: n.port,
        serverId: n.serverId,
      })),
      credentials: this.credentials,
    };
  }

  async boot(): Promise<void> {
    await this.bootDatabases();
    await this.bootFailover();
    if (this.options.servers > 0) await this.bootServers();
  }

  private async bootDatabases(): Promise<void> {
    const { options, hostModel } = this;
    for (let index = 0; index <= options.replicas; index++) {
      const host = hostModel.address(HOST_OCTETS.dbNode(index));
      this.dbNodes.push(
        new MariaDbNode({
          name: index === 0 ? 'db-primary' : `db-replica-${index}`,
          host,
          port: await hostModel.claimPort(host, options.ports.mariadb),
          serverId: index + 1,
          role: index === 0 ? 'primary' : 'replica',
          dir: join(this.stateDir, index === 0 ? 'db-primary' : `db-replica-${index}`),
          replication: options.credentials.replication,
          startTimeoutMs: options.startTimeoutMs,
          onPromote: (node) => this.promote(node),
          onRestarted: (node) => this.repointIfNeeded(node),
          semiSync: options.semiSync,
          managed: options.failover !== undefined,
        }),
      );
    }
    await Promise.all(this.dbNodes.map((node) => node.initialize()));
    await Promise.all(this.dbNodes.map((node) => node.start()));
    // Bootstrap may have written binlog events; GTID strict mode wants every node to start from nothing.
    await Promise.all(this.dbNodes.map((node) => node.resetBinlog()));
    const primary = this.primary();
    const c = options.credentials;
    await primary.query(
      renderTemplateText('mariadb/init-primary.sql.tmpl', {
        appDatabase: c.database,
        adminUser: c.admin.user,
        adminPassword: c.admin.password,
        appUser: c.app.user,
        appPassword: c.app.password,
        monitorUser: c.monitor.user,
        monitorPassword: c.monitor.password,
        replicationUser: c.replication.user,
        replicationPassword: c.replication.password,
      }),
    );
    await Promise.all(this.replicas().map((replica) => replica.follow(primary, options.startTimeoutMs)));
    // Managed nodes all start read-only; from here on the leading manager owns the flag.
    if (options.failover !== undefined) await primary.query('SET GLOBAL read_only = OFF');
  }

  private async bootFailover(): Promise<void> {
    const { options, hostModel } = this;
    const failover = options.failover;
    if (failover === undefined) return;
    // One manager per app server host (their addresses exist whether or not the servers run).
    const hosts = [];
    for (let index = 0; index < failover.managers; index++) {
      const host = hostModel.address(HOST_OCTETS.server(index));
      hosts.push({ host, port: await hostModel.claimPort(host, 7300) });
    }
    this.managers = new FailoverManagers(
      join(this.stateDir, 'failover'),
      hosts,
      this.dbNodes,
      options.credentials.admin,
      options.credentials.replication,
      failover,
      options.semiSync,
      options.startTimeoutMs,
    );
    await this.managers.start(options.startTimeoutMs);
  }

  private async bootServers(): Promise<void> {
    const { options, hostModel } = this;
    const lbHost = hostModel.address(HOST_OCTETS.lb);
    const lbDir = join(this.stateDir, 'lb');
    mkdirSync(lbDir, { recursive: true });
    const certificate = await createCertificate(lbDir, lbHost);
    this.certificatePem = certificate.certificatePem;
    const primary = this.primary();
    const appEnv = {
      DB_PRIMARY: `${primary.host}:${primary.port}`,
      DB_REPLICAS: this.replicas()
        .map((replica) => `${replica.host}:${replica.port}`)
        .join(','),
      DB_NAME: options.credentials.database,
      DB_USER: options.credentials.app.user,
      DB_PASSWORD: options.credentials.app.password,
      DB_MONITOR_USER: options.credentials.monitor.user,
      DB_MONITOR_PASSWORD: options.credentials.monitor.password,
    };
    for (let index = 0; index < options.servers; index++) {
      const host = hostModel.address(HOST_OCTETS.server(index));
      const dir = join(this.stateDir, `server-${index + 1}`);
      mkdirSync(dir, { recursive: true });
      this.servers.push(
        new AppServerHost({
          name: `server-${index + 1}`,
          dir,
          host,
          appPort: await hostModel.claimPort(host, options.ports.app),
          nginxPort: await hostModel.claimPort(host, options.ports.nginx),
          app: options.app ?? NOTES_APP,
          appEnv,
          startTimeoutMs: options.startTimeoutMs,
          lb: () => this.loadBalancer,
        }),
      );
    }
    await Promise.all(this.servers.map((server) => server.start()));
    const lb = new LoadBalancer({
      dir: lbDir,
      host: lbHost,
      httpPort: await hostModel.claimPort(lbHost, options.ports.lbHttp),
      httpsPort: await hostModel.claimPort(lbHost, options.ports.lbHttps),
      statsPort: await hostModel.claimPort(lbHost, options.ports.lbStats),
      balance: options.balance,
      mode: options.mode,
      backends: this.servers.map((s) => ({ name: s.name, host: s.host, port: s.nginx.port })),
      certificate,
      stats: options.credentials.stats,
      startTimeoutMs: options.startTimeoutMs,
    });
    this.loadBalancer = lb;
    await lb.start();
    await lb.waitAllUp(options.startTimeoutMs);
  }

  /**
   * The manual fault. With failover managers: a switchover by the leading manager (the primary must be
   * alive; a dead one is the managers' to replace). Without: the old primary (if alive) stops taking
   * writes, `node` first catches up with the most advanced running node if it is behind (so no other
   * replica is left ahead of it, unable to follow), then takes writes, and every running node follows it.
   */
  private async promote(node: MariaDbNode): Promise<void> {
    await this.refreshRoles();
    if (node.role === 'primary') return;
    if (!node.running)
      throw new ClusterError(`cannot promote ${node.name}: it is not running`, 'CLUSTER_COMMAND_FAILED');
    if (this.managers !== undefined) {
      const old = this.dbNodes.find((n) => n.role === 'primary' && n.running && !n.paused);
      if (old === undefined) {
        throw new ClusterError(
          `cannot promote ${node.name} by hand: the primary is down and the failover managers replace it themselves`,
          'CLUSTER_COMMAND_FAILED',
        );
      }
      await (await this.managers.leader()).post('/switchover', { to: node.name });
      await this.waitForPrimary({ not: old });
      return;
    }
    const old = this.dbNodes.find((n) => n.role === 'primary');
    const reachable = this.dbNodes.filter((n) => n.running && !n.paused);
    if (old !== undefined && reachable.includes(old)) await old.query('SET GLOBAL read_only = ON');
    const ahead = await mostAdvanced(reachable.filter((n) => n !== node));
    if (ahead !== undefined && (await isAhead(ahead, node))) {
      // Take what it lacks from the node that has the most, then stop: `node` is now as far as any.
      await node.follow(ahead, this.options.startTimeoutMs);
    }
    await node.becomePrimary();
    for (const other of this.dbNodes) {
      if (other === node) continue;
      // A node that is down follows the new primary when it is restarted (see repointIfNeeded).
      if (other.running && !other.paused) await other.follow(node);
      else other.demoteWhileDown();
    }
  }

  private async repointIfNeeded(node: MariaDbNode): Promise<void> {
    // With managers, a node that comes back is theirs to fence and rejoin (or keep out if it diverged).
    if (this.managers !== undefined) return;
    const primary = this.primary();
    if (node !== primary && node.needsRepointing(primary)) await node.follow(primary);
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown(this.options.keepState);
    return this.stopping;
  }

  /** Ends every process (graceful first, SIGKILL after a grace period) and reaps it. */
  async teardown(keepState: boolean): Promise<void> {
    try {
      await this.loadBalancer?.stop();
      // Managers first: a manager would take the databases' shutdown for a failure.
      await this.managers?.stop();
      await Promise.all(this.servers.map((server) => server.stop()));
      await Promise.all(this.dbNodes.map((node) => node.stop()));
    } finally {
      forgetCluster(this);
      this.hostModel.release();
      if (!keepState) rmSync(this.stateDir, { recursive: true, force: true });
    }
  }
}

function checkBinaries(options: ResolvedOptions): void {
  const needed = ['setpriv', 'mariadbd', 'mariadb-install-db'];
  if (options.servers > 0) needed.push('haproxy', 'nginx', 'openssl');
  for (const binary of needed) findBinary(binary);
}

/**
 * Starts the topology as real processes, each host on its own loopback address, and waits until every
 * part is ready (replicas caught up, HAProxy sees every server UP). A failed start stops everything it
 * started, keeps the state directory, and says which process failed with the tail of its log.
 */
export async function startCluster(options?: ClusterOptions): Promise<Cluster> {
  const resolved = resolveOptions(options);
  checkBinaries(resolved);
  const hostModel = await LoopbackHostModel.allocate(resolved.block);
  let cluster: RunningCluster;
  try {
    const root = resolved.stateRoot ?? tmpdir();
    mkdirSync(root, { recursive: true });
    cluster = new RunningCluster(resolved, hostModel, mkdtempSync(join(root, `rwsplit-${hostModel.block}-`)));
  } catch (error) {
    hostModel.release();
    throw error;
  }
  trackCluster(cluster);
  try {
    await cluster.boot();
    return cluster;
  } catch (error) {
    await cluster.teardown(true).catch(() => {});
    const message = error instanceof Error ? error.message : String(error);
    throw new ClusterError(
      `cluster failed to start: ${message}\nstate kept in ${cluster.stateDir}`,
      error instanceof ClusterError ? error.code : 'CLUSTER_PROCESS_FAILED',
      { cause: error },
    );
  }
}
