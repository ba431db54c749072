import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlertReceiver } from './alert-receiver.js';
import { findBinary } from './binaries.js';
import { ClusterError } from './errors.js';
import { type HostAccess, LOCAL_ACCESS, superviseOn } from './host-access.js';
import type { Credentials } from './options.js';
import { alertmanagerYaml, blackboxYaml, prometheusYaml } from './render/monitoring-configs.js';
import type { SupervisedProcess } from './runtime/supervised-process.js';
import { renderTemplateFile, TEMPLATE_DIR, writeRenderedFile } from './templates.js';
import { waitFor } from './wait.js';

/** A scrape target: where, and the `instance` label it gets. */
export interface MonitoredTarget {
  readonly name: string;
  /** `host:port`. */
  readonly target: string;
}

/** A database node as its exporter sees it: over the node's own unix socket. */
export interface MonitoredDatabase {
  readonly name: string;
  readonly host: string;
  readonly socket: string;
}

export interface MonitoringHostConfig {
  readonly dir: string;
  /** The monitoring host's address: Prometheus, Alertmanager, the receiver, blackbox and node exporters. */
  readonly host: string;
  readonly ports: {
    readonly prometheus: number;
    readonly alertmanager: number;
    readonly receiver: number;
    readonly blackbox: number;
    readonly node: number;
    /** The nginx exporter, on each server's own address. */
    readonly nginx: (host: string) => Promise<number>;
    /** The textfile node exporter on each LB host. */
    readonly lbVrrp: (host: string) => Promise<number>;
    /** mysqld_exporter, on each database node's own address. */
    readonly mysqld: (database: MonitoredDatabase) => Promise<number>;
  };
  readonly caFile: string;
  readonly loadBalancers: readonly MonitoredTarget[];
  /** The LB pair's hosts (netns): a textfile-only node exporter on each reads keepalived's state. */
  readonly lbVrrp: readonly { readonly name: string; readonly host: string; readonly textfileDir: string }[];
  readonly apps: readonly MonitoredTarget[];
  /** Each server's Nginx `stub_status` URL, which an nginx exporter beside it reads. */
  readonly nginx: readonly { readonly name: string; readonly statusUrl: string }[];
  readonly managers: readonly MonitoredTarget[];
  readonly databases: readonly MonitoredDatabase[];
  /** What the blackbox exporter probes: the public HTTPS URL; undefined without a load balancer. */
  readonly publicUrl: string | undefined;
  /** The exporters' database account (socket only). */
  readonly exporter: Credentials;
  /** Basic auth for Prometheus's and Alertmanager's UIs and APIs. */
  readonly ui: Credentials;
  readonly startTimeoutMs: number;
  /** How the harness starts a process on a host (by address). Default: here, for every host. */
  readonly access?: (host: string) => HostAccess;
  /**
   * Where the harness's alert receiver listens (it runs in the harness's own process): the monitoring
   * host's address on loopback, outside (the lab bridge) under netns. Default: `host`.
   */
  readonly receiverHost?: string;
}

/** Where the monitoring host's Alertmanager answers. */
export function alertmanagerUrl(
  host: string,
  ports: Pick<MonitoringHostConfig['ports'], 'alertmanager'>,
): string {
  return `http://${host}:${ports.alertmanager}`;
}

/** A target as template values. */
function scope(target: MonitoredTarget): { name: string; target: string } {
  return { name: target.name, target: target.target };
}

/** The harness's scrape and evaluation interval: short, so fault tests see alerts within seconds. */
const SCRAPE_INTERVAL = '1s';

/**
 * The monitoring host: Prometheus (scrapes every part, evaluates `templates/prometheus/rules`),
 * Alertmanager (routes every alert to the receiver), the receiver (records what would page someone),
 * a mysqld_exporter per database node, the blackbox exporter probing the public address, and the node
 * exporter. Each a process the harness owns.
 */
export class MonitoringHost {
  readonly receiver: AlertReceiver;
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  private readonly processes: SupervisedProcess[] = [];

  constructor(private readonly config: MonitoringHostConfig) {
    const { host, ports } = config;
    this.receiver = new AlertReceiver(config.receiverHost ?? host, ports.receiver);
    this.prometheusUrl = `http://${host}:${ports.prometheus}`;
    this.alertmanagerUrl = alertmanagerUrl(host, ports);
  }

