/**
 * What an Express app pays per request for the router, for `rwsplitMiddleware` (a session per request)
 * and for the notes app's own work (request logging, metrics, validation, X-DB-Node), against a minimal
 * Express app on a raw mysql2 pool: four HTTP servers side by side on the same replica, in one run.
 *
 * Method: one database-only cluster (primary + 1 replica); the notes table (the notes app's own
 * migration) with NOTES rows, read once replicated. Each server runs in a child process of its own on
 * 127.0.0.1, so its CPU (`process.cpuUsage()`, user + system, every thread) is its own:
 *   a. a minimal Express app, `GET /api/notes/:id` on a mysql2 promise pool on the replica;
 *   b. the same app, `router.query` (createRouter with the primary and that replica, its defaults);
 *   c. the same app behind `rwsplitMiddleware(db)`, `req.db.query`;
 *   d. the notes app, `createApp` wired as its main.ts wires it (pino at info to a file, its metrics as
 *      the router's meterProvider, lag history, readiness), on b's router options.
 * Pools hold POOL connections everywhere. autocannon (in this process) drives each with CONNECTIONS
 * keep-alive connections, pipelining 1, ids from a seeded PRNG (the same sequence for every server):
 * a discarded warm-up each, then ROUNDS rounds of DURATION, the servers taking turns (order rotated each
 * round). Other work on the shared 2-core box moves every figure, CPU per request too, so a ratio to a
 * is taken round by round (a and the other ran in the same rotation) and the median round reported.
 *
 * BENCH_HTTP_APP_BASELINE=<git ref> adds c and d built from that ref's `packages/router/src/express.ts`
 * and `examples/notes-app/src` (read with `git archive`, run on the working tree's router), so a change
 * is measured before and after in the same run. BENCH_HTTP_APP_CPU_PROF=<dir> runs the servers under
 * `--cpu-prof` (one directory per server) and prints how many requests each served.
 *
 * Run: `node --conditions=source --import tsx bench/http-app.bench.ts` (or `bench/run.ts http-app`).
 * Env: BENCH_HTTP_APP_DURATION_S (default 3), BENCH_HTTP_APP_ROUNDS (10), BENCH_HTTP_APP_WARMUP_S (3),
 *      BENCH_HTTP_APP_CONNECTIONS (32), BENCH_HTTP_APP_POOL (10), BENCH_HTTP_APP_ONLY (keys: a,b,c,d, or
 *      c@<commit> for a baseline row; a bare letter takes both).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MeterProvider } from '@opentelemetry/api';
import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router } from '@rwsplit/router';
import type { RwsplitRequest } from '@rwsplit/router/express';
import express, { type Express, type Request, type RequestHandler } from 'express';
import mysql from 'mysql2/promise';
import { Contender, envInt, ms, readWorkload, type Settings, type Target } from './http.bench.js';

type AppModule = typeof import('../examples/notes-app/src/app.js');
type ExpressModule = typeof import('../packages/router/src/express.js');

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SERVER_ENV = 'RWSPLIT_BENCH_HTTP_APP_SERVER';
const NOTES = 1_000;
const NOTE_SQL = 'SELECT id, title, body, created_at, updated_at FROM notes WHERE id = ?';

type Kind = 'a' | 'b' | 'c' | 'd';

const KIND_LABEL: Record<Kind, string> = {
  a: 'a. Express + mysql2 pool',
  b: 'b. Express + router.query',
  c: 'c. Express + rwsplitMiddleware, req.db.query',
  d: 'd. notes app (createApp)',
};

/** Everything a server process needs, passed as JSON in SERVER_ENV. */
interface ServerSpec {
  readonly kind: Kind;
  readonly primary: { readonly host: string; readonly port: number; readonly name: string };
  readonly replica: { readonly host: string; readonly port: number; readonly name: string };
  readonly connection: {
    readonly user: string;
    readonly password: string;
    readonly database: string;
    readonly ssl: { readonly ca: string };
  };
  readonly monitor: { readonly user: string; readonly password: string };
  readonly poolSize: number;
  /** The notes app's `src/` and the middleware module to load: the working tree's, or a baseline's. */
  readonly notesAppSrc: string;
  readonly expressModule: string;
}

