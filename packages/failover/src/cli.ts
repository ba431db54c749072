#!/usr/bin/env node
/**
 * rwsplit-failover: run a manager, or talk to the running ones.
 *
 *   rwsplit-failover run --config failover.json
 *   rwsplit-failover status --config failover.json [--json]
 *   rwsplit-failover switchover --to db-replica-1 --config failover.json
 *   rwsplit-failover rejoin db-primary [--rebuild] --config failover.json
 *
 * The commands find the leader among the managers the configuration lists and ask it: only the leader
 * changes anything.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { callApi } from './api-client.js';
import { FailoverError } from './errors.js';
import { startHttpApi } from './http-api.js';
import { FailoverManager, type ManagerStatus } from './manager.js';

const USAGE = `usage:
  rwsplit-failover run --config FILE
  rwsplit-failover status --config FILE [--json]
  rwsplit-failover switchover --to NODE --config FILE
  rwsplit-failover rejoin NODE [--rebuild] --config FILE
    (a rebuild writes every schema: it runs as RWSPLIT_REBUILD_USER / RWSPLIT_REBUILD_PASSWORD if set,
     an admin account, else as the manager's own)`;

interface RawConfig {
  readonly id?: unknown;
  readonly token?: unknown;
  readonly managers?: readonly { readonly id?: unknown; readonly url?: unknown }[];
  readonly tls?: { readonly ca?: unknown };
}

function fail(message: string, code = 2): never {
  process.stderr.write(`rwsplit-failover: ${message}\n`);
  process.exit(code);
}

function loadConfig(path: string | undefined): RawConfig {
  if (path === undefined) fail(`--config is required\n${USAGE}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RawConfig;
  } catch (error) {
    return fail(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** How the commands reach the managers' API: the token, and the CA `https:` managers chain to. */
interface Access {
  readonly token: string | undefined;
  readonly ca: string | undefined;
}

/** Read once per command: the config's `token`, and the `tls.ca` file if it names one. */
function accessOf(config: RawConfig): Access {
  const token = typeof config.token === 'string' ? config.token : undefined;
  const path = config.tls?.ca;
  if (typeof path !== 'string') return { token, ca: undefined };
  try {
    return { token, ca: readFileSync(path, 'utf8') };
  } catch (error) {
    return fail(`cannot read tls.ca ${path}: ${(error as Error).message}`);
  }
}

/** Every manager's status, those that answer. */
async function statuses(
  config: RawConfig,
  access: Access,
): Promise<{ url: string; status: ManagerStatus }[]> {
  const answers = await Promise.all(
    (config.managers ?? []).map(async (manager) => {
      const url = String(manager.url ?? '');
      try {
        const answer = await callApi(`${url}/status`, { ...access, timeoutMs: 2_000 });
        if (answer.status !== 200) return undefined;
        return { url, status: answer.body as ManagerStatus };
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((a): a is { url: string; status: ManagerStatus } => a !== undefined);
}

async function command(config: RawConfig, path: string, body: unknown): Promise<void> {
  const access = accessOf(config);
  const leader = (await statuses(config, access)).find((s) => s.status.leader);
  if (leader === undefined)
    fail('no manager is leading (none holds a quorum); see rwsplit-failover status', 1);
  const response = await callApi(`${leader.url}${path}`, {
    method: 'POST',
    ...access,
    body,
    // A rebuild copies the whole dataset: long, but not for ever.
    timeoutMs: 30 * 60_000,
  });
  const answer = (response.body ?? {}) as Record<string, unknown>;
  if (response.status !== 200)
    fail(
      `${leader.status.id} refused: ${String(answer.error)} (${String(answer.code ?? response.status)})`,
      1,
    );
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
}

function printStatus(all: { url: string; status: ManagerStatus }[]): void {
  const leader = all.find((s) => s.status.leader);
  for (const { url, status } of all) {
    const role = status.leader
      ? 'leader'
      : status.standing.following
        ? `follows ${status.standing.following}`
        : 'candidate';
    process.stdout.write(
      `manager ${status.id} (${url}): ${role}, ${status.standing.votes}/${status.standing.quorum} votes\n`,
    );
  }
  const view = (leader ?? all[0])?.status;
  if (view === undefined) return;
  process.stdout.write(`\nprimary: ${view.primary ?? 'none'}${view.busy ? ` (busy: ${view.busy})` : ''}\n`);
  const width = Math.max(...view.nodes.map((n) => n.name.length));
  for (const node of view.nodes) {
    process.stdout.write(`  ${node.name.padEnd(width)}  ${node.state.padEnd(11)}  ${node.detail}\n`);
  }
  if (view.lastFailover) {
    const f = view.lastFailover;
    process.stdout.write(`\nlast ${f.kind}: ${f.from} -> ${f.to} at ${f.startedAt}, ${f.durationMs} ms\n`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      to: { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const [verb, ...rest] = positionals;
  if (verb === 'run') {
    const path = values.config ?? fail(`--config is required\n${USAGE}`);
    let manager: FailoverManager;
    try {
      manager = new FailoverManager(JSON.parse(readFileSync(path, 'utf8')));
    } catch (error) {
      if (error instanceof FailoverError || error instanceof SyntaxError) fail(`${path}: ${error.message}`);
      throw error;
    }
    const self = manager.config.managers.find((m) => m.id === manager.config.id)!;
    const url = new URL(self.url);
    const server = await startHttpApi(
      manager,
      url.hostname,
      Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    );
    await manager.start();
    const shutdown = async () => {
      server.close();
      await manager.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown());
    process.once('SIGINT', () => void shutdown());
    return;
  }
  const config = loadConfig(values.config);
  if (verb === 'status') {
    const all = await statuses(config, accessOf(config));
    if (all.length === 0) fail('no manager answers', 1);
    if (values.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    else printStatus(all);
    return;
  }
  if (verb === 'switchover') {
    if (values.to === undefined) fail(`switchover needs --to NODE\n${USAGE}`);
    return command(config, '/switchover', { to: values.to });
  }
  if (verb === 'rejoin') {
    const node = rest[0] ?? fail(`rejoin needs a NODE\n${USAGE}`);
    // A rebuild runs as an account given for it (an admin's): its password from the environment, never
    // from the command line, where every user of the machine can read it.
    const user = process.env.RWSPLIT_REBUILD_USER;
    const password = process.env.RWSPLIT_REBUILD_PASSWORD;
    if (values.rebuild && (user === undefined) !== (password === undefined)) {
      fail('set both RWSPLIT_REBUILD_USER and RWSPLIT_REBUILD_PASSWORD, or neither');
    }
    return command(config, '/rejoin', {
      node,
      rebuild: values.rebuild,
      ...(values.rebuild && user !== undefined ? { user, password } : {}),
    });
  }
  fail(USAGE);
}

await main();
