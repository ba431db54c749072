import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAILOVER_CLI } from '@rwsplit/failover';
import type { AlertReceiver } from './alert-receiver.js';
import { AppServerHost, type ProcessControl, type Server } from './app-server.js';
import { findBinary } from './binaries.js';
import {
  CERTIFICATE_DAYS,
  type ClusterCa,
  createClusterCa,
  type IssuedCertificate,
  issueCertificate,
} from './cluster-ca.js';
import type { ImageName } from './docker/images.js';
import { ClusterError } from './errors.js';
import { type FailoverManagerHandle, FailoverManagers } from './failover-managers.js';
import { isAhead, mostAdvanced } from './gtid-order.js';
import type { HostAccess } from './host-access.js';
import { HOST_OCTETS, type HostModel, LoopbackHostModel } from './host-model.js';
import type { Keepalived } from './keepalived.js';
import { LbPair } from './lb-pair.js';
import { LoadBalancer } from './load-balancer.js';
import { type DbNode, MariaDbNode, type NodeTls as MariaDbNodeTls } from './mariadb-node.js';
import { alertmanagerUrl, MonitoringHost, type MonitoringHostConfig } from './monitoring-host.js';
import type { FirewallPlan } from './netns/firewall.js';
import type { LabHostSpec } from './netns/lab.js';
import { NetnsHostModel } from './netns/netns-host-model.js';
import { addLatency, dropOneWay, linkDown, type NetworkFault, partition } from './netns/network-faults.js';
import {
  type AppSpec,
  type ClusterOptions,
  type Credentials,
  type ResolvedOptions,
  type RuntimeKind,
  resolveOptions,
} from './options.js';
import { openDockerRuntime } from './runtime/docker-runtime.js';
import { NATIVE_RUNTIME } from './runtime/native-runtime.js';
import type { ProcessRuntime } from './runtime/supervised-process.js';
import { blockedOnTheWay, databaseServiceUser } from './service-user.js';
import { forgetCluster, trackCluster } from './signals.js';
import { renderTemplateText } from './templates.js';
import { waitFor } from './wait.js';

/**
 * A dependency-free app for harness tests (and a cluster to try the topology with): echoes the request it
 * got and says which server it is. Shipped in this package's `apps/`, found beside `src/` and `dist/` alike.
 */
export const ECHO_APP: AppSpec = {
  command: [process.execPath, fileURLToPath(new URL('../apps/echo-app.mjs', import.meta.url))],
};

/** Where to reach the load balancer (only clusters with servers have one). */
export interface LoadBalancerEndpoints {
  readonly host: string;
  /** The LB's internal address (stats, metrics): never the public one. */
  readonly internalHost: string;
  /** Plain HTTP; every request is redirected to HTTPS at `publicName`. */
  readonly httpUrl: string;
  readonly httpsUrl: string;
  /** The name the redirect sends clients to and the certificate names (default: `host`). */
  readonly publicName: string;
  /** HAProxy stats page, HTTPS on the internal address (basic auth: `credentials.stats`; rate limited). */
  readonly statsUrl: string;
  /** HAProxy's built-in Prometheus exporter, HTTPS on the internal address. */
  readonly prometheusUrl: string;
  /** The cluster CA that issued the LB's certificate: trust it as `ca` in clients. */
  readonly certificatePem: string;
}

/** Where the monitoring host answers, and what reached its alert receiver. */
export interface MonitoringEndpoints {
  /** Prometheus (internal): its UI, `/api/v1/alerts`, `/api/v1/targets`. */
  readonly prometheusUrl: string;
  /** Alertmanager (internal). */
  readonly alertmanagerUrl: string;
  /** The receiver's `GET /alerts`: the alerts firing now and every notification received. */
  readonly alertReceiverUrl: string;
  /** Every notification Alertmanager delivered, and the alerts firing now. */
  readonly receiver: Pick<AlertReceiver, 'notifications' | 'firing' | 'waitFor'>;
  /** Prometheus's scrape targets (`job/instance` → health). */
  targets(): Promise<Record<string, string>>;
  /** The alerts Prometheus has firing now (before Alertmanager). */
  firingAlerts(): Promise<string[]>;
  /** The `Authorization` header both UIs and APIs want (basic auth, `credentials.monitoring`). */
  authorization(): { authorization: string };
}

