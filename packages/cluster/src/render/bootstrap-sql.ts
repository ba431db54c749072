// The one-time SQL that makes an inventory's database hosts a cluster: the accounts on the first primary
// (they replicate to the replicas), then each replica pointed at it. From the same templates the harness
// and compose run; the passwords are the operator's (the same ones the hosts' secret files hold), so this
// is run, never rendered to disk.
import { renderTemplateText } from '../templates.js';
import type { Inventory, InventoryHost } from './inventory.js';

/** The passwords of the inventory's accounts (`cluster.accounts`), as the hosts' secret files hold them. */
export interface AccountPasswords {
  readonly app: string;
  readonly monitor: string;
  readonly replication: string;
  readonly failover: string;
  readonly exporter: string;
}

const TEMPLATES = { mariadb: 'mariadb', mysql: 'mysql' } as const;

function addresses(hosts: readonly InventoryHost[]): { host: string }[] {
  return hosts.map((host) => ({ host: host.address }));
}

/** The inventory's primary (the one database host with `role: primary`). */
export function primaryHost(inventory: Inventory): InventoryHost {
  return inventory.hosts.find((host) => host.db?.role === 'primary')!;
}

/**
 * Run once on the primary: the app's database, and each account usable from exactly its clients'
 * addresses (the app and monitor from the servers, the failover managers from theirs, replication from
 * the database hosts, the exporter over the socket). No admin account: root stays socket-only.
 */
export function initPrimarySql(inventory: Inventory, passwords: AccountPasswords): string {
  const { cluster } = inventory;
  const { accounts } = cluster;
  const servers = inventory.hosts.filter((host) => host.server !== undefined);
  const managers =
    inventory.failover === undefined ? [] : servers.filter((host) => host.server?.failoverManager);
  return renderTemplateText(`${TEMPLATES[cluster.flavor]}/init-primary.sql.tmpl`, {
    appDatabase: cluster.database,
    adminHosts: [],
    adminUser: '',
    adminPassword: '',
    appUser: accounts.app,
    appPassword: passwords.app,
    appHosts: addresses(servers),
    monitorUser: accounts.monitor,
    monitorPassword: passwords.monitor,
    monitorHosts: addresses(servers),
    failoverUser: accounts.failover,
    failoverPassword: passwords.failover,
    failoverHosts: addresses(managers),
    exporterUser: accounts.exporter,
    exporterPassword: passwords.exporter,
    replicationUser: accounts.replication,
    replicationPassword: passwords.replication,
    replicationHosts: addresses(inventory.hosts.filter((host) => host.db !== undefined)),
  });
}

/** Run on each replica (then start replication): follow the primary over TLS, checking its certificate. */
export function followPrimarySql(inventory: Inventory, passwords: AccountPasswords): string {
  const primary = primaryHost(inventory);
  return renderTemplateText(`${TEMPLATES[inventory.cluster.flavor]}/follow-primary.sql.tmpl`, {
    primaryHost: primary.address,
    primaryPort: primary.db!.port,
    replicationUser: inventory.cluster.accounts.replication,
    replicationPassword: passwords.replication,
    caFile: inventory.cluster.tls.ca,
  });
}

/**
 * The bootstrap's last step on the primary, once the replicas follow: with failover managers every node
 * starts read-only (a node that restarts must not take writes on its own), so the first primary is opened
 * by hand, once; from then on the leading manager owns the flag.
 */
export const OPEN_PRIMARY_SQL = 'SET GLOBAL read_only = OFF';
