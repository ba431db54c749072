// `rwsplit-cluster render`'s pure half: an inventory in, every host's files out, keyed
// `<host>/<absolute path without its leading slash>` so that a host's directory mirrors its filesystem
// (`rsync -a DIR/db-1/ root@db-1:/`). No secret is rendered: where a service needs one, its unit reads a
// file under `cluster.secretsDir`, which the operator creates from the `.example` skeletons beside it.
import { renderTemplateText } from '../templates.js';
import { failoverConfig } from './failover-config.js';
import { hostFirewalls } from './host-firewall.js';
import {
  DATABASE,
  DATABASE_UNIT,
  failoverAssemblerPath,
  failoverPublicConfigPath,
  HAPROXY_SOCKET,
  KEEPALIVED_NOTIFY,
  NGINX,
} from './host-paths.js';
import { hostsWith, type Inventory, type InventoryHost } from './inventory.js';
import {
  alertmanagerConfig,
  blackboxConfig,
  productionRules,
  prometheusConfig,
  webConfigExample,
} from './monitoring-configs.js';
import {
  authority,
  databaseConfig,
  haproxyConfig,
  keepalivedConfig,
  keepalivedNotifyScript,
  nginxConfig,
  STATS_PASSWORD_ENV,
} from './service-configs.js';
import * as units from './systemd-units.js';

export interface RenderedFile {
  readonly content: string;
  /** 0o600 for what will hold a secret, 0o755 for scripts, else 0o644. */
  readonly mode: number;
}

/** Relative path → file. */
export type Rendering = ReadonlyMap<string, RenderedFile>;

/** One host's files, by absolute path on that host, and what its secrets README lists. */
class HostFiles {
  readonly secrets: string[] = [];

  constructor(
    private readonly out: Map<string, RenderedFile>,
    readonly host: InventoryHost,
    private readonly inventory: Inventory,
  ) {}

  put(path: string, content: string, mode = 0o644): void {
    this.out.set(`${this.host.name}/${path.replace(/^\/+/, '')}`, { content, mode });
  }

  unit(name: string, content: string): void {
    this.put(`/${units.UNIT_DIR}/${name}`, content);
  }

  /** A file the operator creates in the secrets directory; with a skeleton, `<name>.example` (0600). */
  secret(name: string, what: string, skeleton?: string): void {
    this.secrets.push(`- ${name}: ${what}`);
    if (skeleton !== undefined)
      this.put(`${this.inventory.cluster.secretsDir}/${name}.example`, skeleton, 0o600);
  }
}

const SECRET_RULE = 'letters, digits and _ . - only (e.g. `openssl rand -hex 24`)';

function renderLb(files: HostFiles, inventory: Inventory): void {
  const { host } = files;
  const lb = inventory.lb!;
  const lbHosts = hostsWith(inventory, 'lb');
  const pair = lbHosts.length === 2;
  files.put(
    inventory.paths.haproxyConfig,
    haproxyConfig({
      runtimeSocket: HAPROXY_SOCKET,
      // A pair binds the floating address on both hosts (ip_nonlocal_bind below), held or not.
      publicBind: lb.floatingAddress ?? host.address,
      internalBind: host.address,
      publicAuthority: authority(inventory.cluster.publicName, lb.httpsPort, 443),
      httpPort: lb.httpPort,
      httpsPort: lb.httpsPort,
      statsPort: lb.statsPort,
      certificate: lb.certificate,
      balance: lb.balance,
      mode: lb.mode,
      statsUser: inventory.cluster.accounts.stats,
      backends: inventory.hosts
        .filter((h) => h.server !== undefined)
        .map((h) => ({ name: h.name, host: h.address, port: h.server!.nginxPort })),
    }),
  );
  files.unit('haproxy.service', units.haproxyUnit(inventory, host));
  files.secret(
    'haproxy.env',
    `${STATS_PASSWORD_ENV}=<the stats page's password for ${inventory.cluster.accounts.stats}>, ${SECRET_RULE}`,
    `# Copy to haproxy.env (0600, root's). ${SECRET_RULE}.\n${STATS_PASSWORD_ENV}=\n`,
  );
  if (!pair) return;
  const index = lbHosts.indexOf(host);
  const stateFile = `${inventory.paths.textfileDir}/vrrp.prom`;
  files.put(
    inventory.paths.keepalivedConfig,
    keepalivedConfig({
      hostName: host.name,
      self: host.address,
      peers: lbHosts.filter((other) => other !== host).map((other) => other.address),
      floating: lb.floatingAddress!,
      prefixLength: lb.prefixLength,
      interface: lb.interface,
      routerId: lb.virtualRouterId,
      // The first wins the first election; with nopreempt the address then stays where it is.
      priority: host.lbPriority ?? 254 - index,
      notifyScript: KEEPALIVED_NOTIFY,
    }),
  );
  files.put(KEEPALIVED_NOTIFY, keepalivedNotifyScript(host.name, stateFile), 0o755);
  files.put(
    '/etc/sysctl.d/60-rwsplit-lb.conf',
    '# Rendered by `rwsplit-cluster render`: HAProxy binds the floating address on both LBs, held or not.\nnet.ipv4.ip_nonlocal_bind = 1\n',
  );
  files.unit('keepalived.service', units.keepalivedUnit(inventory, host));
  files.unit(
    'prometheus-node-exporter.service',
    units.exporterUnit(host, {
      description: "Node exporter with keepalived's state (rwsplit_lb_vrrp_master)",
      command: [
        '/usr/bin/prometheus-node-exporter',
        `--web.listen-address=${host.address}:${lb.vrrpExporterPort}`,
        '--collector.disable-defaults',
        '--collector.textfile',
        `--collector.textfile.directory=${inventory.paths.textfileDir}`,
      ],
    }),
  );
}