/** One host of the LB pair (netns): its processes and its faults. */
export interface LbHostHandle {
  readonly name: string;
  /** Its own address (VRRP, stats, metrics). */
  readonly host: string;
  readonly haproxy: ProcessControl;
  readonly keepalived: Pick<Keepalived, 'pid' | 'running' | 'kill' | 'terminate' | 'restart'>;
  /** Its HAProxy's stats and Prometheus exporter (for the monitoring host; closed from outside). */
  readonly statsUrl: string;
  readonly prometheusUrl: string;
  /** True while it holds the floating address. */
  holdsFloatingAddress(): Promise<boolean>;
  /** Takes its link down (undo the returned fault). */
  linkDown(): Promise<NetworkFault>;
}

/** The lab's network faults (netns); hosts by name (`server-1`) or address. Each returns its undo. */
export interface NetworkFaults {
  readonly hosts: readonly { readonly name: string; readonly address: string }[];
  /** Both directions, established connections included. */
  partition(a: readonly string[], b: readonly string[]): Promise<NetworkFault>;
  /** Packets from `from` to `to` are lost (`percent`, default 100). */
  dropOneWay(from: readonly string[], to: readonly string[], percent?: number): Promise<NetworkFault>;
  linkDown(host: string): Promise<NetworkFault>;
  /** `delayMs` added each way between `from` and `to:port`. */
  addLatency(from: string, to: string, port: number, delayMs: number): Promise<NetworkFault>;
}

/** TLS settings for a database client, spreadable into mysql2's and the router's `connection`. */
export interface DatabaseTls {
  /** The cluster CA (PEM): every node's certificate is issued by it for the node's address. */
  readonly ca: string;
}

export interface ClusterCredentials {
  /**
   * The application's account: DML + DDL on `database` only, TLS required; `ssl` trusts the cluster CA,
   * so the whole object can be passed as the router's `connection`.
   */
  readonly app: Credentials & { readonly database: string; readonly ssl: DatabaseTls };
  /** Everything, for operators and tests (TLS required: pass `ssl`). */
  readonly admin: Credentials;
  /** Replication state and the heartbeat table, for the router's topology monitor (TLS required). */
  readonly monitor: Credentials;
  /** HAProxy stats page. */
  readonly stats: Credentials;
  /** Prometheus's and Alertmanager's UIs and APIs (basic auth). */
  readonly monitoring: Credentials;
}

/** Everything a script needs to talk to a running cluster, as plain JSON. */
export interface ClusterEndpoints {
  readonly stateDir: string;
  readonly block: string;
  readonly lb: Omit<LoadBalancerEndpoints, 'certificatePem'> | null;
  /** The monitoring host's URLs (null with `monitoring: false`). */
  readonly monitoring: { prometheusUrl: string; alertmanagerUrl: string; alertReceiverUrl: string } | null;
  /** The cluster CA's certificate file (PEM): trust it for the LB and for every database node. */
  readonly caFile: string;
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
  /** What runs its programs: `native` child processes or `docker` containers. */
  readonly runtime: RuntimeKind;
  readonly credentials: ClusterCredentials;
  /** The cluster CA (made at start): it issued the LB's and every database node's certificate. */
  readonly ca: { readonly certificatePem: string; readonly certificateFile: string };
  /** Every generated secret (passwords, the managers' token), readable by its owner only (0600). */
  readonly secretsFile: string;
  /** Throws for a database-only cluster (`servers: 0`), which has no LB. */
  readonly lb: LoadBalancerEndpoints;
  /**
   * The load balancer's HAProxy process, for faults (`kill`, `pause`, `restart` ...); under netns, the one
   * holding the floating address when asked. Throws without servers.
   */
  readonly haproxy: ProcessControl;
  /** The LB hosts under netns (`lb-1`, `lb-2`: HAProxy, keepalived, link faults); empty on loopback. */
  readonly lbHosts: readonly LbHostHandle[];
  /** The lab under netns: its network faults (partition, loss, link down, latency). Throws on loopback. */
  readonly network: NetworkFaults;
  /** The LB host holding the floating address now (netns); waits up to `timeoutMs` for exactly one. */
  activeLbHost(timeoutMs?: number): Promise<LbHostHandle>;
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
  /** The monitoring host (Prometheus, Alertmanager, the alert receiver). Throws with `monitoring: false`. */
  readonly monitoring: MonitoringEndpoints;
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
  /**
   * The fault for certificate expiry: the cluster CA issues the LB a new certificate for the same names,
   * valid for `validDays` whole days (1..7; default 7, a fresh one), and HAProxy takes it live, without
   * a restart. `renewLbCertificate({ validDays: 1 })` is one about to expire; call it again to undo.
   * Throws without servers.
   */
  renewLbCertificate(options?: { readonly validDays?: number }): Promise<void>;
  endpoints(): ClusterEndpoints;
  /** Stops every process, waits for each to be reaped, releases the block. Safe to call twice. */
  stop(): Promise<void>;
}