  async start(): Promise<void> {
    const { config } = this;
    const { dir, host, ports } = config;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await this.receiver.start();

    const mysqld: MonitoredTarget[] = [];
    for (const database of config.databases) {
      const port = await ports.mysqld(database);
      const cnf = join(dir, `mysqld-exporter-${database.name}.cnf`);
      renderTemplateFile(
        'mysqld-exporter/my.cnf.tmpl',
        { user: config.exporter.user, password: config.exporter.password, socket: database.socket },
        cnf,
        0o600,
      );
      this.spawn(database.host, `mysqld-exporter (${database.name})`, 'prometheus-mysqld-exporter', [
        `--config.my-cnf=${cnf}`,
        `--web.listen-address=${database.host}:${port}`,
      ]);
      mysqld.push({ name: database.name, target: `${database.host}:${port}` });
    }

    const nginx: MonitoredTarget[] = [];
    for (const server of config.nginx) {
      const serverHost = new URL(server.statusUrl).hostname;
      const port = await ports.nginx(serverHost);
      this.spawn(serverHost, `nginx-exporter (${server.name})`, 'prometheus-nginx-exporter', [
        `-nginx.scrape-uri=${server.statusUrl}`,
        `-web.listen-address=${serverHost}:${port}`,
      ]);
      nginx.push({ name: server.name, target: `${serverHost}:${port}` });
    }

    const lbVrrp: MonitoredTarget[] = [];
    for (const lb of config.lbVrrp) {
      const port = await ports.lbVrrp(lb.host);
      this.spawn(lb.host, `vrrp-exporter (${lb.name})`, 'prometheus-node-exporter', [
        `--web.listen-address=${lb.host}:${port}`,
        '--collector.disable-defaults',
        '--collector.textfile',
        `--collector.textfile.directory=${lb.textfileDir}`,
      ]);
      lbVrrp.push({ name: lb.name, target: `${lb.host}:${port}` });
    }

    const blackboxConfig = join(dir, 'blackbox.yml');
    writeRenderedFile(blackboxConfig, blackboxYaml(config.caFile));
    this.spawn(host, 'blackbox-exporter', 'prometheus-blackbox-exporter', [
      `--config.file=${blackboxConfig}`,
      `--web.listen-address=${host}:${ports.blackbox}`,
    ]);
    // Only the collectors the rules read: the filesystem (disk filling), plus the basics.
    this.spawn(host, 'node-exporter', 'prometheus-node-exporter', [
      `--web.listen-address=${host}:${ports.node}`,
      '--collector.disable-defaults',
      '--collector.filesystem',
      '--collector.loadavg',
      '--collector.meminfo',
    ]);

    // Both UIs behind basic auth: a bcrypt hash in web.yml, the password in a 0600 file for Prometheus.
    const webConfig = join(dir, 'web.yml');
    renderTemplateFile(
      'prometheus/web.yml.tmpl',
      { user: config.ui.user, passwordHash: await bcrypt(config.ui) },
      webConfig,
      0o600,
    );
    const uiPasswordFile = join(dir, 'ui-password');
    writeFileSync(uiPasswordFile, config.ui.password, { mode: 0o600 });
    const alertmanagerConfig = join(dir, 'alertmanager.yml');
    writeRenderedFile(alertmanagerConfig, alertmanagerYaml(this.receiver.url, '1s', '1s'));
    this.spawn(host, 'alertmanager', 'prometheus-alertmanager', [
      `--config.file=${alertmanagerConfig}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=${host}:${ports.alertmanager}`,
      `--web.config.file=${webConfig}`,
      // No gossip with other Alertmanagers: its default listener is 0.0.0.0:9094.
      '--cluster.listen-address=',
    ]);

    // One scrape target per entry; plus Prometheus itself, the node exporter and (with a public
    // address) the blackbox probe.
    const targetLists = {
      loadBalancers: config.loadBalancers.map(scope),
      apps: config.apps.map(scope),
      managers: config.managers.map(scope),
      mysqld: mysqld.map(scope),
      nginx: nginx.map(scope),
      lbVrrp: lbVrrp.map(scope),
    };
    const expected =
      Object.values(targetLists).reduce((count, list) => count + list.length, 0) +
      (config.publicUrl === undefined ? 2 : 3);
    const prometheusConfig = join(dir, 'prometheus.yml');
    // The function `rwsplit-cluster render` writes a real monitoring host's prometheus.yml with.
    writeRenderedFile(
      prometheusConfig,
      prometheusYaml({
        ...targetLists,
        scrapeInterval: SCRAPE_INTERVAL,
        scrapeTimeout: SCRAPE_INTERVAL,
        rulesFile: join(TEMPLATE_DIR, 'prometheus/rules/rwsplit-alerts.yml'),
        alertmanager: `${host}:${ports.alertmanager}`,
        prometheus: `${host}:${ports.prometheus}`,
        caFile: config.caFile,
        nodeExporter: `${host}:${ports.node}`,
        blackbox: `${host}:${ports.blackbox}`,
        uiUser: config.ui.user,
        uiPasswordFile,
        publicUrl: config.publicUrl,
      }),
    );
    this.spawn(host, 'prometheus', 'prometheus', [
      `--config.file=${prometheusConfig}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=${host}:${ports.prometheus}`,
      `--web.config.file=${webConfig}`,
      '--storage.tsdb.retention.time=1d',
    ]);

    await Promise.all([
      this.ready(`${this.prometheusUrl}/-/ready`, 'Prometheus'),
      this.ready(`${this.alertmanagerUrl}/-/ready`, 'Alertmanager'),
    ]);
    // Ready means every target scraped: before that, rules about series that are not there yet (no
    // writable node, absent()) would count the start-up as a fault.
    await waitFor(
      async () => {
        const health = Object.values(await this.targets());
        return health.length === expected && health.every((h) => h === 'up') ? true : undefined;
      },
      {
        what: `Prometheus to scrape all ${expected} targets`,
        timeoutMs: config.startTimeoutMs,
        intervalMs: 250,
        abortIf: () => this.deadProcess(),
      },
    );
  }

