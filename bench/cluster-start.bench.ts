// Cold start of the database-only and the full topology (median of 5) and the RSS of each process kind.
// Not a timed test: numbers for the README and the closing note.
import { readFileSync } from 'node:fs';
import { startCluster } from '@rwsplit/cluster';
import { NOTES_APP } from '../test/support/notes-app.js';
import { processesUsing } from '../test/support/processes.js';

const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function processKind(pid: number): string | undefined {
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  if (cmdline.includes('mariadbd')) return 'mariadbd';
  if (cmdline.includes('haproxy')) return 'haproxy';
  if (cmdline.startsWith('nginx: master')) return 'nginx master';
  if (cmdline.startsWith('nginx: worker')) return 'nginx worker';
  if (cmdline.includes('echo-app') || cmdline.includes('node')) return 'app (node)';
  return undefined;
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

async function timeStart(servers: number): Promise<{ ms: number; rss: Map<string, number[]> }> {
  const started = process.hrtime.bigint();
  const cluster = await startCluster({ monitoring: false, servers, replicas: 1, app: NOTES_APP });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const rss = new Map<string, number[]>();
  for (const pid of processesUsing(cluster.stateDir)) {
    const kind = processKind(pid);
    if (kind) rss.set(kind, [...(rss.get(kind) ?? []), rssKiB(pid)]);
  }
  await cluster.stop();
  return { ms, rss };
}

export interface BenchResult {
  readonly title: string;
  readonly markdown: string;
}

export async function run(): Promise<BenchResult> {
  const rows: string[] = [];
  let rssTable = '';
  for (const [label, servers] of [
    ['database only (primary + 1 replica)', 0],
    ['full topology (LB + 2 servers + primary + 1 replica)', 2],
  ] as const) {
    const times: number[] = [];
    let lastRss = new Map<string, number[]>();
    for (let i = 0; i < ROUNDS; i++) {
      const { ms, rss } = await timeStart(servers);
      times.push(ms);
      lastRss = rss;
    }
    rows.push(
      `| ${label} | ${(median(times) / 1000).toFixed(2)} s | ${(Math.min(...times) / 1000).toFixed(2)} s | ${(Math.max(...times) / 1000).toFixed(2)} s |`,
    );
    if (servers > 0) {
      rssTable = [...lastRss.entries()]
        .map(([kind, values]) => `| ${kind} | ${values.length} | ${(median(values) / 1024).toFixed(1)} MiB |`)
        .join('\n');
    }
  }
  const markdown = [
    `Cold start, ${ROUNDS} rounds each (includes mariadb-install-db, TLS certificate, readiness waits):`,
    '',
    '| topology | median | min | max |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    'Resident memory per process (full topology, just after start):',
    '',
    '| process | count | median RSS |',
    '| --- | --- | --- |',
    rssTable,
  ].join('\n');
  return { title: 'Cluster start', markdown };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log((await run()).markdown);
}
