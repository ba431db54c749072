// What a user of @rwsplit/router gets: the tarball `npm pack --workspace` makes (its prepack builds it),
// installed into an app outside the workspace, so nothing resolves through the monorepo's `source`
// condition or its node_modules. Plain Node loads it; tsc checks an Express app against its typings.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
// The workspace's own compiler: the consumer needs no copy of it, and its version is the one we build with.
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

// Under `npm test` the parent npm exports its config as npm_* variables; a nested npm would obey them.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

interface Ran {
  readonly code: number;
  readonly output: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

async function mustRun(command: string, args: readonly string[], cwd: string): Promise<string> {
  const ran = await run(command, args, cwd);
  if (ran.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${ran.code}:\n${ran.output}`);
  return ran.output;
}

/** The version the workspace installed, so the consumer's install finds it in npm's cache. */
async function workspaceVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(require.resolve(`${name}/package.json`), 'utf8')) as {
    version: string;
  };
  return `${name}@${manifest.version}`;
}

/** Every path an `exports` map names, whatever the condition. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(exportTargets);
}

const consumerSource = (withSubpath: boolean): string =>
  [
    "import express from 'express';",
    "import { createRouter } from '@rwsplit/router';",
    withSubpath ? "import { rwsplitMiddleware } from '@rwsplit/router/express';" : '',
    '',
    'const db = createRouter({',
    "  primary: { host: '127.0.0.1', name: 'db-primary' },",
    "  replicas: [{ host: '127.0.0.2', name: 'db-replica-1' }],",
    "  connection: { user: 'app', password: 'secret', database: 'app' },",
    '});',
    'const app = express();',
    withSubpath ? 'app.use(rwsplitMiddleware(db));' : 'void db;',
    "app.get('/', async (req, res) => {",
    "  const [rows] = await req.db.query('SELECT 1');",
    // Proves req.db is the Session type, not `any`: an unknown method must be an error.
    withSubpath ? '  // @ts-expect-error Session has no such method\n  req.db.noSuchMethod();' : '',
    '  res.json(rows);',
    '});',
    '',
  ].join('\n');

// The consumer's own settings, as strict as ours. The typed app checks our declaration files too (no
// skipLibCheck: a type they name from a package we do not depend on would surface here); the control
// skips that (3 s of @types/node), as it only has to fail on req.db.
const consumerTsconfig = (file: string, skipLibCheck: boolean): string =>
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck,
      noEmit: true,
    },
    files: [file],
  });

const LOAD_CHECK = `
import * as router from '@rwsplit/router';
import * as express from '@rwsplit/router/express';
import * as replication from '@rwsplit/router/replication';
const kinds = (m, names) => Object.fromEntries(names.map((n) => [n, typeof m[n]]));
console.log(JSON.stringify({
  router: kinds(router, ['createRouter', 'RwsplitError', 'Session']),
  express: kinds(express, ['rwsplitMiddleware', 'currentSession']),
  replication: kinds(replication, ['MariaDbDialect', 'MySqlDialect', 'parseReplicaStatus']),
}));
`;

const madeDirs: string[] = [];
let files: string[] = [];
let app = '';

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  const packDir = await tempDir('rwsplit-pack-');
  await mustRun('npm', ['pack', '--workspace', '@rwsplit/router', '--pack-destination', packDir], root);
  const [tarball] = await readdir(packDir);
  if (tarball === undefined) throw new Error(`npm pack left no tarball in ${packDir}`);
  const tarPath = join(packDir, tarball);
  const listing = await mustRun('tar', ['-tzf', tarPath], packDir);
  files = listing
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));

  app = await tempDir('rwsplit-pack-app-');
  if (!relative(root, app).startsWith('..')) throw new Error(`the app must be outside the workspace: ${app}`);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const specs = [tarPath, ...(await Promise.all(['express', '@types/express'].map(workspaceVersion)))];
  const install = ['install', '--no-audit', '--no-fund', ...specs];
  // The workspace's `npm ci` filled npm's cache with these versions; the registry is for what it lacks.
  const offline = await run('npm', [...install, '--offline'], app);
  if (offline.code !== 0) await mustRun('npm', [...install, '--prefer-offline'], app);

  await Promise.all([
    writeFile(join(app, 'typed.ts'), consumerSource(true)),
    writeFile(join(app, 'untyped.ts'), consumerSource(false)),
    writeFile(join(app, 'tsconfig.typed.json'), consumerTsconfig('typed.ts', false)),
    writeFile(join(app, 'tsconfig.untyped.json'), consumerTsconfig('untyped.ts', true)),
    writeFile(join(app, 'load.mjs'), LOAD_CHECK),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all(madeDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the @rwsplit/router tarball', () => {
  it('holds the build, the sources it maps to, README and LICENSE, and no tests', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js']));
    expect(files).toEqual(expect.arrayContaining(['dist/index.d.ts', 'dist/express.d.ts', 'src/index.ts']));
    // The ORM adapters and their guides.
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/adapters/drizzle.js',
        'dist/adapters/kysely.js',
        'dist/adapters/knex.js',
        'docs/drizzle.md',
      ]),
    );
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/.+\.(js|d\.ts)(\.map)?|src\/.+\.ts|docs\/[\w-]+\.md)$/.test(f) &&
        !['README.md', 'LICENSE', 'package.json'].includes(f),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => f.includes('.test.'))).toEqual([]);
  });

  it('points every export, in every condition, at a file it ships', async () => {
    const installed = join(app, 'node_modules/@rwsplit/router/package.json');
    const { exports } = JSON.parse(await readFile(installed, 'utf8')) as { exports: unknown };
    const targets = exportTargets(exports);
    expect(targets.length).toBeGreaterThan(0);
    expect(targets.map((t) => posix.normalize(t)).filter((t) => !files.includes(t))).toEqual([]);
  });

  it('has source maps whose sources are in it', async () => {
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const text = await readFile(join(app, 'node_modules/@rwsplit/router', map), 'utf8');
      const { sources, sourceRoot = '' } = JSON.parse(text) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const shipped = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!files.includes(shipped)) missing.push(`${map} → ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('an app that installed the tarball', () => {
  it('loads the package and its subpaths with plain node, no build step or conditions', async () => {
    const out = await mustRun(process.execPath, ['load.mjs'], app);
    expect(JSON.parse(out)).toEqual({
      router: { createRouter: 'function', RwsplitError: 'function', Session: 'function' },
      express: { rwsplitMiddleware: 'function', currentSession: 'function' },
      replication: { MariaDbDialect: 'function', MySqlDialect: 'function', parseReplicaStatus: 'function' },
    });
  });

  // The two compilations are independent programs (the augmentation is global to one), so they run at once.
  it.concurrent('type-checks req.db.query in an Express handler once it imports the middleware', async ({
    expect,
  }) => {
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.typed.json'], app);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });

  it.concurrent('has no req.db on Express requests without the express subpath', async ({ expect }) => {
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.untyped.json'], app);
    expect(checked.output).toContain("Property 'db' does not exist on type 'Request");
    // That error and no other: the control fails for the reason it is about.
    expect(checked.output.match(/error TS/g)).toHaveLength(1);
    expect(checked.code).not.toBe(0);
  });
});
