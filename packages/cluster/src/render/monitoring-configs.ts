// The monitoring host's files for real hosts: Prometheus's scrape config, the alert rules with their
// production waits, Alertmanager's and the blackbox exporter's config, and the web config's skeleton.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTemplateText, TEMPLATE_DIR } from '../templates.js';
import { hostsWith, type Inventory } from './inventory.js';
import { authority } from './service-configs.js';

/** Where Prometheus's unit puts the monitoring password (LoadCredential=monitoring-password). */
export const PROMETHEUS_PASSWORD_CREDENTIAL = '/run/credentials/prometheus.service/monitoring-password';

const RULES = 'prometheus/rules/rwsplit-alerts.yml';

/** `15s` → 15; the scrape timeout may not exceed the interval. */
function scrapeTimeout(interval: string): string {
  const seconds =
    { s: 1, m: 60, h: 3600 }[interval.slice(-1) as 's' | 'm' | 'h'] * Number(interval.slice(0, -1));
  return seconds < 10 ? interval : '10s';
}

/** One scrape target: its instance name and `host:port`. */
export interface ScrapeTarget {
  readonly name: string;
  readonly target: string;
}

/** What Prometheus's configuration is made of, whoever runs it: the harness, or a real monitoring host. */
export interface PrometheusInput {
  readonly scrapeInterval: string;
  readonly scrapeTimeout: string;
  readonly rulesFile: string;
  readonly alertmanager: string;
  readonly prometheus: string;
  readonly caFile: string;
  readonly nodeExporter: string;
  readonly blackbox: string;
  readonly uiUser: string;
  readonly uiPasswordFile: string;
  /** What the blackbox exporter probes; undefined without a load balancer. */
  readonly publicUrl: string | undefined;
  readonly loadBalancers: readonly ScrapeTarget[];
  readonly apps: readonly ScrapeTarget[];
  readonly managers: readonly ScrapeTarget[];
  readonly mysqld: readonly ScrapeTarget[];
  readonly nginx: readonly ScrapeTarget[];
  readonly lbVrrp: readonly ScrapeTarget[];
}

/** prometheus.yml: the one function the harness and `rwsplit-cluster render` both write it with. */
export function prometheusYaml(input: PrometheusInput): string {
  const targets = (list: readonly ScrapeTarget[]) => list.map(({ name, target }) => ({ name, target }));
  return renderTemplateText('prometheus/prometheus.yml.tmpl', {
    scrapeInterval: input.scrapeInterval,
    scrapeTimeout: input.scrapeTimeout,
    rulesFile: input.rulesFile,
    alertmanager: input.alertmanager,
    prometheus: input.prometheus,
    caFile: input.caFile,
    nodeExporter: input.nodeExporter,
    blackbox: input.blackbox,
    uiUser: input.uiUser,
    uiPasswordFile: input.uiPasswordFile,
    hasPublicUrl: input.publicUrl !== undefined,
    publicUrl: input.publicUrl ?? '',
    loadBalancers: targets(input.loadBalancers),
    apps: targets(input.apps),
    managers: targets(input.managers),
    mysqld: targets(input.mysqld),
    nginx: targets(input.nginx),
    lbVrrp: targets(input.lbVrrp),
  });
}

/** alertmanager.yml: where alerts go, and how long Alertmanager groups them before it sends. */
export function alertmanagerYaml(receiverUrl: string, groupWait: string, groupInterval: string): string {
  return renderTemplateText('alertmanager/alertmanager.yml.tmpl', { receiverUrl, groupWait, groupInterval });
}

/** blackbox.yml: the HTTPS probe of the public address, checked against `caFile`. */
export function blackboxYaml(caFile: string): string {
  return renderTemplateText('blackbox/blackbox.yml.tmpl', { caFile });
}

export function prometheusConfig(inventory: Inventory): string {
  const monitoring = inventory.monitoring!;
  const host = hostsWith(inventory, 'monitoring')[0]!;
  const { lb, failover, cluster, paths } = inventory;
  const lbHosts = hostsWith(inventory, 'lb');
  const target = (address: string, port: number) => `${address}:${port}`;
  const servers = inventory.hosts.filter((h) => h.server !== undefined);
  return prometheusYaml({
    scrapeInterval: monitoring.scrapeInterval,
    scrapeTimeout: scrapeTimeout(monitoring.scrapeInterval),
    rulesFile: `${paths.prometheusDir}/rules/rwsplit-alerts.yml`,
    alertmanager: target(host.address, monitoring.alertmanagerPort),
    prometheus: target(host.address, monitoring.prometheusPort),
    caFile: cluster.tls.ca,
    nodeExporter: target(host.address, monitoring.nodeExporterPort),
    // The blackbox exporter listens on the monitoring host's loopback only: Prometheus alone asks it.
    blackbox: target('127.0.0.1', monitoring.blackboxPort),
    uiUser: cluster.accounts.monitoring,
    uiPasswordFile: PROMETHEUS_PASSWORD_CREDENTIAL,
    publicUrl: lb === undefined ? undefined : `https://${authority(cluster.publicName, lb.httpsPort, 443)}/`,
    loadBalancers:
      lb === undefined ? [] : lbHosts.map((h) => ({ name: h.name, target: target(h.address, lb.statsPort) })),
    apps: servers.map((h) => ({ name: h.name, target: target(h.address, h.server!.appPort) })),
    nginx: servers.map((h) => ({ name: h.name, target: target(h.address, h.server!.nginxExporterPort) })),
    managers:
      failover === undefined
        ? []
        : servers
            .filter((h) => h.server!.failoverManager)
            .map((h) => ({ name: h.name, target: target(h.address, failover.port) })),
    mysqld: inventory.hosts.flatMap((h) =>
      h.db === undefined ? [] : [{ name: h.name, target: target(h.address, h.db.exporterPort) }],
    ),
    lbVrrp:
      lb === undefined || lbHosts.length < 2
        ? []
        : lbHosts.map((h) => ({ name: h.name, target: target(h.address, lb.vrrpExporterPort) })),
  });
}

/**
 * The alert rules as a real deployment runs them: each `for:` is the production value the rule gives
 * beside its harness one (`for: 5s # prod: 1m` becomes `for: 1m`). The file is otherwise the one set.
 */
export function productionRules(): string {
  const text = readFileSync(join(TEMPLATE_DIR, RULES), 'utf8');
  const header =
    "# Rendered by `rwsplit-cluster render`: every `for:` is the rule's production (`prod:`) value.\n";
  return header + text.replace(/^(\s+for: )\S+ # prod: (\S+)$/gm, '$1$2');
}

export function alertmanagerConfig(inventory: Inventory): string {
  // The template's comment gives these as the production waits.
  return alertmanagerYaml(inventory.monitoring!.webhookUrl, '30s', '5m');
}

export function blackboxConfig(inventory: Inventory): string {
  return blackboxYaml(inventory.cluster.tls.ca);
}

/** The skeleton of the web config the operator completes: the hash is theirs to make. */
export function webConfigExample(inventory: Inventory): string {
  const user = inventory.cluster.accounts.monitoring;
  const how = `# Copy to prometheus-web.yml (0600, root's) with the bcrypt hash of the monitoring password in place of\n# the marker: htpasswd -nBC 10 ${user} | cut -d: -f2-\n`;
  return (
    how + renderTemplateText('prometheus/web.yml.tmpl', { user, passwordHash: 'REPLACE-WITH-BCRYPT-HASH' })
  );
}