class RunningCluster implements Cluster {
  readonly dbNodes: MariaDbNode[] = [];
  readonly servers: AppServerHost[] = [];
  /** The LB (loopback), or the pair's first (netns): endpoints and runtime commands. */
  private loadBalancer: LoadBalancer | undefined;
  /** Every HAProxy: the one, or both of the pair. */
  private loadBalancers: LoadBalancer[] = [];
  private lbPair: LbPair | undefined;
  /** Ports each host's services were given, for its firewall (netns). */
  private readonly exporterPorts = new Map<string, number[]>();
  /** Issues the LB's certificate (same names, same files) valid for so many days. */
  private lbCertificate: ((days: number) => Promise<IssuedCertificate>) | undefined;
  private managers: FailoverManagers | undefined;
  private monitoringHost: MonitoringHost | undefined;
  private stopping: Promise<void> | undefined;
  readonly credentials: ClusterCredentials;

  constructor(
    readonly options: ResolvedOptions,
    readonly hostModel: HostModel,
    readonly stateDir: string,
    private readonly clusterCa: ClusterCa,
    /** What runs the programs: child processes, or containers (`runtime: 'docker'`). */
    private readonly programs: ProcessRuntime,
  ) {
    const c = options.credentials;
    this.credentials = {
      app: { ...c.app, database: c.database, ssl: { ca: clusterCa.certificatePem } },
      admin: c.admin,
      monitor: c.monitor,
      stats: c.stats,
      monitoring: c.monitoring,
    };
  }

  get block(): string {
    return this.hostModel.block;
  }

  get runtime(): RuntimeKind {
    return this.programs.kind;
  }

  get secretsFile(): string {
    return join(this.stateDir, 'secrets.json');
  }

  get ca(): { readonly certificatePem: string; readonly certificateFile: string } {
    return { certificatePem: this.clusterCa.certificatePem, certificateFile: this.clusterCa.certificateFile };
  }

  get lb(): LoadBalancerEndpoints {
    const lb = this.loadBalancer;
    if (!lb)
      throw new ClusterError('this cluster has no load balancer (servers: 0)', 'CLUSTER_INVALID_OPTION');
    return { ...lb.endpoints(), certificatePem: this.clusterCa.certificatePem };
  }

  get haproxy(): ProcessControl {
    const lb = this.loadBalancer;
    if (!lb)
      throw new ClusterError('this cluster has no load balancer (servers: 0)', 'CLUSTER_INVALID_OPTION');
    return lb;
  }

  get lbHosts(): readonly LbHostHandle[] {
    const pair = this.lbPair;
    if (pair === undefined) return [];
    const lab = this.netns().lab;
    return pair.nodes.map((node) => ({
      name: node.name,
      host: node.host,
      haproxy: node.haproxy,
      keepalived: node.keepalived,
      statsUrl: node.haproxy.statsUrl,
      prometheusUrl: node.haproxy.prometheusUrl,
      holdsFloatingAddress: () => node.holdsAddress(),
      linkDown: () => linkDown(lab, node.name),
    }));
  }

  /** The LB host that holds the floating address now (netns). */
  activeLbHost(timeoutMs = 5_000): Promise<LbHostHandle> {
    const pair = this.lbPair;
    if (pair === undefined)
      throw new ClusterError(
        'this cluster has no LB pair (hosts: loopback, or servers: 0)',
        'CLUSTER_INVALID_OPTION',
      );
    return pair.waitForHolder(timeoutMs).then((node) => {
      const handle = this.lbHosts.find((h) => h.name === node.name);
      if (handle === undefined) throw new ClusterError(`no LB host ${node.name}`, 'CLUSTER_COMMAND_FAILED');
      return handle;
    });
  }

