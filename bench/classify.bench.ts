/**
 * How fast `classify` routes statements, against what a user would otherwise reach for: parsing
 * with node-sql-parser and looking at the AST.
 *
 * Method: for each statement of a realistic mix and for the mix as a whole, each contender runs
 * once to warm up (about WARMUP_MS), then ROUNDS timed rounds of a fixed iteration count sized to
 * take about ROUND_MS; the reported rate is the median round's. Time is process.hrtime.bigint.
 *
 *   node --conditions=source --import tsx bench/classify.bench.ts
 */
import { pathToFileURL } from 'node:url';
import sqlParser, { type Select } from 'node-sql-parser';
import type { RouteTarget } from '../packages/router/src/classify/classification.js';
import { classify } from '../packages/router/src/classify/index.js';

export interface ClassifyBenchRow {
  readonly statement: string;
  /** Length of the statement in UTF-16 code units (bytes, for these ASCII statements). */
  readonly bytes: number;
  /** Statements per second through `classify`. */
  readonly classifyPerSec: number;
  /** Statements per second through node-sql-parser's `astify` plus a look at the AST. */
  readonly parserPerSec: number;
  /** classifyPerSec / parserPerSec */
  readonly ratio: number;
}

const WARMUP_MS = 300;
const ROUND_MS = 150;
const ROUNDS = 7;

function longStatement(): string {
  const columns = Array.from({ length: 40 }, (_, i) => `o.col_${i} AS c${i}`).join(', ');
  let sql = `SELECT ${columns} FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id > 0`;
  for (let i = 0; sql.length < 2000; i++) sql += ` AND (o.status_${i} = 'state ${i}' OR o.flag_${i} IS NULL)`;
  return `${sql} ORDER BY o.id DESC LIMIT 100`;
}

export const STATEMENTS: readonly (readonly [name: string, sql: string])[] = [
  ['point select', 'SELECT * FROM notes WHERE id = ?'],
  ['insert', 'INSERT INTO notes (title, body, created_at) VALUES (?, ?, NOW())'],
  ['update', 'UPDATE notes SET title = ?, updated_at = NOW() WHERE id = ?'],
  [
    'join with comments',
    "/* app=notes,route='/api/notes' */ SELECT n.id, n.title, u.name -- author\nFROM notes n JOIN users u ON u.id = n.user_id /* newest first */ WHERE n.deleted_at IS NULL ORDER BY n.created_at DESC LIMIT 20",
  ],
  [
    'recursive CTE',
    'WITH RECURSIVE thread (id, parent_id, depth) AS (SELECT id, parent_id, 0 FROM comments WHERE id = ? UNION ALL SELECT c.id, c.parent_id, t.depth + 1 FROM comments c JOIN thread t ON c.parent_id = t.id) SELECT * FROM thread ORDER BY depth',
  ],
  ['2 KB select', longStatement()],
];

const parser = new sqlParser.Parser();

/** The AST fields that make a SELECT unfit for a replica (node-sql-parser's types leave them out). */
interface SelectExtras {
  readonly locking_read?: unknown;
  readonly into?: { readonly position?: unknown };
}

/** The parser-based alternative: a replica only for plain SELECTs without locking or INTO. */
function routeWithParser(sql: string): RouteTarget {
  try {
    const ast = parser.astify(sql, { database: 'MySQL' });
    const statements = Array.isArray(ast) ? ast : [ast];
    const reads = statements.every((s) => {
      if (s.type !== 'select') return false;
      const extras = s as Select & SelectExtras;
      return !extras.locking_read && !extras.into?.position;
    });
    return reads ? 'replica' : 'primary';
  } catch {
    return 'primary';
  }
}

function routeWithClassify(sql: string): RouteTarget {
  return classify(sql).target;
}

/** Runs `route` over `mix` round-robin, `iterations` times; returns statements per second. */
function timeRound(route: (sql: string) => RouteTarget, mix: readonly string[], iterations: number): number {
  let replicas = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (route(mix[i % mix.length]!) === 'replica') replicas++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (replicas < 0) throw new Error('unreachable'); // keeps the loop's result alive
  return iterations / seconds;
}

function measure(route: (sql: string) => RouteTarget, mix: readonly string[]): number {
  let iterations = mix.length;
  const warmupEnd = Date.now() + WARMUP_MS;
  let rate = timeRound(route, mix, iterations);
  while (Date.now() < warmupEnd) {
    rate = timeRound(route, mix, iterations);
    iterations = Math.max(mix.length, Math.ceil((rate * ROUND_MS) / 1000));
  }
  const rates = Array.from({ length: ROUNDS }, () => timeRound(route, mix, iterations)).sort((a, b) => a - b);
  return rates[ROUNDS >> 1]!;
}

export interface ClassifyBenchResult {
  readonly title: string;
  /** The table, as bench/run.ts writes it to bench/results/. */
  readonly markdown: string;
  /** One row per statement of STATEMENTS, then the whole mix. */
  readonly rows: readonly ClassifyBenchRow[];
}

/** Measures every statement and the whole mix. */
export async function run(): Promise<ClassifyBenchResult> {
  const cases: (readonly [string, readonly string[]])[] = STATEMENTS.map(
    ([name, sql]) => [name, [sql]] as const,
  );
  cases.push(['mix (all of the above)', STATEMENTS.map(([, sql]) => sql)]);
  const rows: ClassifyBenchRow[] = [];
  for (const [statement, mix] of cases) {
    const classifyPerSec = measure(routeWithClassify, mix);
    const parserPerSec = measure(routeWithParser, mix);
    const bytes = Math.round(mix.reduce((sum, sql) => sum + sql.length, 0) / mix.length);
    rows.push({ statement, bytes, classifyPerSec, parserPerSec, ratio: classifyPerSec / parserPerSec });
    await new Promise((resolve) => setImmediate(resolve)); // let a calling runner breathe between rows
  }
  const method = `Median of ${ROUNDS} rounds of about ${ROUND_MS} ms after ${WARMUP_MS} ms of warm-up, per contender and row; node-sql-parser routes by parsing (MySQL dialect) and reading the AST.`;
  return { title: 'classify vs node-sql-parser', markdown: `${method}\n\n${toMarkdown(rows)}`, rows };
}

export function toMarkdown(rows: readonly ClassifyBenchRow[]): string {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    '| statement | bytes | classify (stmt/s) | node-sql-parser (stmt/s) | ratio |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.statement} | ${r.bytes} | ${rate(r.classifyPerSec)} | ${rate(r.parserPerSec)} | ${r.ratio.toFixed(0)}x |`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run();
  console.log(`${result.title} (Node ${process.version})\n\n${result.markdown}`);
}