function renderServer(files: HostFiles, inventory: Inventory): void {
  const { host } = files;
  const server = host.server!;
  files.put(
    inventory.paths.nginxConfig,
    nginxConfig({
      userDirective: `user ${NGINX.user};`,
      pidFile: NGINX.pidFile,
      errorLog: NGINX.errorLog,
      accessLog: NGINX.accessLog,
      tempDir: NGINX.tempDir,
      listen: host.address,
      port: server.nginxPort,
      statusPort: server.nginxStatusPort,
      appHost: host.address,
      appPort: server.appPort,
      serverName: host.name,
      staticDir: server.staticDir,
      internalPaths: server.internalPaths,
    }),
  );
  files.unit('nginx.service', units.nginxUnit(inventory, host));
  files.unit('rwsplit-app.service', units.appUnit(inventory, host));
  files.unit(
    'prometheus-nginx-exporter.service',
    units.exporterUnit(host, {
      description: "Nginx exporter (Nginx's stub_status)",
      command: [
        '/usr/bin/prometheus-nginx-exporter',
        `-nginx.scrape-uri=http://${host.address}:${server.nginxStatusPort}/stub_status`,
        `-web.listen-address=${host.address}:${server.nginxExporterPort}`,
      ],
    }),
  );
  const monitoring = inventory.monitoring !== undefined;
  const appSecrets = ['DB_PASSWORD', 'DB_MONITOR_PASSWORD', ...(monitoring ? ['ALERTMANAGER_PASSWORD'] : [])];
  files.secret(
    'app.env',
    `${appSecrets.join(', ')}: the passwords of ${inventory.cluster.accounts.app}, ${inventory.cluster.accounts.monitor}${monitoring ? ` and ${inventory.cluster.accounts.monitoring}` : ''}, ${SECRET_RULE}`,
    `# Copy to app.env (0600, root's). ${SECRET_RULE}.\n${appSecrets.map((name) => `${name}=\n`).join('')}`,
  );
  if (inventory.failover === undefined || !server.failoverManager) return;
  const publicConfig = failoverPublicConfigPath(inventory);
  files.put(publicConfig, `${JSON.stringify(failoverConfig(inventory, host), null, 2)}\n`);
  files.put(failoverAssemblerPath(inventory), units.failoverAssembler(host, publicConfig));
  files.unit('rwsplit-failover.service', units.failoverUnit(inventory, host));
  const { accounts } = inventory.cluster;
  files.secret('failover-password', `the password of ${accounts.failover} (the file holds only it)`);
  files.secret('replication-password', `the password of ${accounts.replication} (the file holds only it)`);
  files.secret('failover-token', "the managers' shared API token, the same on every server, 16+ characters");
}

