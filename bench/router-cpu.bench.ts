/**
 * The router's own CPU per statement, with nothing else in the way: a do-nothing driver whose
 * connections answer every statement with one ready-made result (no network, no parsing), the monitor
 * off, no OpenTelemetry SDK. What is left is classification (cached), routing, read selection, the
 * pool checkout and release, the statement's deadline and its telemetry no-ops.
 *
 * Method: each contender runs N point selects (and N inserts) from one caller and from 32 concurrent
 * callers; we read the process's CPU time (user + system) around each run. The baseline calls the
 * do-nothing connection directly (`await connection.query(sql, values)`), so the router's cost per
 * statement is (router - baseline) / N. Rounds alternate contenders; the median round counts. A CPU
 * profile of one router round (node:inspector) gives the hot path's self time by function.
 *
 * BENCH_ROUTER_CPU_BASELINE=<git ref> adds the router as it is at that ref (its `packages/router/src`,
 * read with `git archive`) as a third contender in the same rounds: a change's before and after,
 * measured side by side on whatever the machine is doing at the time.
 *
 * Run: `node --conditions=source --import tsx bench/router-cpu.bench.ts`
 * Env: BENCH_STATEMENTS (default 200000), BENCH_ROUNDS (5), BENCH_ROUTER_CPU_BASELINE.
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRouter, type Driver, type DriverConnection, type Router } from '@rwsplit/router';
import type { FieldPacket, QueryResult } from 'mysql2/promise';

const SELECT = 'SELECT id, v FROM kv WHERE id = ?';
const INSERT = 'INSERT INTO kv (v) VALUES (?)';

function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const RESULT: [QueryResult, FieldPacket[]] = [[{ id: 1, v: 'x' }] as unknown as QueryResult, []];

/** Answers every statement at once with the same result: the cheapest connection there can be. */
class NullConnection extends EventEmitter implements DriverConnection {
  readonly threadId = 1;
  query(_sql?: unknown, _values?: unknown): Promise<[QueryResult, FieldPacket[]]> {
    return Promise.resolve(RESULT);
  }
  execute(_sql?: unknown, _values?: unknown): Promise<[QueryResult, FieldPacket[]]> {
    return Promise.resolve(RESULT);
  }
  ping(): Promise<void> {
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
}

const nullDriver: Driver = {
  connect: () => Promise.resolve(new NullConnection()),
  serverVersion: () => '10.11.6-MariaDB',
};

type Run = (sql: string, count: number, callers: number) => Promise<void>;

async function drive(
  statement: (sql: string, i: number) => Promise<unknown>,
  sql: string,
  count: number,
  callers: number,
) {
  let next = 0;
  const caller = async () => {
    while (next < count) await statement(sql, next++);
  };
  await Promise.all(Array.from({ length: callers }, caller));
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function measure(run: Run, sql: string, count: number, callers: number): Promise<number> {
  const before = cpuMicros();
  await run(sql, count, callers);
  return ((cpuMicros() - before) * 1_000) / count; // ns per statement
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

interface Row {
  readonly what: string;
  /** Medians over rounds, ns per statement. */
  readonly baselineNs: number;
  readonly routerNs: number;
  /** The router's own cost, paired by round (router − direct in the same round): median and lowest. */
  readonly own: Own;
  /** The same for the router at BENCH_ROUTER_CPU_BASELINE, when given. */
  readonly before?: Own;
}

interface Own {
  readonly medianNs: number;
  readonly lowestNs: number;
}

/**
 * The router's own cost from rounds paired in time: other work on the machine moves CPU per statement
 * by half or more within one run, much less between two adjacent measurements. The lowest round is
 * the least disturbed.
 */
function ownCost(routerNs: readonly number[], directNs: readonly number[]): Own {
  const paired = routerNs.map((ns, round) => ns - (directNs[round] ?? 0));
  return { medianNs: median(paired), lowestNs: Math.min(...paired) };
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The router's source at `ref`, unpacked into a temporary directory; `createRouter` from it. */
async function routerAt(
  ref: string,
): Promise<{ commit: string; create: typeof createRouter; dispose: () => void }> {
  const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', ref], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'rwsplit-router-cpu-'));
  const tar = execFileSync(
    'git',
    ['-C', REPO, 'archive', '--format=tar', commit, 'packages/router/package.json', 'packages/router/src'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  const module = (await import(pathToFileURL(join(dir, 'packages/router/src/index.ts')).href)) as {
    createRouter: typeof createRouter;
  };
  return {
    commit,
    create: module.createRouter,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const ROUTER_OPTIONS = {
  primary: { host: 'primary', name: 'primary' },
  replicas: [{ host: 'replica', name: 'replica' }],
  driver: nullDriver,
  monitor: false,
  consistency: 'eventual',
  pool: { max: 32 },
} as const;

/** Self time by function over one profiled router round: the hot path, heaviest first. */
async function profile(run: Run, count: number): Promise<string[]> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    await run(SELECT, count, 32);
    const { profile: p } = await session.post('Profiler.stop');
    const deltas = p.timeDeltas ?? [];
    const selfUs = new Map<number, number>();
    for (const [i, id] of (p.samples ?? []).entries())
      selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
    const byFunction = new Map<string, number>();
    let total = 0;
    for (const node of p.nodes) {
      const us = selfUs.get(node.id) ?? 0;
      const { functionName, url, lineNumber } = node.callFrame;
      // The profiler's own message dispatch and idle time are not the router's.
      if (url === '' && (functionName === 'dispatch' || functionName === '(idle)')) continue;
      total += us;
      const file = url.replace(/^.*\/(packages|node_modules)\//, '$1/');
      const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    }
    return [...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => `| ${((100 * us) / total).toFixed(1)} % | \`${name}\` |`);
  } finally {
    session.disconnect();
  }
}

export async function run(): Promise<{ title: string; markdown: string; rows: Row[] }> {
  const count = envInt('BENCH_STATEMENTS', 200_000);
  const rounds = envInt('BENCH_ROUNDS', 5);
  const router: Router = createRouter(ROUTER_OPTIONS);
  const baselineRef = process.env.BENCH_ROUTER_CPU_BASELINE;
  const before = baselineRef === undefined ? undefined : await routerAt(baselineRef);
  const beforeRouter = before?.create(ROUTER_OPTIONS);
  const direct = new NullConnection();
  const baseline: Run = (sql, n, callers) => drive((s, i) => direct.query(s, [i]), sql, n, callers);
  const through =
    (r: Router): Run =>
    (sql, n, callers) =>
      drive((s, i) => (s === SELECT ? r.query(s, [i]) : r.execute(s, [i])), sql, n, callers);
  const routed = through(router);
  const routedBefore = beforeRouter === undefined ? undefined : through(beforeRouter);
  try {
    // Warm-up: JIT, the classification cache, the pools' connections.
    for (const run of [routed, routedBefore]) {
      if (run === undefined) continue;
      await run(SELECT, 50_000, 32);
      await run(INSERT, 50_000, 32);
    }
    await baseline(SELECT, 50_000, 32);
    const rows: Row[] = [];
    for (const [what, sql, callers] of [
      ['point select, 1 caller', SELECT, 1],
      ['point select, 32 callers', SELECT, 32],
      ['insert, 32 callers', INSERT, 32],
    ] as const) {
      const base: number[] = [];
      const routedNs: number[] = [];
      const beforeNs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        base.push(await measure(baseline, sql, count, callers));
        routedNs.push(await measure(routed, sql, count, callers));
        if (routedBefore) beforeNs.push(await measure(routedBefore, sql, count, callers));
      }
      rows.push({
        what,
        baselineNs: median(base),
        routerNs: median(routedNs),
        own: ownCost(routedNs, base),
        ...(routedBefore ? { before: ownCost(beforeNs, base) } : {}),
      });
    }
    const hot = await profile(routed, count);
    const us = (ns: number) => (ns / 1_000).toFixed(2);
    const table = before
      ? [
          `| statement | direct call, ns CPU | router now, ns CPU | router's own now, µs: median, lowest round | at ${before.commit}: median, lowest round | now ÷ before (median) |`,
          '| --- | ---: | ---: | ---: | ---: | ---: |',
          ...rows.map(
            (r) =>
              `| ${r.what} | ${Math.round(r.baselineNs)} | ${Math.round(r.routerNs)} | ${us(r.own.medianNs)}, ${us(r.own.lowestNs)} | ${us(r.before?.medianNs ?? 0)}, ${us(r.before?.lowestNs ?? 0)} | ${(r.own.medianNs / (r.before?.medianNs ?? 1)).toFixed(2)} |`,
          ),
        ]
      : [
          "| statement | direct call, ns CPU | through the router, ns CPU | router's own, µs per statement: median, lowest round |",
          '| --- | ---: | ---: | ---: |',
          ...rows.map(
            (r) =>
              `| ${r.what} | ${Math.round(r.baselineNs)} | ${Math.round(r.routerNs)} | ${us(r.own.medianNs)}, ${us(r.own.lowestNs)} |`,
          ),
        ];
    const beforeNote = before
      ? ` The router at ${before.commit} (\`BENCH_ROUTER_CPU_BASELINE=${baselineRef}\`) takes its turn in the same rounds.`
      : '';
    const markdown = `${table.join('\n')}\n\nDo-nothing driver (every statement answered at once with one ready-made result), monitor off, consistency \`eventual\`, no OpenTelemetry SDK; ${count} statements per round, ${rounds} rounds; Node ${process.version}. "Router's own" = router − direct, each round against the direct call measured just before it (median and lowest over rounds); the medians of the first two columns move with the machine.${beforeNote}\n\nHot path, self time by function (one profiled round, 32 callers, point selects):\n\n| self time | function |\n| ---: | --- |\n${hot.join('\n')}\n`;
    return { title: "Router's own CPU per statement (do-nothing driver)", markdown, rows };
  } finally {
    await router.close();
    await beforeRouter?.close();
    before?.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run();
  console.log(result.markdown);
}