  get network(): NetworkFaults {
    const lab = this.netns().lab;
    const hostName = (host: string) => {
      const found = lab.hosts.find((h) => h.name === host || h.addresses.includes(host));
      if (found === undefined) throw new ClusterError(`no lab host ${host}`, 'CLUSTER_INVALID_OPTION');
      return found.name;
    };
    const names = (hosts: readonly string[]) => hosts.map(hostName);
    return {
      hosts: lab.hosts.map((h) => ({ name: h.name, address: h.address })),
      partition: (a, b) => partition(lab, names(a), names(b)),
      dropOneWay: (from, to, percent) => dropOneWay(lab, names(from), names(to), percent),
      linkDown: (host) => linkDown(lab, hostName(host)),
      addLatency: (from, to, port, delayMs) => addLatency(lab, hostName(from), hostName(to), port, delayMs),
    };
  }

  private netns(): NetnsHostModel {
    if (!(this.hostModel instanceof NetnsHostModel)) {
      throw new ClusterError('network faults need hosts: netns (root on Linux)', 'CLUSTER_INVALID_OPTION');
    }
    return this.hostModel;
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

  get monitoring(): MonitoringEndpoints {
    const host = this.monitoringHost;
    if (host === undefined) {
      throw new ClusterError(
        'this cluster runs no monitoring host (monitoring: false)',
        'CLUSTER_INVALID_OPTION',
      );
    }
    return {
      prometheusUrl: host.prometheusUrl,
      alertmanagerUrl: host.alertmanagerUrl,
      alertReceiverUrl: host.receiver.url,
      receiver: host.receiver,
      targets: () => host.targets(),
      firingAlerts: () => host.firingAlerts(),
      authorization: () => host.authorization(),
    };
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

  async renewLbCertificate({
    validDays = CERTIFICATE_DAYS,
  }: {
    readonly validDays?: number;
  } = {}): Promise<void> {
    const issue = this.lbCertificate;
    if (this.loadBalancers.length === 0 || !issue)
      throw new ClusterError('this cluster has no load balancer (servers: 0)', 'CLUSTER_INVALID_OPTION');
    const certificate = await issue(validDays);
    const bundle = readFileSync(certificate.bundleFile, 'utf8');
    await Promise.all(
      this.loadBalancers.filter((lb) => lb.running).map((lb) => lb.replaceCertificate(bundle)),
    );
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
      lb: lb ? lb.endpoints() : null,
      monitoring:
        this.monitoringHost === undefined
          ? null
          : {
              prometheusUrl: this.monitoringHost.prometheusUrl,
              alertmanagerUrl: this.monitoringHost.alertmanagerUrl,
              alertReceiverUrl: this.monitoringHost.receiver.url,
            },
      caFile: this.clusterCa.certificateFile,
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

  /** How the harness acts on a host: the host model's way in, with this cluster's runtime for its programs. */
  private access(host: string): HostAccess {
    return { ...this.hostModel.access(host), runtime: this.programs };
  }

  async boot(): Promise<void> {
    const { credentials } = this.options;
    writeFileSync(this.secretsFile, `${JSON.stringify({ credentials }, null, 2)}\n`, { mode: 0o600 });
    await this.bootDatabases();
    await this.bootFailover();
    // The monitoring host's ports first: the apps are told where Alertmanager will answer.
    const monitoringPorts = this.options.monitoring ? await this.claimMonitoringPorts() : undefined;
    // resolveOptions has made sure there is an app whenever there are servers to run it.
    const { servers, app } = this.options;
    if (servers > 0 && app !== undefined) await this.bootServers(app, monitoringPorts);
    if (monitoringPorts !== undefined) await this.bootMonitoring(monitoringPorts);
    if (this.hostModel instanceof NetnsHostModel)
      await this.hostModel.applyFirewall(this.firewallPlan(monitoringPorts));
  }

  /** Every host's services and the ports they were given, as the firewall sees them (netns). */
  private firewallPlan(monitoringPorts: MonitoringHostConfig['ports'] | undefined): FirewallPlan {
    const { hostModel } = this;
    const managerPorts = new Map(
      this.failover.map((m) => [new URL(m.url).hostname, Number(new URL(m.url).port)]),
    );
    const serverHosts = new Set([...this.servers.map((s) => s.host), ...managerPorts.keys()]);
    const monitoringHost = hostModel.address(HOST_OCTETS.monitoring);
    return {
      outside: hostModel.outside,
      loadBalancers: this.loadBalancers.map((lb, index) => ({
        name: `lb-${index + 1}`,
        host: lb.internalHost,
        publicPorts: [new URL(lb.httpUrl).port, new URL(lb.httpsUrl).port].map(Number),
        statsPort: Number(new URL(lb.statsUrl).port),
        exporterPorts: this.exporterPorts.get(lb.internalHost) ?? [],
      })),
      servers: [...serverHosts].map((host, index) => {
        const server = this.servers.find((s) => s.host === host);
        const managerPort = managerPorts.get(host);
        return {
          name: server?.name ?? `server-${index + 1}`,
          host,
          ...(server === undefined ? {} : { nginxPort: server.nginx.port, appPort: server.app.port }),
          exporterPorts: this.exporterPorts.get(host) ?? [],
          ...(managerPort === undefined ? {} : { managerPort }),
        };
      }),
      databases: this.dbNodes.map((node) => ({
        name: node.name,
        host: node.host,
        port: node.port,
        exporterPorts: this.exporterPorts.get(node.host) ?? [],
      })),
      ...(monitoringPorts === undefined
        ? {}
        : {
            monitoring: {
              name: 'monitoring',
              host: monitoringHost,
              uiPorts: [monitoringPorts.prometheus, monitoringPorts.alertmanager],
              alertmanagerPort: monitoringPorts.alertmanager,
            },
          }),
    };
  }

  private async claimMonitoringPorts(): Promise<MonitoringHostConfig['ports']> {
    const { hostModel } = this;
    const host = hostModel.address(HOST_OCTETS.monitoring);
    return {
      prometheus: await hostModel.claimPort(host, 9090),
      alertmanager: await hostModel.claimPort(host, 9093),
      receiver: await hostModel.claimPort(host, 9095),
      blackbox: await hostModel.claimPort(host, 9115),
      node: await hostModel.claimPort(host, 9100),
      mysqld: (database) => this.claimExporterPort(database.host, 9104),
      nginx: (serverHost) => this.claimExporterPort(serverHost, 9113),
      lbVrrp: (lbHost) => this.claimExporterPort(lbHost, 9100),
    };
  }

  /** A port for an exporter beside a node or server, remembered for that host's firewall. */
  private async claimExporterPort(host: string, preferred: number): Promise<number> {
    const port = await this.hostModel.claimPort(host, preferred);
    this.exporterPorts.set(host, [...(this.exporterPorts.get(host) ?? []), port]);
    return port;
  }

  private async bootMonitoring(ports: MonitoringHostConfig['ports']): Promise<void> {
    const { hostModel, options } = this;
    const host = hostModel.address(HOST_OCTETS.monitoring);
    const lb = this.loadBalancer;
    const target = (url: string) => new URL(url).host;
    const monitoring = new MonitoringHost({
      dir: join(this.stateDir, 'monitoring'),
      host,
      ports,
      caFile: this.clusterCa.certificateFile,
      loadBalancers: this.loadBalancers.map((each, index) => ({
        name: this.loadBalancers.length === 1 ? 'lb' : `lb-${index + 1}`,
        target: target(each.prometheusUrl),
      })),
      apps: this.servers.map((server) => ({ name: server.name, target: target(server.app.url) })),
      nginx: this.servers.map((server) => ({ name: server.name, statusUrl: server.nginxStatusUrl })),
      lbVrrp: (this.lbPair?.nodes ?? []).map((node) => ({
        name: node.name,
        host: node.host,
        textfileDir: dirname(node.keepalived.stateFile),
      })),
      managers: this.failover.map((manager) => ({ name: manager.id, target: target(manager.url) })),
      databases: this.dbNodes.map((node) => ({ name: node.name, host: node.host, socket: node.socketPath })),
      publicUrl: lb === undefined ? undefined : `${lb.httpsUrl}/`,
      exporter: options.credentials.exporter,
      ui: options.credentials.monitoring,
      startTimeoutMs: options.startTimeoutMs,
      access: (address) => this.access(address),
      // The receiver runs in this process: under netns it listens outside, where Alertmanager reaches it.
      receiverHost: hostModel.kind === 'netns' ? hostModel.outside : host,
    });
    this.monitoringHost = monitoring;
    await monitoring.start();
  }

  private async bootDatabases(): Promise<void> {
    const { options, hostModel } = this;
    for (let index = 0; index <= options.replicas; index++) {
      const host = hostModel.address(HOST_OCTETS.dbNode(index));
      const name = index === 0 ? 'db-primary' : `db-replica-${index}`;
      const dir = join(this.stateDir, name);
      this.dbNodes.push(
        new MariaDbNode({
          name,
          host,
          port: await hostModel.claimPort(host, options.ports.mariadb),
          serverId: index + 1,
          role: index === 0 ? 'primary' : 'replica',
          dir,
          replication: options.credentials.replication,
          tls: await this.nodeTls(dir, name, host),
          startTimeoutMs: options.startTimeoutMs,
          onPromote: (node) => this.promote(node),
          onRestarted: (node) => this.repointIfNeeded(node),
          semiSync: options.semiSync,
          managed: options.failover !== undefined,
          launch: hostModel.access(host).launch,
          runtime: this.programs,
        }),
      );
    }
    await Promise.all(this.dbNodes.map((node) => node.initialize()));
    await Promise.all(this.dbNodes.map((node) => node.start()));
    // Bootstrap may have written binlog events; GTID strict mode wants every node to start from nothing.
    await Promise.all(this.dbNodes.map((node) => node.resetBinlog()));
    const primary = this.primary();
    const c = options.credentials;
    const hosts = this.accountHosts();
    await primary.query(
      renderTemplateText('mariadb/init-primary.sql.tmpl', {
        appDatabase: c.database,
        adminUser: c.admin.user,
        adminPassword: c.admin.password,
        adminHosts: hosts.admin.map((host) => ({ host })),
        appUser: c.app.user,
        appPassword: c.app.password,
        appHosts: hosts.app.map((host) => ({ host })),
        monitorUser: c.monitor.user,
        monitorPassword: c.monitor.password,
        monitorHosts: hosts.monitor.map((host) => ({ host })),
        failoverUser: c.failover.user,
        failoverPassword: c.failover.password,
        failoverHosts: hosts.failover.map((host) => ({ host })),
        exporterUser: c.exporter.user,
        exporterPassword: c.exporter.password,
        replicationUser: c.replication.user,
        replicationPassword: c.replication.password,
        replicationHosts: hosts.replication.map((host) => ({ host })),
      }),
    );
    await Promise.all(this.replicas().map((replica) => replica.follow(primary, options.startTimeoutMs)));
    // Managed nodes all start read-only; from here on the leading manager owns the flag.
    if (options.failover !== undefined) await primary.query('SET GLOBAL read_only = OFF');
  }

  /** The node's certificate for its address (the server reads it as its own user; handed over at init). */
  private async nodeTls(dir: string, name: string, host: string): Promise<MariaDbNodeTls> {
    mkdirSync(dir, { recursive: true });
    // One CA path on every host (the failover managers tell replicas the same path): readable by all.
    const caFile = this.clusterCa.certificateFile;
    const issued = await issueCertificate(this.clusterCa, dir, 'server', name, [host]);
    return { caFile, certificateFile: issued.certificateFile, keyFile: issued.keyFile };
  }

  /** Where each account may be used from: its clients' hosts (see `HostModel.accountHosts`). */
  private accountHosts(): Record<
    'admin' | 'app' | 'monitor' | 'failover' | 'replication',
    readonly string[]
  > {
    const { hostModel, options } = this;
    const servers = [0, 1].map((index) => hostModel.address(HOST_OCTETS.server(index)));
    const dbNodes = this.dbNodes.map((node) => node.host);
    return {
      // The harness and tests run on the machine itself; on loopback that is the same address anyway.
      admin: hostModel.accountHosts(['127.0.0.1']),
      app: hostModel.accountHosts(servers),
      monitor: hostModel.accountHosts(servers),
      failover: hostModel.accountHosts(servers.slice(0, options.failover?.managers ?? 0)),
      replication: hostModel.accountHosts(dbNodes),
    };
  }

  private async bootFailover(): Promise<void> {
    const { options, hostModel } = this;
    const failover = options.failover;
    if (failover === undefined) return;
    // One manager per app server host (their addresses exist whether or not the servers run).
    const hosts = [];
    for (let index = 0; index < failover.managers; index++) {
      const host = hostModel.address(HOST_OCTETS.server(index));
      hosts.push({ host, port: await hostModel.claimPort(host, 7300), access: this.access(host) });
    }
    this.managers = await FailoverManagers.create(
      join(this.stateDir, 'failover'),
      hosts,
      this.dbNodes,
      options.credentials.failover,
      options.credentials.replication,
      this.clusterCa,
      failover,
      options.semiSync,
      options.startTimeoutMs,
    );
    await this.managers.start(options.startTimeoutMs);
  }

  private async bootServers(
    app: AppSpec,
    monitoringPorts: MonitoringHostConfig['ports'] | undefined,
  ): Promise<void> {
    const { options, hostModel } = this;
    const pair = hostModel.kind === 'netns';
    // Under netns the public address floats between the pair; each LB's own address is its internal one.
    const lbHost = hostModel.address(HOST_OCTETS.lb);
    const internalHosts = pair
      ? [0, 1].map((index) => hostModel.address(HOST_OCTETS.lbHost(index)))
      : [hostModel.address(HOST_OCTETS.lbInternal)];
    const publicName = options.publicName ?? lbHost;
    const lbDir = join(this.stateDir, 'lb');
    mkdirSync(lbDir, { recursive: true });
    this.lbCertificate = (days) =>
      issueCertificate(
        this.clusterCa,
        lbDir,
        'lb',
        'rwsplit-lb',
        [publicName, lbHost, ...internalHosts],
        days,
      );
    const certificate = await this.lbCertificate(CERTIFICATE_DAYS);
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
      DB_SSL_CA_FILE: this.clusterCa.certificateFile,
      // For the dashboard's alerts panel (on the app's internal address).
      ...(monitoringPorts === undefined
        ? {}
        : {
            ALERTMANAGER_URL: alertmanagerUrl(hostModel.address(HOST_OCTETS.monitoring), monitoringPorts),
            ALERTMANAGER_USER: options.credentials.monitoring.user,
            ALERTMANAGER_PASSWORD: options.credentials.monitoring.password,
          }),
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
          nginxStatusPort: await hostModel.claimPort(host, 8081),
          app,
          appEnv,
          startTimeoutMs: options.startTimeoutMs,
          lbs: () => this.loadBalancers,
          access: this.access(host),
        }),
      );
    }
    await Promise.all(this.servers.map((server) => server.start()));
    for (const [index, internalHost] of internalHosts.entries()) {
      const name = pair ? `lb-${index + 1}` : 'lb';
      const dir = pair ? join(lbDir, name) : lbDir;
      mkdirSync(dir, { recursive: true });
      // On loopback the public address is a host of its own; under netns it is on an LB host's interface,
      // so its ports come from that host's (the namespace's) port space.
      const publicHost = pair ? internalHost : lbHost;
      this.loadBalancers.push(
        new LoadBalancer({
          dir,
          host: lbHost,
          internalHost,
          publicName,
          caPem: this.clusterCa.certificatePem,
          httpPort: await hostModel.claimPort(publicHost, options.ports.lbHttp),
          httpsPort: await hostModel.claimPort(publicHost, options.ports.lbHttps),
          statsPort: await hostModel.claimPort(internalHost, options.ports.lbStats),
          balance: options.balance,
          mode: options.mode,
          backends: this.servers.map((s) => ({ name: s.name, host: s.host, port: s.nginx.port })),
          certificate,
          stats: options.credentials.stats,
          startTimeoutMs: options.startTimeoutMs,
          access: this.access(internalHost),
          name,
        }),
      );
    }
    this.loadBalancer = this.loadBalancers[0];
    if (pair) {
      this.lbPair = new LbPair(
        this.loadBalancers.map((haproxy, index) => ({
          name: `lb-${index + 1}`,
          host: haproxy.internalHost,
          dir: join(lbDir, `lb-${index + 1}`),
          haproxy,
          access: this.access(haproxy.internalHost),
        })),
        lbHost,
        options.startTimeoutMs,
      );
      await this.lbPair.start();
    } else {
      await this.loadBalancer?.start();
    }
    await Promise.all(this.loadBalancers.map((lb) => lb.waitAllUp(options.startTimeoutMs)));
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
      await this.monitoringHost?.stop();
      if (this.lbPair !== undefined) await this.lbPair.stop();
      else await this.loadBalancer?.stop();
      // Managers first: a manager would take the databases' shutdown for a failure.
      await this.managers?.stop();
      await Promise.all(this.servers.map((server) => server.stop()));
      await Promise.all(this.dbNodes.map((node) => node.stop()));
    } finally {
      forgetCluster(this);
      await this.programs.close().catch(() => {});
      await this.hostModel.release();
      if (!keepState) rmSync(this.stateDir, { recursive: true, force: true });
    }
  }
}

