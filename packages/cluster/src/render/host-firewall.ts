// Each real host's nftables rules: the harness's matrix (clusterFirewall: who may reach what) over the
// inventory's hosts and ports, plus what a real host needs besides: SSH and the monitoring UIs for the
// operators' addresses.
import {
  clusterFirewall,
  type FirewallPlan,
  type InboundRule,
  renderHostFirewall,
} from '../netns/firewall.js';
import { type HostRole, hostsWith, type Inventory } from './inventory.js';

/** The plan's entries are keyed per role, so a host with several roles gets the rules of each. */
function key(name: string, role: HostRole): string {
  return `${name}/${role}`;
}

function firewallPlan(inventory: Inventory): FirewallPlan {
  const { lb, failover, monitoring } = inventory;
  const lbHosts = hostsWith(inventory, 'lb');
  const pair = lbHosts.length === 2;
  const monitoringHost = hostsWith(inventory, 'monitoring')[0];
  return {
    // Unused: the monitoring UIs' rule below names the operators' addresses instead of one outside.
    outside: '',
    loadBalancers:
      lb === undefined
        ? []
        : lbHosts.map((host) => ({
            name: key(host.name, 'lb'),
            host: host.address,
            publicPorts: [lb.httpPort, lb.httpsPort],
            statsPort: lb.statsPort,
            exporterPorts: pair ? [lb.vrrpExporterPort] : [],
          })),
    servers: inventory.hosts.flatMap((host) =>
      host.server === undefined
        ? []
        : [
            {
              name: key(host.name, 'server'),
              host: host.address,
              nginxPort: host.server.nginxPort,
              appPort: host.server.appPort,
              exporterPorts: [host.server.nginxExporterPort],
              ...(failover !== undefined && host.server.failoverManager
                ? { managerPort: failover.port }
                : {}),
            },
          ],
    ),
    databases: inventory.hosts.flatMap((host) =>
      host.db === undefined
        ? []
        : [
            {
              name: key(host.name, 'db'),
              host: host.address,
              port: host.db.port,
              exporterPorts: [host.db.exporterPort],
            },
          ],
    ),
    ...(monitoringHost === undefined || monitoring === undefined
      ? {}
      : {
          monitoring: {
            name: key(monitoringHost.name, 'monitoring'),
            host: monitoringHost.address,
            uiPorts: [],
            alertmanagerPort: monitoring.alertmanagerPort,
          },
        }),
  };
}

/** Every host's inbound rules, in the order they are rendered. */
export function inboundRules(inventory: Inventory): Map<string, InboundRule[]> {
  const matrix = clusterFirewall(firewallPlan(inventory));
  const operators = inventory.cluster.adminSources;
  const rules = new Map<string, InboundRule[]>();
  for (const host of inventory.hosts) {
    const own: InboundRule[] = [{ from: operators, tcpPorts: [22], why: 'SSH, for operators' }];
    for (const role of host.roles) own.push(...(matrix.get(key(host.name, role)) ?? []));
    if (host.roles.includes('monitoring') && inventory.monitoring !== undefined) {
      const { prometheusPort, alertmanagerPort } = inventory.monitoring;
      own.push({
        from: operators,
        tcpPorts: [prometheusPort, alertmanagerPort],
        why: 'the monitoring UIs, for operators',
      });
    }
    // The matrix's rule for the UIs from "outside" has no ports here: it would let nobody in.
    rules.set(
      host.name,
      own.filter((rule) => rule.vrrp === true || (rule.tcpPorts ?? []).length > 0),
    );
  }
  return rules;
}

/**
 * `/etc/nftables.conf` for each host (nftables.service loads it at boot). It replaces the rwsplit table
 * only (declare, delete, define: one transaction, also on a host without it), leaving other tables alone;
 * a drop in any base chain is final, so the default drop holds whatever else is loaded.
 */
export function hostFirewalls(inventory: Inventory): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, rules] of inboundRules(inventory)) {
    const header =
      '#!/usr/sbin/nft -f\n# Rendered by `rwsplit-cluster render`.\ntable inet rwsplit\ndelete table inet rwsplit\n\n';
    files.set(name, header + renderHostFirewall(name, rules));
  }
  return files;
}
