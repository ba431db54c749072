// The chaos table on the netns stack (the bench of the same name writes it to bench/results): every fault
// the issue lists, one at a time, under reads and cookie-carrying writes through the floating address.
// Asserted for every row: no acknowledged write lost or doubled, no stale read with the cookie. Failed
// requests, outages and recovery times are printed, per row.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTES_APP } from '../support/notes-app.js';
import { CHAOS_ROWS, type ChaosResult, chaosTable, runChaosRow } from './support/chaos.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

let cluster: Cluster;
const results: ChaosResult[] = [];

beforeAll(async () => {
  if (!asRoot) return;
  cluster = await startCluster({
    hosts: 'netns',
    servers: 2,
    replicas: 1,
    app: NOTES_APP,
    monitoring: false,
  });
}, 180_000);

afterAll(async () => {
  if (results.length > 0)
    console.log(`chaos table (netns stack, 2 servers, 1 replica):\n${chaosTable(results)}`);
  await cluster?.stop();
}, 120_000);

describe.skipIf(!asRoot)('the chaos table', () => {
  for (const row of CHAOS_ROWS) {
    it(`${row.name}: no acknowledged write lost or doubled, no stale read with the cookie`, async () => {
      const result = await runChaosRow(cluster, row);
      results.push(result);
      console.log(`chaos ${JSON.stringify(result)}`);
      expect(result.acknowledgedWrites).toBeGreaterThan(0);
      expect({ lost: result.lostWrites, doubled: result.doubledWrites, stale: result.staleReads }).toEqual({
        lost: 0,
        doubled: 0,
        stale: 0,
      });
    }, 90_000);
  }
});
