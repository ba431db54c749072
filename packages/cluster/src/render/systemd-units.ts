// The systemd units of each host's services (templates/systemd/). Each replaces the distribution's
// unit of the same name where there is one, so `systemctl restart haproxy` runs ours.
import { renderTemplateText } from '../templates.js';
import { failoverAssemblerPath, failoverPublicConfigPath } from './host-paths.js';
import type { DbFlavor, Inventory, InventoryHost } from './inventory.js';

export const UNIT_DIR = 'etc/systemd/system';

export function haproxyUnit(inventory: Inventory, host: InventoryHost): string {
  return renderTemplateText('systemd/haproxy.service.tmpl', {
    hostName: host.name,
    secretsDir: inventory.cluster.secretsDir,
    config: inventory.paths.haproxyConfig,
  });
}

export function keepalivedUnit(inventory: Inventory, host: InventoryHost): string {
  const lb = inventory.lb!;
  return renderTemplateText('systemd/keepalived.service.tmpl', {
    hostName: host.name,
    config: inventory.paths.keepalivedConfig,
    floating: lb.floatingAddress!,
    prefixLength: lb.prefixLength,
    interface: lb.interface,
  });
}

export function nginxUnit(inventory: Inventory, host: InventoryHost): string {
  return renderTemplateText('systemd/nginx.service.tmpl', {
    hostName: host.name,
    config: inventory.paths.nginxConfig,
  });
}

/** The app's environment: the topology, in the variables the harness hands an app too. */
export function appEnvironment(inventory: Inventory, host: InventoryHost): Record<string, string> {
  const server = host.server!;
  const dbs = inventory.hosts.filter((h) => h.db !== undefined);
  const primary = dbs.find((h) => h.db!.role === 'primary')!;
  const monitoringHost = inventory.hosts.find((h) => h.roles.includes('monitoring'));
  const { cluster, monitoring } = inventory;
  return {
    HOST: host.address,
    PORT: String(server.appPort),
    SERVER_NAME: host.name,
    DB_PRIMARY: `${primary.address}:${primary.db!.port}`,
    DB_REPLICAS: dbs
      .filter((h) => h.db!.role === 'replica')
      .map((h) => `${h.address}:${h.db!.port}`)
      .join(','),
    DB_NAME: cluster.database,
    DB_USER: cluster.accounts.app,
    DB_MONITOR_USER: cluster.accounts.monitor,
    DB_SSL_CA_FILE: cluster.tls.ca,
    ...(monitoringHost === undefined || monitoring === undefined
      ? {}
      : {
          ALERTMANAGER_URL: `http://${monitoringHost.address}:${monitoring.alertmanagerPort}`,
          ALERTMANAGER_USER: cluster.accounts.monitoring,
        }),
    ...server.env,
  };
}

export function appUnit(inventory: Inventory, host: InventoryHost): string {
  const server = host.server!;
  return renderTemplateText('systemd/rwsplit-app.service.tmpl', {
    hostName: host.name,
    secretsDir: inventory.cluster.secretsDir,
    command: server.command.join(' '),
    hasWorkingDirectory: server.workingDirectory !== undefined,
    workingDirectory: server.workingDirectory ?? '',
    environment: Object.entries(appEnvironment(inventory, host)).map(([name, value]) => ({ name, value })),
    user: server.user,
  });
}

export function failoverUnit(inventory: Inventory, host: InventoryHost): string {
  const failover = inventory.failover!;
  return renderTemplateText('systemd/rwsplit-failover.service.tmpl', {
    hostName: host.name,
    managerId: host.name,
    secretsDir: inventory.cluster.secretsDir,
    apiKey: inventory.cluster.tls.key,
    node: failover.node,
    assembler: failoverAssemblerPath(inventory),
    publicConfig: failoverPublicConfigPath(inventory),
    command: failover.command.join(' '),
  });
}

export function failoverAssembler(host: InventoryHost, publicConfig: string): string {
  return renderTemplateText('systemd/failover-assemble.mjs.tmpl', { hostName: host.name, publicConfig });
}

const FLAVOR_NAME: Readonly<Record<DbFlavor, string>> = { mariadb: 'MariaDB', mysql: 'MySQL' };
const DATABASE_BINARY: Readonly<Record<DbFlavor, string>> = {
  mariadb: '/usr/sbin/mariadbd',
  mysql: '/usr/sbin/mysqld',
};

export function databaseUnit(inventory: Inventory, host: InventoryHost): string {
  const flavor = inventory.cluster.flavor;
  return renderTemplateText('systemd/database.service.tmpl', {
    hostName: host.name,
    flavorName: FLAVOR_NAME[flavor],
    serverId: host.db!.serverId,
    binary: DATABASE_BINARY[flavor],
    config: inventory.paths.mysqlConfig,
  });
}

export interface ExporterUnit {
  readonly description: string;
  readonly command: readonly string[];
  readonly credentials?: readonly { readonly id: string; readonly path: string }[];
}

export function exporterUnit(host: InventoryHost, exporter: ExporterUnit): string {
  return renderTemplateText('systemd/exporter.service.tmpl', {
    hostName: host.name,
    description: exporter.description,
    command: exporter.command.join(' '),
    credentials: (exporter.credentials ?? []).map((c) => ({ id: c.id, path: c.path })),
    user: 'prometheus-exporter',
  });
}

export function prometheusUnit(inventory: Inventory, host: InventoryHost): string {
  const monitoring = inventory.monitoring!;
  return renderTemplateText('systemd/prometheus.service.tmpl', {
    hostName: host.name,
    secretsDir: inventory.cluster.secretsDir,
    passwordFile: '/run/credentials/prometheus.service/monitoring-password',
    config: `${inventory.paths.prometheusDir}/prometheus.yml`,
    dataDir: inventory.paths.prometheusData,
    listen: `${host.address}:${monitoring.prometheusPort}`,
  });
}

export function alertmanagerUnit(inventory: Inventory, host: InventoryHost): string {
  const monitoring = inventory.monitoring!;
  return renderTemplateText('systemd/alertmanager.service.tmpl', {
    hostName: host.name,
    secretsDir: inventory.cluster.secretsDir,
    config: `${inventory.paths.prometheusDir}/alertmanager.yml`,
    dataDir: inventory.paths.alertmanagerData,
    listen: `${host.address}:${monitoring.alertmanagerPort}`,
  });
}
