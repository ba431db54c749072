import { ClusterError } from '../errors.js';
import { renderTemplateText } from '../templates.js';

/** One kind of inbound traffic a host lets in; everything else is dropped. */
export interface InboundRule {
  /** Who may send it: addresses, or anyone. */
  readonly from: readonly string[] | 'anywhere';
  /** TCP ports; or VRRP (the LB pair's adverts), which has none. */
  readonly tcpPorts?: readonly number[];
  readonly vrrp?: true;
  /** Why it is open, kept as the rule's comment (`nft list ruleset` shows it). */
  readonly why: string;
}

function set(values: readonly (string | number)[]): string {
  return values.length === 1 ? String(values[0]) : `{ ${values.join(', ')} }`;
}

/** The nft match of a rule, or undefined when it lets nobody in (an empty source list). */
function match(rule: InboundRule): string | undefined {
  const parts: string[] = [];
  if (rule.from !== 'anywhere') {
    if (rule.from.length === 0) return undefined;
    parts.push(`ip saddr ${set([...new Set(rule.from)])}`);
  }
  if (rule.vrrp) parts.push('ip protocol vrrp');
  else {
    const ports = [...new Set(rule.tcpPorts ?? [])];
    if (ports.length === 0) return undefined;
    parts.push(`tcp dport ${set(ports)}`);
  }
  return parts.join(' ');
}

/** A host's ruleset (nft syntax) from `nftables/host.nft.tmpl`: default drop inbound, then `rules`. */
export function renderHostFirewall(hostName: string, rules: readonly InboundRule[]): string {
  const rendered: { match: string; why: string }[] = [];
  for (const rule of rules) {
    if (/["\n]/.test(rule.why)) {
      throw new ClusterError(
        `firewall rule comment ${JSON.stringify(rule.why)} has a quote or newline`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    const text = match(rule);
    if (text !== undefined) rendered.push({ match: text, why: rule.why });
  }
  return renderTemplateText('nftables/host.nft.tmpl', { hostName, rules: rendered });
}

/** The topology's hosts and ports, as the firewall sees them. */
export interface FirewallPlan {
  /** Where clients and tests connect from (the root namespace's bridge address). */
  readonly outside: string;
  readonly loadBalancers: readonly {
    readonly name: string;
    readonly host: string;
    /** HTTP (redirect) and HTTPS: public. */
    readonly publicPorts: readonly number[];
    /** Stats and HAProxy's Prometheus exporter: for the monitoring host only. */
    readonly statsPort: number;
    /** keepalived's state exporter beside it: for the monitoring host. */
    readonly exporterPorts?: readonly number[];
  }[];
  readonly servers: readonly {
    readonly name: string;
    readonly host: string;
    /** Nginx and the app; absent on a host that runs only a failover manager (`servers: 0`). */
    readonly nginxPort?: number;
    readonly appPort?: number;
    /** The nginx exporter beside Nginx: for the monitoring host. */
    readonly exporterPorts: readonly number[];
    /** A failover manager's API on this host: its peers and the monitoring host. */
    readonly managerPort?: number;
  }[];
  readonly databases: readonly {
    readonly name: string;
    readonly host: string;
    readonly port: number;
    /** mysqld_exporter beside the node: for the monitoring host. */
    readonly exporterPorts: readonly number[];
  }[];
  readonly monitoring?: {
    readonly name: string;
    readonly host: string;
    /** Prometheus's and Alertmanager's UIs (behind their auth): from outside. */
    readonly uiPorts: readonly number[];
    /** Alertmanager's API: also for the servers, whose dashboards show the firing alerts. */
    readonly alertmanagerPort?: number;
  };
}

/**
 * Who may reach what, per host (the matrix): LBs take HTTP/HTTPS from anywhere, VRRP from the
 * other LB, stats from monitoring; servers take Nginx from the LBs, the app only from its own Nginx (lo)
 * and monitoring's scrapes; database nodes take SQL from the servers (apps and managers) and each other
 * (replication); the monitoring UIs are for outside. Nothing else gets in, from anywhere.
 */
export function clusterFirewall(plan: FirewallPlan): Map<string, InboundRule[]> {
  const monitoring = plan.monitoring === undefined ? [] : [plan.monitoring.host];
  const lbHosts = plan.loadBalancers.map((lb) => lb.host);
  const serverHosts = plan.servers.map((server) => server.host);
  const dbHosts = plan.databases.map((db) => db.host);
  const rules = new Map<string, InboundRule[]>();
  for (const lb of plan.loadBalancers) {
    rules.set(lb.name, [
      { from: 'anywhere', tcpPorts: lb.publicPorts, why: 'public HTTP and HTTPS' },
      { from: lbHosts.filter((host) => host !== lb.host), vrrp: true, why: 'VRRP adverts from the other LB' },
      {
        from: monitoring,
        tcpPorts: [lb.statsPort, ...(lb.exporterPorts ?? [])],
        why: 'stats and metrics, for monitoring',
      },
    ]);
  }
  const managerPeers = plan.servers.filter((server) => server.managerPort !== undefined).map((s) => s.host);
  for (const server of plan.servers) {
    const own: InboundRule[] = [];
    if (server.nginxPort !== undefined) {
      own.push({ from: lbHosts, tcpPorts: [server.nginxPort], why: 'Nginx, for the load balancers' });
    }
    own.push({
      from: monitoring,
      tcpPorts: [...(server.appPort === undefined ? [] : [server.appPort]), ...server.exporterPorts],
      why: 'metrics, for monitoring',
    });
    if (server.managerPort !== undefined) {
      own.push({
        from: [...managerPeers.filter((host) => host !== server.host), ...monitoring],
        tcpPorts: [server.managerPort],
        why: 'the failover manager, for its peers and monitoring',
      });
    }
    rules.set(server.name, own);
  }
  for (const db of plan.databases) {
    const own: InboundRule[] = [
      {
        from: [...serverHosts, ...dbHosts.filter((host) => host !== db.host)],
        tcpPorts: [db.port],
        why: 'SQL: apps, failover managers, replication',
      },
    ];
    own.push({ from: monitoring, tcpPorts: db.exporterPorts, why: 'mysqld_exporter, for monitoring' });
    rules.set(db.name, own);
  }
  if (plan.monitoring !== undefined) {
    const { alertmanagerPort } = plan.monitoring;
    rules.set(plan.monitoring.name, [
      { from: [plan.outside], tcpPorts: plan.monitoring.uiPorts, why: 'the monitoring UIs, for operators' },
      {
        from: plan.servers.filter((server) => server.appPort !== undefined).map((server) => server.host),
        tcpPorts: alertmanagerPort === undefined ? [] : [alertmanagerPort],
        why: 'Alertmanager, for the dashboards alert panels',
      },
    ]);
  }
  return rules;
}
