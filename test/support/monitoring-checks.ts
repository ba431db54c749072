// What the monitoring suites assert about scraping, shared by the runtimes (native processes, docker
// containers): Prometheus has every part of the topology as a target, and every target is up.
import type { Cluster } from '@rwsplit/cluster';
import { expect } from 'vitest';
import { until } from '../consistency/support/wait.js';

/** The scrape targets of a cluster with an LB, two servers, two managers, a primary and a replica. */
export const FULL_TOPOLOGY_TARGETS = [
  'haproxy/lb',
  'app/server-1',
  'app/server-2',
  'nginx/server-1',
  'nginx/server-2',
  'failover/manager-1',
  'failover/manager-2',
  'mysqld/db-primary',
  'mysqld/db-replica-1',
  'node/monitoring',
] as const;

/** Waits (30 s at most) until every target Prometheus has is up, then checks the expected ones are among them. */
export async function expectEveryPartScraped(cluster: Cluster, expected: readonly string[]): Promise<void> {
  const { value: targets } = await until(
    async () => {
      const all = await cluster.monitoring.targets();
      const health = Object.values(all);
      return health.length >= expected.length && health.every((h) => h === 'up') ? all : undefined;
    },
    { what: 'every scrape target up', timeoutMs: 30_000, pollMs: 250 },
  );
  expect(Object.keys(targets).sort()).toEqual(expect.arrayContaining([...expected]));
}
