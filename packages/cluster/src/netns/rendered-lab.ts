import { chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findBinary } from '../binaries.js';
import { type ClusterCa, createClusterCa, issueCertificate } from '../cluster-ca.js';
import { ClusterError } from '../errors.js';
import { bcrypt } from '../monitoring-host.js';
import { randomSecret } from '../options.js';
import {
  type AccountPasswords,
  followPrimarySql,
  initPrimarySql,
  OPEN_PRIMARY_SQL,
  primaryHost,
} from '../render/bootstrap-sql.js';
import { DATABASE, DATABASE_UNIT, NGINX } from '../render/host-paths.js';
import { type Inventory, type InventoryHost, resolveInventory } from '../render/inventory.js';
import { type Rendering, renderHosts } from '../render/render-hosts.js';
import { STATS_PASSWORD_ENV } from '../render/service-configs.js';
import { UNIT_DIR } from '../render/systemd-units.js';
import { secretDirs, writeRendering } from '../render/write-rendering.js';
import { systemUser } from '../service-user.js';
import { waitFor } from '../wait.js';
import { HostRoot } from './host-root.js';
import { type LabHostSpec, NetnsLab } from './lab.js';
import { UnitProcess } from './unit-runner.js';

/** Every secret the rendered hosts read, made up for the lab: the operator's part on a real host. */
export interface LabSecrets extends AccountPasswords {
  readonly stats: string;
  /** The failover managers' shared API token. */
  readonly managersToken: string;
  /** The monitoring account's, for Prometheus's and Alertmanager's APIs. */
  readonly monitoring: string;
}

/** One lab host started from its rendering: its filesystem, and its services by unit name. */
export interface RenderedHost {
  readonly spec: InventoryHost;
  readonly root: HostRoot;
  readonly units: ReadonlyMap<string, UnitProcess>;
}

/**
 * The operator's own sizing file (`rwsplit.conf.d/50-sizing.cnf`, "yours to change"), for lab hosts that
 * share two cores: the rendered default is a production host's 1 GB buffer pool and 256 MB redo log.
 */
const LAB_SIZING = '[mariadbd]\ninnodb-buffer-pool-size = 64M\ninnodb-log-file-size = 48M\n';

const FAILOVER_UNIT = 'rwsplit-failover.service';

/** The file a rendering holds for `host` at `path`, or undefined. */
function renderedFile(rendering: Rendering, host: string, path: string): string | undefined {
  return rendering.get(`${host}/${path.replace(/^\/+/, '')}`)?.content;
}

/**
 * A network lab whose hosts run exactly what `rwsplit-cluster render` writes for an inventory: each host
 * a network namespace (`NetnsLab`) with its own filesystem (`HostRoot`) holding its rendered tree, its
 * rendered nftables ruleset loaded (`nft -f /etc/nftables.conf`, as nftables.service does), its rendered
 * sysctl settings, and its services started from their rendered units (`UnitProcess`). What the lab adds
 * is the operator's part, which the rendering leaves out by design: certificates, secret files, the
 * one-time database bootstrap (`bootstrap-sql.ts`), and the sizing file.
 *
 * `inventoryFor` gets the lab (its addresses are only known once it exists) and returns the raw inventory,
 * as a user's hosts.json; invalid ones fail as `render` fails.
 */
export class RenderedLab {
  private constructor(
    readonly lab: NetnsLab,
    readonly inventory: Inventory,
    readonly rendering: Rendering,
    readonly ca: ClusterCa,
    readonly secrets: LabSecrets,
    private readonly hosts: Map<string, RenderedHost>,
  ) {}

