import type { Cluster, DbNode } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import mysql from 'mysql2/promise';

/**
 * Writers at full speed against whatever node takes writes, with a record of every acknowledged write,
 * so a test can count what a failover lost: acknowledged rows missing from the new primary.
 *
 * Rows are `(writer, seq)`, unique per write, in `app.write_load`. A writer that loses its node reconnects to
 * the first node that answers `@@read_only = 0`; a write whose connection failed after it was sent is
 * "in doubt" (it may or may not have been applied): it is not counted as acknowledged.
 */
export const LOAD_DDL =
  'CREATE TABLE IF NOT EXISTS app.write_load (writer INT NOT NULL, seq INT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (writer, seq))';

export interface LoadReport {
  /** Writes the server acknowledged, by writer: `writer:seq`. */
  readonly acknowledged: ReadonlySet<string>;
  /** Writes whose outcome is unknown (the connection broke after sending). */
  readonly inDoubt: number;
  /** Failed attempts (no node, refused, read-only ...). */
  readonly failed: number;
  /** `Date.now()` of each acknowledgement, per writer, to find the first write after a fault. */
  readonly ackTimes: readonly number[];
  /** The last error a write met, for the failure message of a test. */
  readonly lastError: string;
}

export interface WriteLoad {
  /** Stops every writer and resolves to the record. */
  stop(): Promise<LoadReport>;
  /** Resolves with `Date.now()` of the first acknowledgement after `since`. */
  firstAckAfter(since: number, timeoutMs?: number): Promise<number>;
}

/** Writer ids are never reused in a process: a second load on the same table must not collide with the first. */
let nextWriterId = 1;

function writerIds(count: number): number[] {
  return Array.from({ length: count }, () => nextWriterId++);
}

interface Sink {
  acknowledged: Set<string>;
  ackTimes: number[];
  inDoubt: number;
  failed: number;
  lastError: string;
}

function tracker(): { sink: Sink; firstAckAfter: WriteLoad['firstAckAfter'] } {
  const sink: Sink = { acknowledged: new Set(), ackTimes: [], inDoubt: 0, failed: 0, lastError: '' };
  return {
    sink,
    async firstAckAfter(since, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = sink.ackTimes.find((at) => at > since);
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `no write acknowledged within ${timeoutMs} ms after the fault (last error: ${sink.lastError})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

/** Runs one write and records its outcome: acknowledged, in doubt, or failed. False when it did not succeed. */
async function recorded(
  sink: Sink,
  id: number,
  seq: number,
  write: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await write();
    sink.acknowledged.add(`${id}:${seq}`);
    sink.ackTimes.push(Date.now());
    return true;
  } catch (error) {
    sink.lastError = (error as Error).message;
    if (inDoubt(error)) sink.inDoubt++;
    else sink.failed++;
    return false;
  }
}

/** Starts `count` writers (fresh ids) and hands back the load: stopping waits for every writer. */
function startLoad(
  count: number,
  writer: (id: number, running: () => boolean) => Promise<void>,
  { sink, firstAckAfter }: ReturnType<typeof tracker>,
): WriteLoad {
  let running = true;
  const done = Promise.all(writerIds(count).map((id) => writer(id, () => running)));
  return {
    firstAckAfter,
    async stop() {
      running = false;
      await done;
      return sink;
    },
  };
}

function inDoubt(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  // Sent, then the connection went away: the server may have committed it.
  return (
    code === 'PROTOCOL_CONNECTION_LOST' || code === 'ECONNRESET' || code === 'RWSPLIT_WRITE_OUTCOME_UNKNOWN'
  );
}

/** Writers on plain mysql2 connections, each finding the writable node itself. */
export function plainWriters(cluster: Cluster, writers = 4): WriteLoad {
  const track = tracker();
  const { sink } = track;
  const { app } = cluster.credentials;
  const connectWritable = async (): Promise<mysql.Connection | undefined> => {
    for (const node of cluster.dbNodes) {
      if (!node.running || node.paused) continue;
      let connection: mysql.Connection | undefined;
      try {
        connection = await mysql.createConnection({
          host: node.host,
          port: node.port,
          user: app.user,
          password: app.password,
          database: app.database,
          ssl: app.ssl,
          connectTimeout: 500,
        });
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
        if (Number(rows[0]?.ro) === 0) return connection;
        connection.destroy();
      } catch {
        connection?.destroy();
      }
    }
    return undefined;
  };
  const writer = async (id: number, running: () => boolean) => {
    let seq = 0;
    let connection: mysql.Connection | undefined;
    while (running()) {
      connection ??= await connectWritable();
      if (connection === undefined) {
        sink.failed++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      seq++;
      const on = connection;
      const ok = await recorded(sink, id, seq, () =>
        on.query({ sql: 'INSERT INTO write_load (writer, seq, at) VALUES (?, ?, ?)', timeout: 5_000 }, [
          id,
          seq,
          Date.now(),
        ]),
      );
      if (!ok) {
        connection.destroy();
        connection = undefined;
      }
    }
    connection?.destroy();
  };
  return startLoad(writers, writer, track);
}

/** Writers through the router, which follows the writable node itself (its monitor). */
export function routerWriters(db: Router, writers = 4): WriteLoad {
  const track = tracker();
  const writer = async (id: number, running: () => boolean) => {
    let seq = 0;
    while (running()) {
      seq++;
      const ok = await recorded(track.sink, id, seq, () =>
        db.execute('INSERT INTO write_load (writer, seq, at) VALUES (?, ?, ?)', [id, seq, Date.now()]),
      );
      // No node takes writes for a moment: do not spin.
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return startLoad(writers, writer, track);
}

/** Acknowledged rows missing on `node`. */
export async function missingOn(node: DbNode, acknowledged: ReadonlySet<string>): Promise<string[]> {
  const rows = await node.query('SELECT writer, seq FROM app.write_load');
  const present = new Set(rows.map((row) => `${Number(row.writer)}:${Number(row.seq)}`));
  return [...acknowledged].filter((key) => !present.has(key));
}
