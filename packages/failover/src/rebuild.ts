import { spawn } from 'node:child_process';
import type { NodeConfig } from './config.js';
import type { FailoverDialect } from './dialect/failover-dialect.js';
import { FailoverError } from './errors.js';
import type { NodeLink } from './node-link.js';

export interface RebuildPlan {
  /** Where the copy comes from (the primary). */
  readonly source: Required<NodeConfig>;
  readonly target: Required<NodeConfig>;
  readonly user: string;
  readonly password: string;
  /** TLS to both nodes, verified against this CA file (undefined: plain connections). */
  readonly caFile: string | undefined;
  readonly dumpCommand: string;
  readonly clientCommand: string;
}

/** The server's own schemas, never dropped. */
const SYSTEM_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

/**
 * Replaces everything `target` has with a consistent copy of `source`: its own databases are dropped,
 * its binlog and replication state reset, and the source's dump (with the GTID position it was taken at)
 * is loaded without writing to the target's binlog. Afterwards the target can follow the source from
 * exactly that position. The dump streams from one program into the other: nothing lands on disk.
 */
export async function rebuildNode(
  dialect: FailoverDialect,
  link: NodeLink,
  plan: RebuildPlan,
): Promise<{ dumpAndLoadMs: number; droppedDatabases: string[] }> {
  const commands = dialect.rebuild;
  if (commands === undefined) {
    throw new FailoverError(
      'FAILOVER_UNSUPPORTED',
      `rebuilding a ${dialect.flavor} node is not supported here; re-create it from a clone (MySQL: the CLONE plugin), then rejoin it`,
    );
  }
  await requireRebuildPrivileges(link, plan.user);
  // The databases go first, then the node's binlog and replication state are reset.
  const rows = (await link.run({ sql: 'SHOW DATABASES', values: [] })) as Record<string, unknown>[];
  const dropped: string[] = [];
  for (const row of rows) {
    const name = String(Object.values(row)[0] ?? '');
    if (name === '' || SYSTEM_SCHEMAS.has(name)) continue;
    await link.run({ sql: `DROP DATABASE \`${name.replace(/`/g, '``')}\``, values: [] }, 30_000);
    dropped.push(name);
  }
  await link.runAll(commands.beforeLoad, 30_000);
  const started = Date.now();
  await pipe(
    plan.dumpCommand,
    [...connectionArgs(plan.source, plan.user, plan.caFile), ...commands.dumpArgs],
    plan.clientCommand,
    [...connectionArgs(plan.target, plan.user, plan.caFile), `--init-command=${commands.loadInitCommand}`],
    plan.password,
  );
  return { dumpAndLoadMs: Date.now() - started, droppedDatabases: dropped };
}

/** Global privileges without which a rebuild cannot drop, copy and load every schema, system tables included. */
const REBUILD_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'RELOAD'];

/**
 * Refuses, before anything is changed, an account that could not do the whole rebuild. Without global
 * privileges the server hides the schemas the account cannot touch (`SHOW DATABASES` lists none, the dump
 * is empty): the rebuild would "succeed" and keep the diverged data.
 */
async function requireRebuildPrivileges(link: NodeLink, user: string): Promise<void> {
  const rows = (await link.run({
    sql: "SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
    values: [],
  })) as { privilege?: unknown }[];
  const held = new Set(rows.map((row) => String(row.privilege)));
  const missing = REBUILD_PRIVILEGES.filter((privilege) => !held.has(privilege));
  if (missing.length > 0) {
    throw new FailoverError(
      'FAILOVER_REFUSED',
      `a rebuild replaces every schema of ${link.node.name}, and ${user} lacks the global ${missing.join(', ')} privileges for it; nothing was changed. Run it with an admin account (rwsplit-failover: RWSPLIT_REBUILD_USER and RWSPLIT_REBUILD_PASSWORD)`,
    );
  }
}

function connectionArgs(node: Required<NodeConfig>, user: string, caFile: string | undefined): string[] {
  const tls = caFile === undefined ? [] : ['--ssl', `--ssl-ca=${caFile}`, '--ssl-verify-server-cert'];
  return [`--host=${node.host}`, `--port=${node.port}`, `--user=${user}`, '--protocol=TCP', ...tls];
}

/** Runs `dump | load`; the password goes through the environment, never the command line. */
function pipe(
  dump: string,
  dumpArgs: string[],
  load: string,
  loadArgs: string[],
  password: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, MYSQL_PWD: password };
    const producer = spawn(dump, dumpArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const consumer = spawn(load, loadArgs, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    const errors: string[] = [];
    producer.stderr.on('data', (chunk: Buffer) => errors.push(`${dump}: ${chunk.toString()}`));
    consumer.stderr.on('data', (chunk: Buffer) => errors.push(`${load}: ${chunk.toString()}`));
    producer.stdout.pipe(consumer.stdin);
    let pending = 2;
    let failed: Error | undefined;
    const done = (name: string) => (code: number | null, signal: NodeJS.Signals | null) => {
      if (code !== 0 && failed === undefined)
        failed = new Error(`${name} ended with ${signal ?? `exit ${code}`}`);
      if (--pending > 0) return;
      if (failed === undefined) resolve();
      else
        reject(
          new FailoverError(
            'FAILOVER_STEP_FAILED',
            `rebuild failed: ${failed.message}: ${errors.join('').trim().slice(0, 2_000)}`,
            { cause: failed },
          ),
        );
    };
    const spawnFailed = (name: string) => (error: Error) => {
      reject(
        new FailoverError('FAILOVER_STEP_FAILED', `rebuild needs ${name}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    producer.on('error', spawnFailed(dump));
    consumer.on('error', spawnFailed(load));
    producer.on('close', done(dump));
    consumer.on('close', done(load));
  });
}