  /** Prometheus's view of its targets: `job/instance` → `up`, `down` or `unknown`. */
  async targets(): Promise<Record<string, string>> {
    const response = await fetch(`${this.prometheusUrl}/api/v1/targets?state=active`, {
      headers: this.authorization(),
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as {
      data: { activeTargets: { labels: Record<string, string>; health: string }[] };
    };
    return Object.fromEntries(
      body.data.activeTargets.map((t) => [`${t.labels.job}/${t.labels.instance}`, t.health]),
    );
  }

  /** The alerts Prometheus has firing now (its own view, before Alertmanager). */
  async firingAlerts(): Promise<string[]> {
    const response = await fetch(`${this.prometheusUrl}/api/v1/alerts`, {
      headers: this.authorization(),
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    return body.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname ?? '');
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((process) => process.stop(5_000)));
    await this.receiver.stop();
  }

  /** Starts `binary` on `host` (the monitoring host, or the node or server an exporter sits beside). */
  private spawn(host: string, name: string, binary: string, args: string[]): void {
    const access = this.config.access?.(host) ?? LOCAL_ACCESS;
    const line = access.launch(findBinary(binary), args);
    const process = superviseOn(access, {
      name,
      command: line.command,
      args: line.args,
      logFile: join(this.config.dir, `${name.replace(/[^\w-]+/g, '-').replace(/-+$/, '')}.log`),
    });
    process.start();
    this.processes.push(process);
  }

  /** Why one of its processes is no longer running, if one is not. */
  private deadProcess(): string | undefined {
    return this.processes.map((p) => p.deathReason()).find((reason) => reason !== undefined);
  }

  /** The `Authorization` header for Prometheus's and Alertmanager's APIs. */
  authorization(): { authorization: string } {
    const { user, password } = this.config.ui;
    return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  }

  private async ready(url: string, what: string): Promise<void> {
    const answers = async () => {
      const response = await fetch(url, {
        headers: this.authorization(),
        signal: AbortSignal.timeout(1_000),
      });
      return response.status === 200;
    };
    await waitFor(async () => ((await answers().catch(() => false)) ? true : undefined), {
      what: `${what} to be ready`,
      timeoutMs: this.config.startTimeoutMs,
      abortIf: () => this.deadProcess(),
    });
  }
}

/** A bcrypt hash of the password (htpasswd reads it on stdin, never from the command line). */
export async function bcrypt(credentials: Credentials): Promise<string> {
  const result = spawnSync(findBinary('htpasswd'), ['-niB', '-C', '10', credentials.user], {
    input: credentials.password,
    encoding: 'utf8',
  });
  const hash = result.stdout.trim().split(':').slice(1).join(':');
  if (result.status !== 0 || !hash.startsWith('$2')) {
    throw new ClusterError(
      `htpasswd could not hash the monitoring password: ${result.stderr.trim()}`,
      'CLUSTER_COMMAND_FAILED',
    );
  }
  return hash;
}
