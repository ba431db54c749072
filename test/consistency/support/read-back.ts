import type { Cluster } from '@rwsplit/cluster';
import type { Queryable, Router } from '@rwsplit/router';
import type { RowDataPacket } from 'mysql2';
import { until } from './wait.js';

/**
 * The staleness checker. Every pair writes a row with a fresh id, then reads it back; the read returns the
 * answering node's server_id and whether the row was there, in one statement so both describe the same
 * snapshot. A read that misses its own row is stale; nothing else is.
 */
export const PAIRS_DDL = 'CREATE TABLE app.pairs (id BIGINT PRIMARY KEY, origin VARCHAR(32) NOT NULL)';
export const INSERT_PAIR = 'INSERT INTO pairs (id, origin) VALUES (?, ?)';
// An aggregate without GROUP BY always returns one row, so the server_id comes back even when the row does not.
export const READ_PAIR = 'SELECT @@server_id AS sid, COUNT(*) AS n FROM pairs WHERE id = ?';

export type SessionOptions = NonNullable<Parameters<Router['session']>[0]>;

export interface ReadBack {
  readonly serverId: number;
  readonly found: boolean;
}

/** Hands out ids that no other pair in this process used. */
export function idSequence(start = 1): () => number {
  let next = start;
  return () => next++;
}

export function parseReadBack(rows: unknown): ReadBack {
  const row = (rows as RowDataPacket[])[0];
  const serverId = Number(row?.sid);
  const count = Number(row?.n);
  if (!Number.isInteger(serverId) || !Number.isInteger(count)) {
    throw new Error(`unexpected read-back result ${JSON.stringify(rows)}`);
  }
  return { serverId, found: count === 1 };
}

export async function readPair(db: Pick<Queryable, 'query'>, id: number): Promise<ReadBack> {
  const [rows] = await db.query<RowDataPacket[]>(READ_PAIR, [id]);
  return parseReadBack(rows);
}

/** One pair in one fresh session (read-your-writes scope): write, read back, release. */
export async function writeThenRead(db: Router, id: number, options: SessionOptions = {}): Promise<ReadBack> {
  const session = db.session(options);
  try {
    await session.execute(INSERT_PAIR, [id, 'session']);
    return await readPair(session, id);
  } finally {
    session.release();
  }
}

/** Waits until every replica of the cluster has applied pair `id` (root, over the local socket). */
export async function appliedEverywhere(cluster: Cluster, id: number, timeoutMs = 15_000): Promise<void> {
  for (const replica of cluster.replicas()) {
    await until(
      async () => (await replica.query('SELECT id FROM app.pairs WHERE id = ?', [id])).length === 1,
      {
        timeoutMs,
        what: `pair ${id} on ${replica.name}`,
      },
    );
  }
}

/** Counts reads, stale reads, and which node served them. */
export class Tally {
  total = 0;
  stale = 0;
  readonly byServer = new Map<number, { reads: number; stale: number }>();

  add(read: ReadBack): void {
    this.total++;
    if (!read.found) this.stale++;
    const entry = this.byServer.get(read.serverId) ?? { reads: 0, stale: 0 };
    entry.reads++;
    if (!read.found) entry.stale++;
    this.byServer.set(read.serverId, entry);
  }

  /** Reads served by nodes other than `primaryServerId`. */
  servedByReplicas(primaryServerId: number): number {
    let reads = 0;
    for (const [id, entry] of this.byServer) if (id !== primaryServerId) reads += entry.reads;
    return reads;
  }

  /** Stale reads served by `serverId`. */
  staleOn(serverId: number): number {
    return this.byServer.get(serverId)?.stale ?? 0;
  }

  describe(cluster: Cluster): string {
    const names = new Map(cluster.dbNodes.map((node) => [node.serverId, node.name]));
    const parts = [...this.byServer.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, e]) => `${names.get(id) ?? `server ${id}`} ${e.reads} (${e.stale} stale)`);
    return `${this.total} reads, ${this.stale} stale; served by ${parts.join(', ')}`;
  }
}
