import type { DbNode } from '@rwsplit/cluster';
import type { Queryable, StatementOptions } from '@rwsplit/router';
import type { RowDataPacket } from 'mysql2';

/** A harness node as the router's configuration names it. */
export function nodeConfig(node: DbNode): { host: string; port: number; name: string } {
  return { host: node.host, port: node.port, name: node.name };
}

/** The server_id of the node that ran the statement: the observable proof of where it was routed. */
export async function serverId(
  db: Pick<Queryable, 'query'>,
  sql = 'SELECT @@server_id AS id',
  options: StatementOptions = {},
): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>(sql, [], options);
  const id = rows[0]?.id;
  if (typeof id !== 'number') throw new Error(`no server id in ${JSON.stringify(rows)}`);
  return id;
}
