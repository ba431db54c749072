import type { Cluster, DbNode } from '@rwsplit/cluster';
import { createRouter, type Router, type RouterConfig } from '@rwsplit/router';
import { nodeConfig } from '../support/cluster-nodes.js';

export { serverId } from '../support/cluster-nodes.js';

/** A router over a harness cluster: its primary and every replica, with the app account. */
export function routerFor(cluster: Cluster, options: Partial<RouterConfig> = {}): Router {
  return createRouter({
    primary: nodeConfig(cluster.primary()),
    replicas: cluster.replicas().map(nodeConfig),
    connection: cluster.credentials.app,
    // The monitor's own account can read replication status (the app account cannot).
    monitor: { ...cluster.credentials.monitor },
    ...options,
  });
}

/** Polls `check` until it holds (errors count as "not yet"), or fails after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Waits until a table created on the primary has replicated to `replica`. */
export async function replicated(replica: DbNode, table: string): Promise<void> {
  await eventually(
    async () => (await replica.query(`SHOW TABLES FROM app LIKE '${table}'`)).length === 1,
    15_000,
    `${table} on ${replica.name}`,
  );
}
