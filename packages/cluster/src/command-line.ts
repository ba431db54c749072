// The `rwsplit-cluster` command: the whole topology in the foreground until Ctrl-C (or SIGTERM), then a
// clean teardown. A function, so a repository's own start script can run it with its app as the default
// (`npm start` here runs scripts/start.ts, which passes the notes app).
import { parseArgs } from 'node:util';
import { type Cluster, startCluster } from './cluster.js';
import { ClusterError } from './errors.js';
import type { AppSpec, Balance, HostKind, LbMode, RuntimeKind } from './options.js';
import { runRenderCommand } from './render/render-command.js';

const USAGE = `usage: rwsplit-cluster [--servers 0|1|2] [--replicas 0-3] [--balance roundrobin|leastconn|source]
                      [--mode active-active|active-passive] [--app "node path/to/app.js"] [--no-failover]
                      [--no-semi-sync] [--no-monitoring] [--hosts loopback|netns] [--runtime native|docker]
                      [--keep-state] [--json]
       rwsplit-cluster render --inventory hosts.json --out DIR [--force]`;

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) {
    throw new ClusterError(
      `--${name} expects a whole number, got ${JSON.stringify(value)}`,
      'CLUSTER_INVALID_OPTION',
    );
  }
  return parsed;
}

function printSummary(cluster: Cluster): void {
  const lines = ['', 'rwsplit cluster is up'];
  if (cluster.servers.length > 0) {
    const { lb, credentials } = cluster;
    lines.push(
      `  dashboard (TLS)         ${lb.httpsUrl}/  (the cluster's own CA: trust ${cluster.ca.certificateFile})`,
      `  notes API               ${lb.httpsUrl}/api/notes`,
      `  http → https redirect   ${lb.httpUrl}/`,
      `  HAProxy stats           ${lb.statsUrl}  (internal; user ${credentials.stats.user}, password in the secrets file)`,
      `  HAProxy Prometheus      ${lb.prometheusUrl}  (internal)`,
    );
    for (const server of cluster.servers) {
      lines.push(
        `  ${server.name.padEnd(22)}  nginx ${server.nginx.url}  app ${server.app.url}  (internal: the dashboard with its alerts panel at /, /metrics, /internal/status)`,
      );
    }
  }
  for (const node of cluster.dbNodes) {
    lines.push(`  ${node.name.padEnd(22)}  ${node.role.padEnd(7)} mysql://${node.host}:${node.port}`);
  }
  for (const manager of cluster.failover) {
    lines.push(
      `  ${manager.id.padEnd(22)}  failover ${manager.url}/status  (rwsplit-failover status --config ${manager.configFile})`,
    );
  }
  const monitoring = cluster.endpoints().monitoring;
  if (monitoring !== null) {
    lines.push(
      `  Prometheus              ${monitoring.prometheusUrl}/alerts  (user ${cluster.credentials.monitoring.user}, password in the secrets file)`,
      `  Alertmanager            ${monitoring.alertmanagerUrl}  (the same user)`,
      `  alert receiver          ${monitoring.alertReceiverUrl}  (what would page someone)`,
    );
  }
  const { app, admin } = cluster.credentials;
  // Passwords stay out of the terminal (and whatever records it): they are in a file only its owner reads.
  lines.push(
    `  app user                ${app.user} (database ${app.database}; TLS required)`,
    `  admin user              ${admin.user} (TLS required)`,
    `  secrets (0600)          ${cluster.secretsFile}  (passwords; --json prints some, see the README)`,
    `  state dir               ${cluster.stateDir}`,
    '',
    'Ctrl-C stops everything.',
  );
  console.log(lines.join('\n'));
}

/** What a caller of `runCli` fills in for flags the command line leaves out. */
export interface CliDefaults {
  /** The app each server runs unless `--app` names a command. Without it, servers need `--app`. */
  readonly app?: AppSpec;
}

