import type { NodeStatus } from '@rwsplit/router';

/** Names the DB node that answered the request's reads; `none` when it made none. */
export const DB_NODE_HEADER = 'X-DB-Node';

/** The column read queries add (`@@report_host AS _node`) so the response can say which node answered. */
export const NODE_COLUMN = '_node';
export const NODE_SELECT = `@@report_host AS ${NODE_COLUMN}`;

/**
 * Maps the `@@report_host` a statement returned to the router's name for that node. The harness sets
 * each server's report-host to its address, which is the `host` the router knows the node by.
 * Falls back to the raw value when no node matches (a host the router was not told about).
 */
export function nodeName(
  reportHost: unknown,
  topology: readonly Pick<NodeStatus, 'name' | 'host'>[],
): string | undefined {
  if (typeof reportHost !== 'string' || reportHost === '') return undefined;
  return topology.find((node) => node.host === reportHost)?.name ?? reportHost;
}

/** Removes the node column from a row and returns it. */
export function takeNode(row: Record<string, unknown>): unknown {
  const value = row[NODE_COLUMN];
  delete row[NODE_COLUMN];
  return value;
}
