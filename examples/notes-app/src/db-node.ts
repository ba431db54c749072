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

/**
 * `nodeName` for every read of a router, each host looked up once: a router's nodes (their names and
 * hosts) are fixed when it is created, only their roles and health change, and `topology()` builds a
 * fresh snapshot on every call.
 */
export function nodeNamer(
  topology: () => readonly Pick<NodeStatus, 'name' | 'host'>[],
): (reportHost: unknown) => string | undefined {
  const names = new Map<string, string | undefined>();
  return (reportHost) => {
    if (typeof reportHost !== 'string' || reportHost === '') return undefined;
    let name = names.get(reportHost);
    if (name === undefined && !names.has(reportHost)) {
      name = nodeName(reportHost, topology());
      names.set(reportHost, name);
    }
    return name;
  };
}

/** The node column of a row (left in place: callers copy the fields they answer with). */
export function reportHostOf(row: Record<string, unknown>): unknown {
  return row[NODE_COLUMN];
}