function renderDb(files: HostFiles, inventory: Inventory): void {
  const { host } = files;
  const db = host.db!;
  const { cluster, paths } = inventory;
  const managed = inventory.failover !== undefined;
  const group = cluster.flavor === 'mariadb' ? 'mariadbd' : 'mysqld';
  const overrides = '/etc/mysql/rwsplit.conf.d';
  const config = databaseConfig(cluster.flavor, {
    datadir: paths.datadir,
    tmpDir: DATABASE.tmpDir,
    socket: DATABASE.socket,
    pidFile: DATABASE.pidFile,
    errorLog: DATABASE.errorLog,
    filesDir: DATABASE.filesDir,
    host: host.address,
    port: db.port,
    serverId: db.serverId,
    // Managed: every node starts read-only, the primary too; the leading manager makes it writable.
    readOnly: managed || db.role === 'replica',
    semiSyncTimeoutMs: cluster.semiSync?.timeoutMs,
    managed,
    tls: cluster.tls,
  });
  files.put(
    paths.mysqlConfig,
    `${config}\n# The operator's settings (sizing above all), read last.\n!includedir ${overrides}/\n`,
  );
  files.put(
    `${overrides}/50-sizing.cnf`,
    `# Rendered by \`rwsplit-cluster render\` once; yours to change. my.cnf's sizes are a laptop's: these\n# suit a host with 2+ GB for the server. Size the buffer pool to most of the host's memory.\n[${group}]\ninnodb-buffer-pool-size  = 1G\ninnodb-log-file-size     = 256M\ninnodb-log-buffer-size   = 16M\nkey-buffer-size          = 8M\ntable-open-cache         = 2000\nthread-cache-size        = 64\n`,
  );
  files.unit(DATABASE_UNIT[cluster.flavor], units.databaseUnit(inventory, host));
  files.unit(
    'prometheus-mysqld-exporter.service',
    units.exporterUnit(host, {
      description: "mysqld_exporter (over the node's unix socket)",
      command: [
        '/usr/bin/prometheus-mysqld-exporter',
        '--config.my-cnf=%d/my.cnf',
        `--web.listen-address=${host.address}:${db.exporterPort}`,
      ],
      credentials: [{ id: 'my.cnf', path: `${cluster.secretsDir}/mysqld-exporter.cnf` }],
    }),
  );
  files.secret(
    'mysqld-exporter.cnf',
    `the exporter's client config with the password of ${cluster.accounts.exporter}`,
    `# Copy to mysqld-exporter.cnf (0600, root's) with the password in place of the marker.\n${renderTemplateText(
      'mysqld-exporter/my.cnf.tmpl',
      {
        user: cluster.accounts.exporter,
        password: 'REPLACE-WITH-THE-EXPORTER-PASSWORD',
        socket: DATABASE.socket,
      },
    )}`,
  );
}

function renderMonitoring(files: HostFiles, inventory: Inventory): void {
  const { host } = files;
  const monitoring = inventory.monitoring!;
  const dir = inventory.paths.prometheusDir;
  files.put(`${dir}/prometheus.yml`, prometheusConfig(inventory));
  files.put(`${dir}/rules/rwsplit-alerts.yml`, productionRules());
  files.put(`${dir}/alertmanager.yml`, alertmanagerConfig(inventory));
  files.put(`${dir}/blackbox.yml`, blackboxConfig(inventory));
  files.unit('prometheus.service', units.prometheusUnit(inventory, host));
  files.unit('prometheus-alertmanager.service', units.alertmanagerUnit(inventory, host));
  files.unit(
    'prometheus-blackbox-exporter.service',
    units.exporterUnit(host, {
      description: 'Blackbox exporter (probes the public HTTPS address)',
      command: [
        '/usr/bin/prometheus-blackbox-exporter',
        `--config.file=${dir}/blackbox.yml`,
        `--web.listen-address=127.0.0.1:${monitoring.blackboxPort}`,
      ],
    }),
  );
  files.unit(
    'prometheus-node-exporter.service',
    units.exporterUnit(host, {
      description: 'Node exporter',
      command: [
        '/usr/bin/prometheus-node-exporter',
        `--web.listen-address=${host.address}:${monitoring.nodeExporterPort}`,
        '--collector.disable-defaults',
        '--collector.filesystem',
        '--collector.loadavg',
        '--collector.meminfo',
      ],
    }),
  );
  const user = inventory.cluster.accounts.monitoring;
  files.secret(
    'monitoring-password',
    `the password of ${user} for Prometheus's and Alertmanager's APIs (the file holds only it)`,
  );
  files.secret(
    'prometheus-web.yml',
    `basic auth for both UIs: ${user}'s bcrypt hash`,
    webConfigExample(inventory),
  );
}

function secretsReadme(files: HostFiles, inventory: Inventory): string {
  const { cluster } = inventory;
  return `# Secrets on ${files.host.name}

Rendered by \`rwsplit-cluster render\`, which writes no secret. Create each file below in this directory
(${cluster.secretsDir}), owned by root, mode 0600 (the directory 0700): systemd reads them as root and
hands them to the services (EnvironmentFile=, LoadCredential=). A \`.example\` beside a name is its
skeleton. The same account's password must be the same file content on every host that names it.

${files.secrets.join('\n')}

Certificates (not secret, except the keys): ${cluster.tls.ca} (the CA), ${cluster.tls.certificate} and
${cluster.tls.key} (this host's, naming its address ${files.host.address}).
`;
}

/** Every host's files. Pure: the same inventory gives the same map. */
export function renderHosts(inventory: Inventory): Rendering {
  const out = new Map<string, RenderedFile>();
  const firewalls = hostFirewalls(inventory);
  for (const host of inventory.hosts) {
    const files = new HostFiles(out, host, inventory);
    // nftables.service loads it at boot (`nft -f`, which its shebang also names).
    files.put('/etc/nftables.conf', firewalls.get(host.name)!, 0o755);
    if (host.roles.includes('lb')) renderLb(files, inventory);
    if (host.server !== undefined) renderServer(files, inventory);
    if (host.db !== undefined) renderDb(files, inventory);
    if (host.roles.includes('monitoring')) renderMonitoring(files, inventory);
    files.put(`${inventory.cluster.secretsDir}/README`, secretsReadme(files, inventory));
  }
  return out;
}