type ServerMessage = { readonly ready: number } | { readonly cpuMicros: number };

// ---------------------------------------------------------------------------------------------------
// The servers (child processes)

/** How a, b and c run the statement: the only thing in which they differ. */
type Query = (req: Request, sql: string, values: number[]) => Promise<[unknown, unknown]>;

/** The minimal app: one route, the row as JSON. */
function minimalApp(query: Query, before?: RequestHandler): Express {
  const app = express();
  if (before) app.use(before);
  app.get('/api/notes/:id', async (req, res) => {
    const [rows] = await query(req, NOTE_SQL, [Number(req.params.id)]);
    const note = (rows as unknown[])[0];
    if (note === undefined) res.status(404).json({ error: 'not found' });
    else res.json(note);
  });
  return app;
}

/** b, c and d: the router's defaults, so they differ only in what each measures. */
function routerFor(spec: ServerSpec, meterProvider?: MeterProvider): Router {
  return createRouter({
    primary: spec.primary,
    replicas: [spec.replica],
    connection: spec.connection,
    pool: { max: spec.poolSize },
    monitor: spec.monitor,
    ...(meterProvider === undefined ? {} : { meterProvider }),
  });
}

/** Builds the server `spec` asks for; `close` ends what it opened. */
async function buildServer(spec: ServerSpec): Promise<{ app: Express; close: () => Promise<void> }> {
  if (spec.kind === 'a') {
    const pool = mysql.createPool({ ...spec.replica, ...spec.connection, connectionLimit: spec.poolSize });
    return { app: minimalApp((_req, sql, values) => pool.query(sql, values)), close: () => pool.end() };
  }
  if (spec.kind === 'b' || spec.kind === 'c') {
    const db = routerFor(spec);
    await db.ready();
    const close = async () => void (await db.close());
    if (spec.kind === 'b') return { app: minimalApp((_req, sql, values) => db.query(sql, values)), close };
    const { rwsplitMiddleware } = (await import(spec.expressModule)) as ExpressModule;
    const viaSession: Query = (req, sql, values) => (req as Request & RwsplitRequest).db.query(sql, values);
    return { app: minimalApp(viaSession, rwsplitMiddleware(db) as RequestHandler), close };
  }
  // As examples/notes-app/src/main.ts wires it, on this bench's router options.
  const src = (file: string) => pathToFileURL(join(spec.notesAppSrc, file)).href;
  const [{ createApp }, { AppMetrics }, { LagHistory }, { Readiness }, { pino }] = await Promise.all([
    import(src('app.ts')) as Promise<AppModule>,
    import(src('metrics.ts')) as Promise<typeof import('../examples/notes-app/src/metrics.js')>,
    import(src('dashboard/lag-history.ts')) as Promise<
      typeof import('../examples/notes-app/src/dashboard/lag-history.js')
    >,
    import(src('readiness.ts')) as Promise<typeof import('../examples/notes-app/src/readiness.js')>,
    import('pino'),
  ]);
  const logger = pino({ level: 'info', base: { server: 'server-1' } });
  const metrics = new AppMetrics();
  const db = routerFor(spec, metrics.meterProvider);
  await db.ready();
  const lagHistory = new LagHistory();
  lagHistory.start(() => db.topology());
  const app = createApp({
    db,
    logger,
    readiness: new Readiness(),
    serverName: 'server-1',
    metrics,
    lagHistory,
  });
  const close = async () => {
    lagHistory.stop();
    await db.close();
    await metrics.shutdown();
  };
  return { app, close };
}

/** A server process: listens, answers `cpu` with its CPU so far, ends on `stop` or when the bench goes. */
async function serve(spec: ServerSpec): Promise<void> {
  const send = (message: ServerMessage) => process.send?.(message);
  const { app, close } = await buildServer(spec);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await close();
    process.exit(0);
  };
  process.on('disconnect', () => void stop());
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ cpuMicros: user + system });
    } else if (message === 'stop') void stop();
  });
  send({ ready: (server.address() as AddressInfo).port });
}