  static async start(
    specs: readonly LabHostSpec[],
    inventoryFor: (lab: NetnsLab) => unknown,
  ): Promise<RenderedLab> {
    const lab = await NetnsLab.create(specs);
    const hosts = new Map<string, RenderedHost>();
    try {
      const inventory = resolveInventory(inventoryFor(lab));
      const rendering = renderHosts(inventory);
      const rootsDir = join(lab.dir, 'roots');
      writeRendering(
        rootsDir,
        rendering,
        secretDirs(
          inventory.hosts.map((host) => host.name),
          inventory.cluster.secretsDir,
        ),
      );
      const ca = await createClusterCa(lab.dir, 'rwsplit lab');
      const secrets: LabSecrets = {
        app: randomSecret(),
        monitor: randomSecret(),
        replication: randomSecret(),
        failover: randomSecret(),
        exporter: randomSecret(),
        stats: randomSecret(),
        managersToken: randomSecret(),
        monitoring: randomSecret(),
      };
      const started = new RenderedLab(lab, inventory, rendering, ca, secrets, hosts);
      for (const host of inventory.hosts) {
        const dir = join(rootsDir, host.name);
        await started.provision(host, dir);
        const root = await HostRoot.enter(
          lab,
          host.name,
          dir,
          host.db === undefined ? [] : [inventory.paths.datadir],
        );
        // Registered before anything else can fail, so the teardown ends this host's filesystem too.
        const units = new Map<string, UnitProcess>();
        hosts.set(host.name, { spec: host, root, units });
        for (const [key, file] of rendering) {
          const prefix = `${host.name}/${UNIT_DIR}/`;
          if (!key.startsWith(prefix)) continue;
          const name = key.slice(prefix.length);
          units.set(name, new UnitProcess(root, name, file.content));
        }
        // BindsTo=: when the bound unit ends, systemd stops this one (keepalived, and with it the address,
        // goes with HAProxy).
        for (const unit of units.values()) {
          for (const bound of unit.unit.bindsTo)
            units.get(bound)?.onExit(() => void unit.stop().catch(() => {}));
        }
        // What boot does before any service: the host's firewall (nftables.service), then its sysctl.d.
        await root.run(findBinary('nft'), ['-f', '/etc/nftables.conf']);
        if (renderedFile(rendering, host.name, '/etc/sysctl.d/60-rwsplit-lb.conf') !== undefined)
          await root.run(findBinary('sysctl'), ['-q', '-p', '/etc/sysctl.d/60-rwsplit-lb.conf']);
      }
      await started.startDatabases();
      await started.startFailoverManagers();
      for (const host of inventory.hosts.filter((h) => h.server !== undefined))
        await started.startServer(host);
      for (const host of inventory.hosts.filter((h) => h.roles.includes('lb'))) await started.startLb(host);
      // Everything else each host's rendering has: the exporters, and the monitoring host's services.
      for (const host of hosts.values()) {
        for (const unit of host.units.values()) if (!unit.running) await unit.start();
      }
      return started;
    } catch (error) {
      await RenderedLab.teardown(lab, hosts);
      throw error;
    }
  }

  host(name: string): RenderedHost {
    const host = this.hosts.get(name);
    if (host === undefined) throw new ClusterError(`no rendered host ${name}`, 'CLUSTER_INVALID_OPTION');
    return host;
  }

