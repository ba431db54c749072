// The chaos table (#15): each fault once under a bounded mixed load through the floating address of the
// netns stack, the same runner as test/netns/chaos.test.ts. Numbers for bench/results, not a timed test.
import { startCluster } from '@rwsplit/cluster';
import { CHAOS_ROWS, type ChaosResult, chaosTable, runChaosRow } from '../test/netns/support/chaos.js';
import { NOTES_APP } from '../test/support/notes-app.js';

interface BenchResult {
  readonly title: string;
  readonly markdown: string;
}

export async function run(): Promise<BenchResult> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    return { title: 'Chaos table', markdown: 'Skipped: the netns stack needs root on Linux.' };
  }
  const cluster = await startCluster({
    hosts: 'netns',
    servers: 2,
    replicas: 1,
    app: NOTES_APP,
    monitoring: false,
  });
  const results: ChaosResult[] = [];
  try {
    for (const row of CHAOS_ROWS) {
      const result = await runChaosRow(cluster, row);
      results.push(result);
      console.log(JSON.stringify(result));
    }
  } finally {
    await cluster.stop();
  }
  return {
    title: 'Chaos table (netns stack: LB pair, 2 servers, primary + 1 replica, failover managers)',
    markdown: [
      'Per row: 1.5 s of load, the fault for 3 s, the undo, 3 s more. Load: two writers (POST a note, read it',
      'back with their consistency cookie: a 404 there is a stale read) and two readers (list, no cookie),',
      'each request on a fresh connection through the floating address, 5 s timeout. "Longest outage" is the',
      'longest time no client got any answer; "recovered" the time from the undo to the last failure after it.',
      '',
      chaosTable(results),
    ].join('\n'),
  };
}