async function main(args: readonly string[], defaults: CliDefaults): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      servers: { type: 'string' },
      replicas: { type: 'string' },
      balance: { type: 'string' },
      mode: { type: 'string' },
      app: { type: 'string' },
      'keep-state': { type: 'boolean', default: false },
      'no-failover': { type: 'boolean', default: false },
      'no-semi-sync': { type: 'boolean', default: false },
      'no-monitoring': { type: 'boolean', default: false },
      hosts: { type: 'string' },
      runtime: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const servers = numberFlag('servers', values.servers);
  const replicas = numberFlag('replicas', values.replicas);
  const app: AppSpec | undefined = values.app
    ? { command: values.app.split(' ').filter(Boolean) }
    : defaults.app;
  if (!values.json) console.error('starting the rwsplit cluster ...');
  const started = Date.now();
  let cluster: Cluster | undefined;
  // The harness's own handlers stop every cluster and re-raise the signal; this one makes the re-raised
  // signal a clean exit once the teardown is done (0 after a started cluster, 130 during start-up).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!cluster) process.exit(130);
      if (!values.json) console.error(`\n${signal}: stopping the cluster ...`);
      void cluster.stop().finally(() => process.exit(0));
    });
  }
  cluster = await startCluster({
    ...(servers === undefined ? {} : { servers }),
    ...(replicas === undefined ? {} : { replicas }),
    ...(values.balance === undefined ? {} : { balance: values.balance as Balance }),
    ...(values.mode === undefined ? {} : { mode: values.mode as LbMode }),
    ...(app === undefined ? {} : { app }),
    keepState: values['keep-state'],
    ...(values['no-failover'] ? { failover: false } : {}),
    ...(values['no-semi-sync'] ? { semiSync: false } : {}),
    monitoring: !values['no-monitoring'],
    runtime: runtimeKind(values.runtime),
    hosts: hostKind(values.hosts, runtimeKind(values.runtime)),
  });
  const up = cluster;
  if (values.json) console.log(JSON.stringify(up.endpoints()));
  else {
    printSummary(up);
    console.error(`(started in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  // Stay in the foreground; the harness's signal handlers stop the cluster and end the process.
  setInterval(() => {}, 1 << 30);
}

/**
 * `--hosts`: as given, else netns where it can run (root on Linux, native programs), else loopback (the
 * docker runtime's containers share this machine's network and take loopback addresses).
 */
function hostKind(flag: string | undefined, runtime: RuntimeKind): HostKind {
  if (flag === 'loopback' || flag === 'netns') return flag;
  if (flag !== undefined)
    throw new ClusterError(`--hosts: expected loopback | netns, got ${flag}`, 'CLUSTER_INVALID_OPTION');
  if (runtime === 'docker') return 'loopback';
  return process.platform === 'linux' && process.getuid?.() === 0 ? 'netns' : 'loopback';
}

/** `--runtime`: native (default) or docker. */
function runtimeKind(flag: string | undefined): RuntimeKind {
  if (flag === undefined || flag === 'native' || flag === 'docker') return flag ?? 'native';
  throw new ClusterError(`--runtime: expected native | docker, got ${flag}`, 'CLUSTER_INVALID_OPTION');
}

/**
 * Runs the command with `args` (flags only, e.g. `process.argv.slice(2)`): starts the cluster, prints the
 * summary (or the endpoints with `--json`) and stays in the foreground until a signal stops it. A failure
 * is printed with the usage and ends the process with exit code 1.
 */

export async function runCli(args: readonly string[], defaults: CliDefaults = {}): Promise<void> {
  // A deployment's files for real hosts, from the same templates the harness renders (no cluster starts).
  if (args[0] === 'render') process.exit(await runRenderCommand(args.slice(1)));
  try {
    await main(args, defaults);
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`rwsplit-cluster: ${message}`);
    if (error instanceof ClusterError && error.code === 'CLUSTER_INVALID_OPTION') console.error(USAGE);
    process.exit(1);
  }
}