  unit(host: string, name: string): UnitProcess {
    const unit = this.host(host).units.get(name);
    if (unit === undefined) {
      throw new ClusterError(
        `${host} has no unit ${name}; it has ${[...this.host(host).units.keys()].join(', ')}`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    return unit;
  }

  /**
   * SQL as root over a database host's socket (unix_socket authentication). The statements go on stdin:
   * the bootstrap's hold every account's password, which must not be on a command line.
   */
  sql(host: string, statements: string): Promise<string> {
    return this.host(host).root.run(
      findBinary('mariadb'),
      [`--socket=${DATABASE.socket}`, '--batch', '--skip-column-names'],
      30_000,
      statements,
    );
  }

  /** Stops every service (LBs first, databases last), every filesystem, then the lab itself. */
  async stop(): Promise<void> {
    await RenderedLab.teardown(this.lab, this.hosts);
  }

  private static async teardown(lab: NetnsLab, hosts: Map<string, RenderedHost>): Promise<void> {
    const errors: unknown[] = [];
    const order = [...hosts.values()].sort((a, b) => rank(a.spec) - rank(b.spec));
    for (const host of order) {
      for (const unit of host.units.values()) await unit.stop(5_000).catch((error) => errors.push(error));
    }
    for (const host of order) await host.root.close().catch((error) => errors.push(error));
    await lab.destroy().catch((error) => errors.push(error));
    if (errors.length > 0) {
      throw new ClusterError(
        `the rendered lab did not stop cleanly: ${errors.map(String).join('; ')}`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
  }

  /** The operator's part of a host, into its tree before its filesystem is laid: certificates and secrets. */
  private async provision(host: InventoryHost, dir: string): Promise<void> {
    const { cluster, lb } = this.inventory;
    const at = (path: string) => join(dir, path);
    const put = (path: string, content: string, mode = 0o600) => {
      mkdirSync(dirname(at(path)), { recursive: true });
      writeFileSync(at(path), content, { mode });
    };
    const owner = (user: string) => {
      const account = systemUser(user);
      if (account === undefined)
        throw new ClusterError(`${host.name}: the machine has no ${user} account`, 'CLUSTER_INVALID_OPTION');
      return account;
    };
    for (const path of [cluster.tls.ca, cluster.tls.certificate, cluster.tls.key])
      mkdirSync(dirname(at(path)), { recursive: true });
    copyFileSync(this.ca.certificateFile, at(cluster.tls.ca));
    const names = [
      host.address,
      ...(host.roles.includes('lb') && lb?.floatingAddress ? [lb.floatingAddress] : []),
    ];
    const issuedDir = join(this.lab.dir, 'certificates');
    mkdirSync(issuedDir, { recursive: true, mode: 0o700 });
    const issued = await issueCertificate(this.ca, issuedDir, host.name, host.name, [
      ...names,
      cluster.publicName,
    ]);
    copyFileSync(issued.certificateFile, at(cluster.tls.certificate));
    copyFileSync(issued.keyFile, at(cluster.tls.key));
    // The database server reads its key as its own user; the README says the operator hands it over.
    if (host.db !== undefined) chownSync(at(cluster.tls.key), owner('mysql').uid, owner('mysql').gid);
    const secrets = cluster.secretsDir;
    const { secrets: s } = this;
    if (host.roles.includes('lb') && lb !== undefined) {
      const bundle = `${readFileSync(issued.certificateFile, 'utf8')}${readFileSync(issued.keyFile, 'utf8')}`;
      put(lb.certificate, bundle);
      chownSync(at(lb.certificate), owner('haproxy').uid, owner('haproxy').gid);
      put(`${secrets}/haproxy.env`, `${STATS_PASSWORD_ENV}=${s.stats}\n`);
    }
    if (host.server !== undefined) {
      const alerts = this.inventory.monitoring === undefined ? '' : `ALERTMANAGER_PASSWORD=${s.monitoring}\n`;
      put(`${secrets}/app.env`, `DB_PASSWORD=${s.app}\nDB_MONITOR_PASSWORD=${s.monitor}\n${alerts}`);
      if (this.inventory.failover !== undefined && host.server.failoverManager) {
        put(`${secrets}/failover-password`, `${s.failover}\n`);
        put(`${secrets}/replication-password`, `${s.replication}\n`);
        put(`${secrets}/failover-token`, `${s.managersToken}\n`);
      }
    }
    if (host.db !== undefined) {
      put('/etc/mysql/rwsplit.conf.d/50-sizing.cnf', LAB_SIZING, 0o644);
      const skeleton = renderedFile(this.rendering, host.name, `${secrets}/mysqld-exporter.cnf.example`);
      if (skeleton !== undefined)
        put(
          `${secrets}/mysqld-exporter.cnf`,
          skeleton.replace('REPLACE-WITH-THE-EXPORTER-PASSWORD', () => s.exporter),
        );
    }
    if (host.roles.includes('monitoring')) {
      // The operator's DNS: the public name is the floating address (the blackbox probe dials it by name).
      const front = lb?.floatingAddress ?? this.inventory.hosts.find((h) => h.roles.includes('lb'))?.address;
      if (front !== undefined)
        put(
          '/etc/hosts',
          `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${front} ${cluster.publicName}\n`,
          0o644,
        );
      const user = cluster.accounts.monitoring;
      put(`${secrets}/monitoring-password`, `${s.monitoring}\n`);
      const skeleton = renderedFile(this.rendering, host.name, `${secrets}/prometheus-web.yml.example`) ?? '';
      const hash = await bcrypt({ user, password: s.monitoring });
      put(
        `${secrets}/prometheus-web.yml`,
        skeleton.replace('REPLACE-WITH-BCRYPT-HASH', () => hash),
      );
    }
  }

  private async startDatabases(): Promise<void> {
    const unitName = DATABASE_UNIT[this.inventory.cluster.flavor];
    const dbs = this.inventory.hosts.filter((host) => host.db !== undefined);
    // Every node's start settles before a failure is reported: the teardown must not race one still starting.
    const starts = await Promise.allSettled(
      dbs.map(async (host) => {
        const unit = this.unit(host.name, unitName);
        const { root } = this.host(host.name);
        // The package's post-install step on a real host: an empty datadir, initialised once.
        await unit.prepare();
        await root.run(
          findBinary('mariadb-install-db'),
          [
            `--defaults-file=${this.inventory.paths.mysqlConfig}`,
            '--user=mysql',
            '--skip-test-db',
            '--auth-root-authentication-method=socket',
          ],
          120_000,
        );
        await unit.start();
        await this.until(`${host.name} ${unitName} accepting`, unit, () =>
          root.accepts(host.address, host.db!.port),
        );
        // The bootstrap wrote binlog events; GTID strict mode wants every node to start from nothing.
        await this.sql(host.name, 'RESET MASTER');
      }),
    );
    const failed = starts.find((start): start is PromiseRejectedResult => start.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const primary = primaryHost(this.inventory);
    await this.sql(primary.name, initPrimarySql(this.inventory, this.secrets));
    for (const host of dbs.filter((h) => h.db!.role === 'replica')) {
      await this.sql(host.name, `${followPrimarySql(this.inventory, this.secrets)}\nSTART SLAVE;`);
    }
    if (this.inventory.failover !== undefined) await this.sql(primary.name, OPEN_PRIMARY_SQL);
  }

  /**
   * The managers, from their units; the apps start once the managers agree on the writable primary the
   * bootstrap opened (a leader holds it), as a real host's would once the cluster is up.
   */
  private async startFailoverManagers(): Promise<void> {
    if (this.inventory.failover === undefined) return;
    const managers = this.inventory.hosts.filter((host) => this.host(host.name).units.has(FAILOVER_UNIT));
    for (const host of managers) await this.unit(host.name, FAILOVER_UNIT).start();
    const primary = primaryHost(this.inventory);
    const unit = this.unit(managers[0]!.name, FAILOVER_UNIT);
    await this.until(
      `${primary.name} writable under a leading failover manager`,
      unit,
      async () => (await this.sql(primary.name, 'SELECT @@GLOBAL.read_only').catch(() => '1')).trim() === '0',
      60_000,
    );
  }

  private async startServer(host: InventoryHost): Promise<void> {
    const server = host.server!;
    const { root } = this.host(host.name);
    const app = this.unit(host.name, 'rwsplit-app.service');
    await app.start();
    await this.until(
      `${host.name} app accepting`,
      app,
      () => root.accepts(host.address, server.appPort),
      60_000,
    );
    // Debian's nginx package makes its temp directory; an overlay copy of it is this host's own.
    await root.run(findBinary('install'), ['-d', '-o', NGINX.user, NGINX.tempDir]);
    const nginx = this.unit(host.name, 'nginx.service');
    await nginx.start();
    await this.until(`${host.name} nginx accepting`, nginx, () =>
      root.accepts(host.address, server.nginxPort),
    );
  }

  private async startLb(host: InventoryHost): Promise<void> {
    const lb = this.inventory.lb!;
    const { root } = this.host(host.name);
    const haproxy = this.unit(host.name, 'haproxy.service');
    await haproxy.start();
    await this.until(`${host.name} haproxy accepting`, haproxy, () =>
      root.accepts(host.address, lb.statsPort),
    );
    if (this.host(host.name).units.has('keepalived.service'))
      await this.unit(host.name, 'keepalived.service').start();
  }

  /** Waits for `check`, giving up at once if `unit` dies; a timeout says what the unit printed last. */
  private async until(
    what: string,
    unit: UnitProcess,
    check: () => Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<void> {
    try {
      await waitFor(async () => ((await check()) ? true : undefined), {
        what,
        timeoutMs,
        intervalMs: 100,
        abortIf: () => unit.deathReason(),
      });
    } catch (error) {
      if (!(error instanceof ClusterError) || error.code !== 'CLUSTER_NOT_READY') throw error;
      throw new ClusterError(
        `${error.message}; last lines of ${unit.name}:\n${unit.logTail()}`,
        'CLUSTER_NOT_READY',
        { cause: error },
      );
    }
  }
}

/** Stop order: the front first, so nothing routes to a service already gone. */
function rank(host: InventoryHost): number {
  if (host.roles.includes('lb')) return 0;
  if (host.server !== undefined) return 1;
  return 2;
}

/** The rendered file of `host` at `path` (for tests that compare what runs with what was rendered). */
export function renderedContent(lab: RenderedLab, host: string, path: string): string {
  const content = renderedFile(lab.rendering, host, path);
  if (content === undefined)
    throw new ClusterError(`${host} has no rendered ${path}`, 'CLUSTER_INVALID_OPTION');
  return content;
}