function checkBinaries(options: ResolvedOptions): void {
  // openssl makes the cluster CA, which every cluster has (the database nodes serve TLS only).
  const needed = ['setpriv', 'openssl', 'mariadbd', 'mariadb-install-db'];
  if (options.servers > 0) needed.push('haproxy', 'nginx');
  if (options.monitoring) {
    needed.push(
      'prometheus',
      'prometheus-alertmanager',
      'prometheus-mysqld-exporter',
      'prometheus-node-exporter',
      'prometheus-blackbox-exporter',
      'htpasswd',
    );
    if (options.servers > 0) needed.push('prometheus-nginx-exporter');
  }
  for (const binary of needed) findBinary(binary);
}

/**
 * The runtime the options ask for. Docker's containers see the state directory and the code they run (the
 * app, its static files, the managers' CLI, this package) at the same paths as this machine.
 */
async function openRuntime(
  options: ResolvedOptions,
  block: string,
  stateDir: string,
): Promise<ProcessRuntime> {
  if (options.runtime === 'native') return NATIVE_RUNTIME;
  const images: ImageName[] = ['mariadb'];
  if (options.servers > 0) images.push('haproxy', 'nginx', 'node');
  else if (options.failover !== undefined) images.push('node');
  if (options.monitoring) images.push('monitoring');
  const app = options.app;
  const codePaths = [
    fileURLToPath(new URL('..', import.meta.url)),
    FAILOVER_CLI,
    ...(app === undefined ? [] : [...app.command, app.cwd ?? process.cwd(), app.staticDir ?? '']),
  ];
  return openDockerRuntime({ block, stateDir, codePaths, images, startTimeoutMs: options.startTimeoutMs });
}

