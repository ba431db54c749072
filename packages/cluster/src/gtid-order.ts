import { mariadbGtid } from '@rwsplit/router/replication';
import type { MariaDbNode } from './mariadb-node.js';

/** How far a node has got: what it committed (binlog) and, for a replica, what it received besides. */
async function reached(node: MariaDbNode): Promise<mariadbGtid.MariaDbGtidList> {
  const [row] = await node.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  const [status] = await node.query('SHOW SLAVE STATUS');
  const committed = mariadbGtid.parse(String(row?.pos ?? ''));
  const received = mariadbGtid.parse(String(status?.Gtid_IO_Pos ?? ''));
  return mariadbGtid.merge(committed.ok ? committed.value : [], received.ok ? received.value : []);
}

/**
 * The node that has got furthest (by GTID seq per domain, received included), or undefined for none.
 * On a tie the earlier one in `nodes` wins; nodes with crossed positions keep the earlier one too.
 */
export async function mostAdvanced(nodes: readonly MariaDbNode[]): Promise<MariaDbNode | undefined> {
  let best: { node: MariaDbNode; at: mariadbGtid.MariaDbGtidList } | undefined;
  for (const node of nodes) {
    const at = await reached(node);
    if (best === undefined || (mariadbGtid.covers(at, best.at) && !mariadbGtid.covers(best.at, at)))
      best = { node, at };
  }
  return best?.node;
}

/** Whether `a` has got strictly further than `b`. */
export async function isAhead(a: MariaDbNode, b: MariaDbNode): Promise<boolean> {
  const [x, y] = await Promise.all([reached(a), reached(b)]);
  return mariadbGtid.covers(x, y) && !mariadbGtid.covers(y, x);
}