// ---------------------------------------------------------------------------------------------------
// The driver (this process)

/** A server process as the driver sees it. */
class ServerProcess {
  private readonly waiting: ((message: ServerMessage) => void)[] = [];
  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (message: ServerMessage) => this.waiting.shift()?.(message));
  }

  static async start(label: string, spec: ServerSpec, logFile: string, profileDir?: string) {
    const log = openSync(logFile, 'a');
    // One directory per server: Node writes a profile per thread (tsx's loader thread too).
    const profile = profileDir
      ? [
          '--cpu-prof',
          '--cpu-prof-interval=250',
          `--cpu-prof-dir=${join(profileDir, label.replace(/\W+/g, '-'))}`,
        ]
      : [];
    const child = fork(fileURLToPath(import.meta.url), [], {
      cwd: REPO,
      execArgv: ['--conditions=source', '--import', 'tsx', ...profile],
      env: { ...process.env, [SERVER_ENV]: JSON.stringify(spec) },
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: ServerMessage) => 'ready' in message && resolve(message.ready));
      child.once('exit', (code) =>
        reject(new Error(`${label} exited (${code}) before listening; see ${logFile}:\n${tail(logFile)}`)),
      );
    });
    child.removeAllListeners('exit');
    return new ServerProcess(label, child, `http://127.0.0.1:${port}`);
  }

  /** The process's CPU so far (user + system), µs. */
  cpuMicros(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting.push((message) => resolve('cpuMicros' in message ? message.cpuMicros : Number.NaN));
      this.child.send('cpu');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send('stop');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A process's CPU so far from /proc (user + system), µs; NaN where there is no /proc. */
function procCpuMicros(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** One server under load: autocannon's figures (a `Contender`) plus the server's and the replica's CPU. */
class Measured {
  readonly contender: Contender;
  readonly serverCpu: number[] = [];
  readonly replicaCpu: number[] = [];
  readonly responses: number[] = [];

  constructor(
    readonly key: string,
    readonly server: ServerProcess,
    ids: readonly number[],
    private readonly replica: DbNode,
  ) {
    const target: Target = { label: server.label, url: server.url };
    this.contender = new Contender('GET /api/notes/:id', target, readWorkload(ids));
  }

  async round(settings: Settings): Promise<void> {
    const before = this.contender.responses;
    const [server0, replica0] = [await this.server.cpuMicros(), procCpuMicros(this.replica.pid)];
    await this.contender.round(settings);
    this.serverCpu.push((await this.server.cpuMicros()) - server0);
    this.replicaCpu.push(procCpuMicros(this.replica.pid) - replica0);
    this.responses.push(this.contender.responses - before);
  }

  /** µs per response in each round. */
  perRound(cpu: readonly number[]): number[] {
    return cpu.map((micros, i) => micros / (this.responses[i] ?? Number.NaN));
  }

  /** The median round's µs per response: a burst of other work on the box moves one round, not this. */
  perRequest(cpu: readonly number[]): number {
    return median(this.perRound(cpu));
  }

  /**
   * This server's figure over `base`'s, round by round (the two ran minutes apart at most, in the same
   * rotation), then the median round: the comparison that drift on a shared box moves least.
   */
  pairedRatio(base: Measured, figure: (m: Measured) => readonly number[]): number {
    const mine = figure(this);
    const theirs = figure(base);
    return median(mine.map((value, i) => value / (theirs[i] ?? Number.NaN)));
  }
}

const rates = (m: Measured) => m.contender.roundRates;
const cpuPerRequest = (m: Measured) => m.perRound(m.serverCpu);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function seed(cluster: Cluster): Promise<number[]> {
  const { migrate } = await import('../examples/notes-app/src/schema.js');
  const primary = cluster.primary();
  const db = createRouter({
    primary: { host: primary.host, port: primary.port, name: primary.name },
    connection: cluster.credentials.app,
    monitor: false,
  });
  try {
    await migrate(db);
    const rows = Array.from({ length: NOTES }, (_, i) => [
      `note ${i + 1}`,
      `The body of bench note ${i + 1}.`,
    ]);
    await db.query('INSERT INTO notes (title, body) VALUES ?', [rows]);
    const [ids] = await db.query('SELECT id FROM notes ORDER BY id');
    return (ids as { id: number }[]).map((row) => Number(row.id));
  } finally {
    await db.close();
  }
}

async function untilReplicated(replica: DbNode, database: string, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  const replicated = async () => {
    const [row] = await replica.query(`SELECT COUNT(*) AS n FROM \`${database}\`.notes`).catch(() => []);
    return Number(row?.n) === count;
  };
  while (!(await replicated())) {
    if (Date.now() > deadline) throw new Error(`the notes did not replicate within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * `ref`'s middleware and notes app in `dir`, importing today's router: the middleware's relative imports
 * point back at the working tree, the notes app's `@rwsplit/router/express` at the copied middleware.
 */
function checkoutBaseline(
  ref: string,
  dir: string,
): { notesAppSrc: string; expressModule: string; commit: string } {
  const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', ref], { encoding: 'utf8' }).trim();
  // The package.json files make the copies ES modules, as they are in the repo.
  const paths = [
    'packages/router/package.json',
    'packages/router/src/express.ts',
    'examples/notes-app/package.json',
    'examples/notes-app/src',
  ];
  const tar = execFileSync('git', ['-C', REPO, 'archive', '--format=tar', commit, ...paths], {
    maxBuffer: 64 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(REPO, 'examples/notes-app/node_modules'), join(dir, 'examples/notes-app/node_modules'));
  const expressModule = join(dir, 'packages/router/src/express.ts');
  const routerSrc = join(REPO, 'packages/router/src');
  rewrite(
    expressModule,
    /from '\.\/([^']+)'/g,
    (_m, file: string) => `from '${pathToFileURL(join(routerSrc, file)).href}'`,
  );
  const notesAppSrc = join(dir, 'examples/notes-app/src');
  for (const file of readdirSync(notesAppSrc, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const url = pathToFileURL(expressModule).href;
    rewrite(join(notesAppSrc, file), /from '@rwsplit\/router\/express'/g, () => `from '${url}'`);
  }
  return { notesAppSrc, expressModule, commit };
}

function rewrite(
  path: string,
  pattern: RegExp,
  replace: (match: string, ...groups: string[]) => string,
): void {
  writeFileSync(path, readFileSync(path, 'utf8').replace(pattern, replace));
}

function row(m: Measured, base: Measured): string {
  const c = m.contender;
  const failed = c.non2xx + c.errors;
  return (
    `| ${m.server.label}${failed > 0 ? ' ⚠' : ''} | ${Math.round(c.rate)} | ${m.pairedRatio(base, rates).toFixed(2)} | ` +
    `${ms(c.tally.percentile(50))} | ${ms(c.tally.percentile(99))} | ${m.perRequest(m.serverCpu).toFixed(0)} | ` +
    `${m.pairedRatio(base, cpuPerRequest).toFixed(2)} | ${m.perRequest(m.replicaCpu).toFixed(0)} | ` +
    `${c.responses} | ${failed} |`
  );
}

function roundsRow(m: Measured): string {
  const list = (values: readonly number[]) => values.map(Math.round).join(', ');
  return `| ${m.server.label} | ${list(rates(m))} | ${list(cpuPerRequest(m))} |`;
}

function method(
  settings: Settings,
  poolSize: number,
  notes: number,
  baseline: { commit: string; ref: string } | undefined,
): string {
  const lines = [
    'Four HTTP servers on the same MariaDB replica, each in its own Node process, measured side by side: ' +
      `\`GET /api/notes/:id\` over ${notes} notes (ids from a seeded PRNG, the same sequence for every ` +
      `server), autocannon 8 in the bench process, ${settings.connections} keep-alive connections, ` +
      `pipelining 1; a ${settings.warmupS} s warm-up each (discarded), then ${settings.rounds} rounds of ` +
      `${settings.durationS} s with the servers taking turns (order rotated each round). Pools hold ` +
      `${poolSize} connections. a, b and c are one minimal Express 5 app (one route, \`${NOTE_SQL}\`, the ` +
      'row as JSON) that differ only in how they query: a mysql2 promise pool on the replica (a), ' +
      '`router.query` (b: createRouter with the primary and that replica and its defaults, monitor on, no ' +
      'OpenTelemetry SDK), `req.db.query` behind `rwsplitMiddleware(db)` with its defaults (c). d is the ' +
      'notes app from `createApp`, wired as its main.ts wires it (pino at info to a file, one line per ' +
      "request; its OpenTelemetry metrics as the router's meterProvider; lag history; readiness) on b's " +
      "router options (main.ts's own timeouts left out), running its own read (with `@@report_host`, for " +
      'X-DB-Node).',
    '',
    "**Server CPU** is the server process's own CPU (user + system, every thread, `process.cpuUsage()`) " +
      "during a round over the responses of that round, median over rounds. **Replica CPU** is mariadbd's " +
      "(from /proc), the same way. **÷ a** is paired: the figure over a's in the same round, median over " +
      'rounds. req/s and p50/p99 are over all rounds together. Every process shares the 2 cores, so req/s ' +
      'follows the CPU per request of the server, mariadbd and autocannon together.',
  ];
  if (baseline) {
    lines.push(
      '',
      `Rows "at ${baseline.commit}" run \`packages/router/src/express.ts\` and \`examples/notes-app/src\` ` +
        `as they are at ${baseline.commit} (\`BENCH_HTTP_APP_BASELINE=${baseline.ref}\`) on the router of ` +
        'the working tree, like every other row: the before of a change, in the same run as its after.',
    );
  }
  return lines.join('\n');
}

/** The issue's targets (#12): the middleware path >= 0.95 of a, the notes app >= 0.8, in req/s. */
function targets(measured: readonly Measured[], base: Measured): string[] {
  const lines = measured
    .filter((m) => m.key.startsWith('c') || m.key.startsWith('d'))
    .map((m) => {
      const goal = m.key.startsWith('c') ? 0.95 : 0.8;
      const got = m.pairedRatio(base, rates);
      return `| ${m.server.label} | ${got.toFixed(2)} | >= ${goal} | ${got >= goal ? 'met' : 'not met'} |`;
    });
  if (lines.length === 0) return [];
  return ['| target (req/s ÷ a) | measured | goal | |', '| --- | ---: | ---: | --- |', ...lines, ''];
}

function share(counts: ReadonlyMap<string, number>): string {
  return [...counts].map(([key, n]) => `${key} × ${n}`).join(', ');
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const settings: Settings = {
    durationS: envInt('BENCH_HTTP_APP_DURATION_S', 3),
    warmupS: envInt('BENCH_HTTP_APP_WARMUP_S', 3),
    rounds: envInt('BENCH_HTTP_APP_ROUNDS', 10),
    connections: envInt('BENCH_HTTP_APP_CONNECTIONS', 32),
  };
  const poolSize = envInt('BENCH_HTTP_APP_POOL', 10);
  const baselineRef = process.env.BENCH_HTTP_APP_BASELINE;
  const profileDir = process.env.BENCH_HTTP_APP_CPU_PROF;
  const only = process.env.BENCH_HTTP_APP_ONLY?.split(',');
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const loadBefore = loadavg()[0] ?? Number.NaN;
  const work = mkdtempSync(join(tmpdir(), 'rwsplit-bench-http-app-'));
  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  const servers: ServerProcess[] = [];
  try {
    const ids = await seed(cluster);
    const { database } = cluster.credentials.app;
    const replica = cluster.replica(0);
    await untilReplicated(replica, database, ids.length);
    const node = (n: DbNode) => ({ host: n.host, port: n.port, name: n.name });
    const common = {
      primary: node(cluster.primary()),
      replica: node(replica),
      connection: cluster.credentials.app,
      monitor: cluster.credentials.monitor,
      poolSize,
      notesAppSrc: join(REPO, 'examples/notes-app/src'),
      expressModule: pathToFileURL(join(REPO, 'packages/router/src/express.ts')).href,
    };

    const variants: { key: string; label: string; spec: ServerSpec }[] = [];
    const baseline = baselineRef === undefined ? undefined : checkoutBaseline(baselineRef, work);
    for (const kind of ['a', 'b', 'c', 'd'] as const) {
      if (baseline && (kind === 'c' || kind === 'd')) {
        const { notesAppSrc, expressModule, commit } = baseline;
        variants.push({
          key: `${kind}@${commit}`,
          label: `${KIND_LABEL[kind]}, at ${commit}`,
          spec: { ...common, kind, notesAppSrc, expressModule: pathToFileURL(expressModule).href },
        });
      }
      variants.push({ key: kind, label: KIND_LABEL[kind], spec: { ...common, kind } });
    }
    const chosen = variants.filter(
      (v) => only === undefined || only.includes(v.key) || only.includes(v.key[0]!),
    );
    const measured: Measured[] = [];
    for (const { key, label, spec } of chosen) {
      const server = await ServerProcess.start(label, spec, join(work, `${key}.log`), profileDir);
      servers.push(server);
      const check = await fetch(`${server.url}/api/notes/${ids[0]}`);
      const body = (await check.json()) as { id?: unknown };
      if (check.status !== 200 || Number(body.id) !== ids[0])
        throw new Error(`${label}: GET answered ${check.status} ${JSON.stringify(body)}`);
      measured.push(new Measured(key, server, ids, replica));
    }

    const warmUps = new Map<Measured, number>();
    for (const m of measured) warmUps.set(m, (await m.contender.warmUp(settings)).requests.total);
    for (let round = 0; round < settings.rounds; round++) {
      for (let i = 0; i < measured.length; i++)
        await measured[(round + i) % measured.length]?.round(settings);
    }

    if (profileDir) {
      // A profile covers the server's whole life: per-request figures divide by every request it served.
      for (const m of measured)
        console.log(
          `profile: ${m.server.label}: ${(warmUps.get(m) ?? 0) + m.contender.responses + 1} requests`,
        );
    }
    const failures = measured.filter((m) => m.contender.non2xx + m.contender.errors > 0);
    if (failures.length > 0) {
      console.error(`http-app bench: requests failed: ${failures.map((m) => m.server.label).join(', ')}`);
      process.exitCode = 1;
    }
    const base = measured.find((m) => m.key === 'a') ?? measured[0]!;
    const markdown = [
      ...(failures.length > 0 ? ['> **FAILED: some requests failed** (rows marked ⚠).', ''] : []),
      method(settings, poolSize, ids.length, baseline && { ...baseline, ref: baselineRef ?? '' }),
      '',
      '| server | req/s | req/s ÷ a | p50 ms | p99 ms | server CPU µs/req | CPU ÷ a | replica CPU µs/req | responses | failed |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...measured.map((m) => row(m, base)),
      '',
      ...targets(measured, base),
      '### By round',
      '',
      '| server | req/s | server CPU µs/req |',
      '| --- | --- | --- |',
      ...measured.map(roundsRow),
      '',
      ...measured
        .filter((m) => m.key.startsWith('d'))
        .map((m) => `${m.server.label}: X-DB-Node ${share(m.contender.tally.dbNode)}.`),
      '',
      '### Caveats',
      '',
      `- 1-minute load average before the cluster started: ${loadBefore.toFixed(2)} (2 cores). Other work ` +
        'on the machine competes for the same cores: it moves req/s most, and CPU per request too (a server ' +
        'that answers fewer requests per event-loop turn spends more per request), hence the paired ratios.',
      "- Server CPU includes what a server does besides requests during its rounds (the router's monitor " +
        "probes, the notes app's lag sampling), as it would in production.",
      '- One run of the bench; the by-round table shows how much each figure moved within it.',
    ].join('\n');
    return {
      title: 'HTTP app overhead: Express on a raw pool vs the router, the middleware and the notes app',
      markdown,
    };
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.env[SERVER_ENV] !== undefined) {
  await serve(JSON.parse(process.env[SERVER_ENV]) as ServerSpec);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log((await run()).markdown);
}
