import type { Cluster, DbNode } from '@rwsplit/cluster';
import { createRouter, type Queryable, type Router, type RouterConfig } from '@rwsplit/router';
import { nodeConfig, serverId } from '../../support/cluster-nodes.js';
import { until } from './wait.js';

// The monitor settings every consistency test runs with; the bounds the tests assert derive from them.
export const MONITOR_INTERVAL_MS = 250;
export const PROBE_TIMEOUT_MS = 1_000;
export const CONNECT_TIMEOUT_MS = 1_000;
/** A change the monitor must notice: the next round starts within one interval, plus one slow probe. */
export const DETECTION_BOUND_MS = 2 * MONITOR_INTERVAL_MS + PROBE_TIMEOUT_MS;

export type NodeStatus = ReturnType<Router['topology']>[number];

export { nodeConfig, serverId } from '../../support/cluster-nodes.js';

/**
 * A router over the cluster as it is now (its primary and every replica), with the app account, the
 * monitor account and a fast monitor. JSON-safe, so a child process can build the same router.
 */
export function routerConfig(cluster: Cluster, overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    primary: nodeConfig(cluster.primary()),
    replicas: cluster.replicas().map(nodeConfig),
    connection: cluster.credentials.app,
    pool: { max: 10, connectTimeoutMs: CONNECT_TIMEOUT_MS },
    monitor: { intervalMs: MONITOR_INTERVAL_MS, timeoutMs: PROBE_TIMEOUT_MS, ...cluster.credentials.monitor },
    lag: { maxMs: 1_000, readmitAfterMs: 1_000 },
    ...overrides,
  };
}

export function routerFor(cluster: Cluster, overrides: Partial<RouterConfig> = {}): Router {
  return createRouter(routerConfig(cluster, overrides));
}

/** Which nodes answered `count` plain reads, by server_id. */
export async function readTargets(db: Pick<Queryable, 'query'>, count = 40): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(await serverId(db));
  return ids;
}

export function statusOf(db: Router, node: DbNode | string): NodeStatus {
  const name = typeof node === 'string' ? node : node.name;
  const status = db.topology().find((s) => s.name === name);
  if (!status) throw new Error(`${name} is not in the topology: ${describeTopology(db)}`);
  return status;
}

/** One line per node, for failure messages and logs. */
export function describeTopology(db: Router): string {
  return db
    .topology()
    .map(
      (s) =>
        `${s.name}: ${s.role}${s.reachable ? '' : ' unreachable'} lag=${s.lagMs ?? '?'} ${s.inRotation ? 'in' : `out (${s.reason ?? '-'})`}`,
    )
    .join('; ');
}

/** Waits until `predicate` holds for the node's status; resolves with that status and when it was seen. */
export async function untilStatus(
  db: Router,
  node: DbNode,
  predicate: (status: NodeStatus) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<{ value: NodeStatus; at: number }> {
  try {
    return await until(
      () => {
        const status = statusOf(db, node);
        return predicate(status) ? status : undefined;
      },
      { timeoutMs, what: `${node.name} ${what}`, pollMs: 10 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; topology: ${describeTopology(db)}`);
  }
}

/** Waits until a table created on the primary exists on every replica. */
export async function replicatedEverywhere(cluster: Cluster, table: string): Promise<void> {
  for (const replica of cluster.replicas()) {
    await until(async () => (await replica.query(`SHOW TABLES FROM app LIKE '${table}'`)).length === 1, {
      timeoutMs: 15_000,
      what: `${table} on ${replica.name}`,
    });
  }
}