/** The hosts of a netns lab for these options: the LB pair, the servers (and managers' hosts), nodes, monitoring. */
function labHosts(options: ResolvedOptions): LabHostSpec[] {
  const hosts: LabHostSpec[] = [];
  if (options.servers > 0) {
    for (const index of [0, 1]) hosts.push({ name: `lb-${index + 1}`, octets: [HOST_OCTETS.lbHost(index)] });
  }
  const serverHosts = Math.max(options.servers, options.failover?.managers ?? 0);
  for (let index = 0; index < serverHosts; index++) {
    hosts.push({ name: `server-${index + 1}`, octets: [HOST_OCTETS.server(index)] });
  }
  for (let index = 0; index <= options.replicas; index++) {
    hosts.push({
      name: index === 0 ? 'db-primary' : `db-replica-${index}`,
      octets: [HOST_OCTETS.dbNode(index)],
    });
  }
  if (options.monitoring) hosts.push({ name: 'monitoring', octets: [HOST_OCTETS.monitoring] });
  return hosts;
}

/**
 * Starts the topology as real processes, each host on its own loopback address, and waits until every
 * part is ready (replicas caught up, HAProxy sees every server UP). A failed start stops everything it
 * started, keeps the state directory, and says which process failed with the tail of its log.
 */
export async function startCluster(options?: ClusterOptions): Promise<Cluster> {
  const resolved = resolveOptions(options);
  checkBinaries(resolved);
  const hostModel: HostModel =
    resolved.hosts === 'netns'
      ? await NetnsHostModel.allocate(labHosts(resolved))
      : await LoopbackHostModel.allocate(resolved.block);
  let cluster: RunningCluster;
  let stateDir: string | undefined;
  let runtime: ProcessRuntime | undefined;
  try {
    const root = resolved.stateRoot ?? tmpdir();
    mkdirSync(root, { recursive: true });
    stateDir = mkdtempSync(join(root, `rwsplit-${hostModel.block}-`));
    // The database servers run as their own user: they may pass through (not list) the state directory
    // to their own, which they alone can read.
    const serviceUser = databaseServiceUser();
    if (serviceUser !== undefined) chmodSync(stateDir, 0o711);
    // The CA's key is 0600; the directory is passable so the servers read the (public) certificate.
    const caDir = join(stateDir, 'ca');
    mkdirSync(caDir);
    // Explicitly: mkdir's mode is masked by the umask (077 would make it 0700).
    chmodSync(caDir, 0o711);
    const blocked = blockedOnTheWay(caDir, serviceUser);
    if (blocked !== undefined) {
      throw new ClusterError(
        `the database servers run as ${serviceUser?.name} and cannot pass through ${blocked}: choose a stateRoot they can reach (or chmod o+x ${blocked})`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    const ca = await createClusterCa(caDir, `rwsplit ${hostModel.block}`);
    runtime = await openRuntime(resolved, hostModel.block, stateDir);
    cluster = new RunningCluster(resolved, hostModel, stateDir, ca, runtime);
  } catch (error) {
    await runtime?.close().catch(() => {});
    await hostModel.release();
    if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
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
