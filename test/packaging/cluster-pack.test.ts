// What a user of @rwsplit/cluster gets: its tarball and @rwsplit/failover's (`npm pack --workspace`, whose
// prepack builds them) with @rwsplit/router's, installed into an app outside the workspace, so nothing
// resolves through the monorepo's `source` condition, its node_modules or a path that climbs out of a
// package. Plain Node starts a database-only cluster from the installed harness (its failover managers
// from the installed @rwsplit/failover) and the installed router splits reads and writes over it.
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesUsing } from '../support/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

// Under `npm test` the parent npm exports its config as npm_* variables; a nested npm would obey them.
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

interface Ran {
  readonly code: number;
  readonly output: string;
  readonly stdout: string;
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd,
        env: options.env ?? baseEnv,
        maxBuffer: 16 * 1024 * 1024,
        // SIGTERM: a hung consumer's cluster is stopped by the harness's own signal handlers.
        timeout: options.timeoutMs ?? 0,
        killSignal: 'SIGTERM',
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, output: `${stdout}${stderr}`, stdout });
      },
    );
  });
}

async function mustRun(command: string, args: readonly string[], cwd: string): Promise<string> {
  const ran = await run(command, args, cwd);
  if (ran.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${ran.code}:\n${ran.output}`);
  return ran.output;
}

/** Every path an `exports` map (or `bin`) names, whatever the condition. */
function targets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(targets);
}

const madeDirs: string[] = [];

async function tempDir(prefix: string, parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, prefix));
  madeDirs.push(dir);
  return dir;
}

/**
 * The router's tarball, packed from a copy of the package: test/packaging/router-pack.test.ts packs the
 * real one in the same run, and two prepacks emptying and rebuilding one `dist/` at once would race. The
 * copy has the same files, scripts and layout (tsconfig.base.json two levels up, the workspace's
 * node_modules reachable above it), so its prepack builds exactly what the real one does.
 */
async function packRouterCopy(packDir: string): Promise<void> {
  const stage = await tempDir('rwsplit-pack-router-');
  const copy = join(stage, 'packages/router');
  const from = join(root, 'packages/router');
  await mkdir(copy, { recursive: true });
  await Promise.all([
    ...['package.json', 'README.md', 'LICENSE', 'tsconfig.build.json', 'src'].map((entry) =>
      cp(join(from, entry), join(copy, entry), { recursive: true }),
    ),
    cp(join(root, 'tsconfig.base.json'), join(stage, 'tsconfig.base.json')),
    symlink(join(root, 'node_modules'), join(stage, 'node_modules')),
  ]);
  await mustRun('npm', ['pack', '--pack-destination', packDir], copy);
}

/** The files of a tarball, without npm's `package/` prefix. */
async function listing(tarball: string): Promise<string[]> {
  const out = await mustRun('tar', ['-tzf', tarball], dirname(tarball));
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));
}

// Plain Node, no loader, no conditions: the installed packages as an app would run them.
const CONSUMER = `
import { existsSync, readFileSync } from 'node:fs';
import { ECHO_APP, liveProcesses, startCluster } from '@rwsplit/cluster';
import { createRouter } from '@rwsplit/router';

const node = (n) => ({ host: n.host, port: n.port, name: n.name });
const cluster = await startCluster({ servers: 0, replicas: 1, monitoring: false });
const out = {
  stateDir: cluster.stateDir,
  primaryId: cluster.primary().serverId,
  replicaId: cluster.replica(0).serverId,
  managers: cluster.failover.map((m) => readFileSync('/proc/' + m.pid + '/cmdline', 'utf8').split('\\0')),
  echoApp: existsSync(ECHO_APP.command[1]) ? ECHO_APP.command[1] : 'missing: ' + ECHO_APP.command[1],
};
try {
  const db = createRouter({
    primary: node(cluster.primary()),
    replicas: [node(cluster.replica(0))],
    connection: cluster.credentials.app,
    monitor: { ...cluster.credentials.monitor },
  });
  try {
    await db.execute('CREATE TABLE packed (id INT PRIMARY KEY, written_on INT NOT NULL)');
    // Row-based binlog: the replica gets the value the primary computed, so the row names the writer.
    await db.execute('INSERT INTO packed VALUES (1, @@server_id)');
    // Replication is asynchronous to this reader: until the replica has the table, reading it fails.
    const deadline = Date.now() + 15_000;
    while (out.read === undefined && Date.now() < deadline) {
      const [rows] = await db
        .query('SELECT written_on, @@server_id AS read_on FROM packed WHERE id = 1')
        .catch(() => [[]]);
      out.read = rows[0];
      if (out.read === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await db.close();
  }
} finally {
  await cluster.stop();
}
out.live = liveProcesses().length;
out.stateDirLeft = existsSync(out.stateDir);
console.log(JSON.stringify(out));
`;

// The consumer's own settings, as strict as ours; it type-checks against the installed declarations.
const TYPED = `
import { type AppSpec, type Cluster, ClusterError, startCluster } from '@rwsplit/cluster';
const app: AppSpec = { command: ['node', 'server.js'], internalPaths: ['/metrics'] };
export async function start(): Promise<number> {
  const cluster: Cluster = await startCluster({ servers: 1, replicas: 1, app, failover: { managers: 1 } });
  // @ts-expect-error an app needs its command
  await startCluster({ app: { cwd: '/srv' } });
  const status = await (await cluster.failoverLeader()).status();
  return cluster.primary().serverId + status.nodes.length + (new ClusterError('x', 'CLUSTER_STOPPED').code.length);
}
`;

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  },
  files: ['typed.ts'],
});

const files = new Map<string, string[]>();
let app = '';
let stateRoot = '';

beforeAll(async () => {
  const packDir = await tempDir('rwsplit-pack-');
  // Three builds at once: the router's copy, and the two workspaces in one npm (it packs them in turn).
  await Promise.all([
    packRouterCopy(packDir),
    mustRun(
      'npm',
      [
        'pack',
        ...['--workspace', '@rwsplit/failover', '--workspace', '@rwsplit/cluster'],
        ...['--pack-destination', packDir],
      ],
      root,
    ),
  ]);
  const names = await readdir(packDir);
  const tarballs = names.map((name) => join(packDir, name));
  for (const name of names) {
    const packageName = /^rwsplit-(\w+)-\d/.exec(name)?.[1];
    if (packageName !== undefined) files.set(packageName, await listing(join(packDir, name)));
  }
  if ([...files.keys()].sort().join() !== 'cluster,failover,router') {
    throw new Error(`expected the three tarballs in ${packDir}, found ${names.join(', ')}`);
  }

  app = await tempDir('rwsplit-pack-cluster-app-');
  if (!relative(root, app).startsWith('..')) throw new Error(`the app must be outside the workspace: ${app}`);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  // @types/node only for the typed check; its version is the workspace's, so npm's cache has it.
  const typesNode = JSON.parse(await readFile(require.resolve('@types/node/package.json'), 'utf8')) as {
    version: string;
  };
  const install = ['install', '--no-audit', '--no-fund', ...tarballs, `@types/node@${typesNode.version}`];
  // The workspace's `npm ci` filled npm's cache with these versions; the registry is for what it lacks.
  const offline = await run('npm', [...install, '--offline'], app);
  if (offline.code !== 0) await mustRun('npm', [...install, '--prefer-offline'], app);
  await Promise.all([
    writeFile(join(app, 'consumer.mjs'), CONSUMER),
    writeFile(join(app, 'typed.ts'), TYPED),
    writeFile(join(app, 'tsconfig.json'), TSCONFIG),
  ]);

  // The cluster's state under a root of this file's own (removed below whatever happens), passable by the
  // database servers' own user when the suite runs as root.
  stateRoot = await tempDir('rwsplit-pack-state-', process.env.RWSPLIT_STATE_ROOT ?? tmpdir());
  await chmod(stateRoot, 0o711);
}, 240_000);

afterAll(async () => {
  for (const pid of stateRoot === '' ? [] : processesUsing(stateRoot)) process.kill(pid, 'SIGKILL');
  await Promise.all(madeDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe.each([
  [
    'cluster',
    /^(templates\/.+\.(tmpl|yml)|apps\/echo-app\.mjs|system-packages\.json|docker\/images\/[a-z]+\/Dockerfile|examples\/[\w.-]+\.json)$/,
  ],
  ['failover', /^$/],
])('the @rwsplit/%s tarball', (name, extra) => {
  const installed = () => join(app, 'node_modules/@rwsplit', name);

  it('holds the build, the sources it maps to, README and LICENSE, and no tests', () => {
    const list = files.get(name) ?? [];
    expect(list).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js']));
    expect(list).toEqual(expect.arrayContaining(['dist/index.d.ts', 'dist/cli.js', 'src/index.ts']));
    const unexpected = list.filter(
      (f) =>
        !/^(dist\/.+\.(js|d\.ts)(\.map)?|src\/.+\.ts)$/.test(f) &&
        !extra.test(f) &&
        !['README.md', 'LICENSE', 'package.json'].includes(f),
    );
    expect(unexpected).toEqual([]);
    expect(list.filter((f) => f.includes('.test.'))).toEqual([]);
  });

  it('points every export and bin, in every condition, at a file it ships', async () => {
    const manifest = JSON.parse(await readFile(join(installed(), 'package.json'), 'utf8')) as {
      exports: unknown;
      bin: unknown;
      files: string[];
    };
    const named = [...targets(manifest.exports), ...targets(manifest.bin)];
    expect(named.length).toBeGreaterThan(3);
    const list = files.get(name) ?? [];
    expect(named.map((t) => posix.normalize(t)).filter((t) => !list.includes(t))).toEqual([]);
    expect(manifest.files.filter((entry) => entry.includes('..'))).toEqual([]);
  });

  it('has source maps whose sources are in it', async () => {
    const list = files.get(name) ?? [];
    const maps = list.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const text = await readFile(join(installed(), map), 'utf8');
      const { sources, sourceRoot = '' } = JSON.parse(text) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const shipped = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!list.includes(shipped)) missing.push(`${map} → ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the @rwsplit/cluster tarball, for the cluster it starts', () => {
  it('ships every template the harness renders and the Debian package list', () => {
    const list = files.get('cluster') ?? [];
    for (const template of [
      'haproxy/haproxy.cfg.tmpl',
      'nginx/nginx.conf.tmpl',
      'mariadb/node.cnf.tmpl',
      'mariadb/init-primary.sql.tmpl',
      'mariadb/follow-primary.sql.tmpl',
      'prometheus/prometheus.yml.tmpl',
      'prometheus/rules/rwsplit-alerts.yml',
      'alertmanager/alertmanager.yml.tmpl',
      'blackbox/blackbox.yml.tmpl',
      'mysqld-exporter/my.cnf.tmpl',
    ]) {
      expect(list).toContain(`templates/${template}`);
    }
    expect(list).toContain('system-packages.json');
  });
});

describe('an app that installed the tarballs', () => {
  it.concurrent('starts a database-only cluster with plain node, splits reads and writes over it, and leaves nothing behind', async ({
    expect,
  }) => {
    const ran = await run(process.execPath, ['consumer.mjs'], app, {
      env: { ...baseEnv, RWSPLIT_STATE_ROOT: stateRoot },
      timeoutMs: 150_000,
    });
    expect(ran.code, ran.output).toBe(0);
    const out = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '{}') as {
      primaryId: number;
      replicaId: number;
      read: { written_on: number; read_on: number } | undefined;
      managers: string[][];
      echoApp: string;
      live: number;
      stateDirLeft: boolean;
    };
    expect(out.primaryId).not.toBe(out.replicaId);
    // The row was written on the primary and read back on the replica, both through the installed router.
    expect(out.read).toEqual({ written_on: out.primaryId, read_on: out.replicaId });
    // The managers ran the installed failover's build, under plain node.
    expect(out.managers.length).toBeGreaterThan(0);
    for (const command of out.managers) {
      expect(command).toContain(join(app, 'node_modules/@rwsplit/failover/dist/cli.js'));
      expect(command.join(' ')).not.toContain('tsx');
    }
    expect(out.echoApp).toBe(join(app, 'node_modules/@rwsplit/cluster/apps/echo-app.mjs'));
    expect(out.live).toBe(0);
    expect(out.stateDirLeft).toBe(false);
    expect(processesUsing(stateRoot)).toEqual([]);
  }, 180_000);

  it.concurrent('runs the rwsplit-cluster bin with plain node', async ({ expect }) => {
    const out = await mustRun(join(app, 'node_modules/.bin/rwsplit-cluster'), ['--help'], app);
    expect(out).toContain('usage: rwsplit-cluster');
  });

  it.concurrent('type-checks a caller against the installed declarations', async ({ expect }) => {
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });
});
