// `npm run bench`: every benchmark in one run; each writes its table to bench/results/<name>.md.
// Benchmarks report ratios measured side by side in the same run; no test asserts a wall-clock figure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface BenchResult {
  readonly title: string;
  readonly markdown: string;
}

const BENCHES: Record<string, () => Promise<{ run(): Promise<BenchResult> }>> = {
  classify: () => import('./classify.bench.js'),
  'cluster-start': () => import('./cluster-start.bench.js'),
  'docker-start': () => import('./docker-start.bench.js'),
  'router-overhead': () => import('./router-overhead.bench.js'),
  'router-cpu': () => import('./router-cpu.bench.js'),
  'router-tls': () => import('./router-tls.bench.js'),
  'stalled-replica': () => import('./stalled-replica.bench.js'),
  consistency: () => import('./consistency.bench.js'),
  http: () => import('./http.bench.js'),
  'http-app': () => import('./http-app.bench.js'),
  failover: () => import('./failover.bench.js'),
  chaos: () => import('./chaos.bench.js'),
  'orm-drizzle': () => import('./orm-drizzle.bench.js'),
  'orm-kysely': () => import('./orm-kysely.bench.js'),
  'orm-knex': () => import('./orm-knex.bench.js'),
};

const only = process.argv.slice(2);
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });

for (const [name, load] of Object.entries(BENCHES)) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n## ${name}\n`);
  const result = await (await load()).run();
  const text = `# ${result.title}\n\nMeasured by \`npm run bench\` (${new Date().toISOString().slice(0, 10)}, ${process.platform} ${process.arch}, Node ${process.versions.node}).\n\n${result.markdown}\n`;
  writeFileSync(`${resultsDir}${name}.md`, text);
  console.log(result.markdown);
}
