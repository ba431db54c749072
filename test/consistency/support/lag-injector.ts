import type { Cluster, DbNode } from '@rwsplit/cluster';
import mysql from 'mysql2/promise';
import { sleep } from './wait.js';

/** A TCP connection as the cluster's admin account (a lock needs one session that stays open). */
export function adminConnection(cluster: Cluster, node: DbNode): Promise<mysql.Connection> {
  const { user, password } = cluster.credentials.admin;
  const { ssl } = cluster.credentials.app;
  return mysql.createConnection({ host: node.host, port: node.port, user, password, database: 'app', ssl });
}

/**
 * Sub-second lag, which MASTER_DELAY (whole seconds) cannot give: an admin session on the replica holds
 * FLUSH TABLES WITH READ LOCK for `peakMs`, which stalls the SQL thread's commits while both replication
 * threads keep running (the monitor sees a replica that is behind, not a stopped one); then it unlocks,
 * lets the replica catch up to where the primary was at the unlock, and locks again. A write waits
 * 0..peakMs (plus the catch-up) before the replica has it: a sawtooth; `visibilityDelays` measures it.
 */
export class LagInjector {
  private running = true;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly onReplica: mysql.Connection,
    private readonly onPrimary: mysql.Connection,
    peakMs: number,
  ) {
    this.loop = this.run(peakMs);
    // stop() reports a failure; until then, do not let it go unhandled.
    this.loop.catch(() => {});
  }

  static async start(cluster: Cluster, replica: DbNode, peakMs: number): Promise<LagInjector> {
    const onReplica = await adminConnection(cluster, replica);
    const onPrimary = await adminConnection(cluster, cluster.primary());
    return new LagInjector(onReplica, onPrimary, peakMs);
  }

  private async run(peakMs: number): Promise<void> {
    while (this.running) {
      await this.onReplica.query('FLUSH TABLES WITH READ LOCK');
      await sleep(peakMs);
      const [rows] = await this.onPrimary.query<mysql.RowDataPacket[]>(
        'SELECT @@GLOBAL.gtid_binlog_pos AS pos',
      );
      await this.onReplica.query('UNLOCK TABLES');
      await this.onReplica.query('SELECT MASTER_GTID_WAIT(?, 1)', [String(rows[0]?.pos ?? '')]);
    }
  }

  /** Stops the cycle; the replica is unlocked and the connections closed, even if the cycle failed. */
  async stop(): Promise<void> {
    this.running = false;
    try {
      await this.loop;
    } finally {
      await this.onReplica.query('UNLOCK TABLES').catch(() => {});
      await this.onReplica.end().catch(() => {});
      await this.onPrimary.end().catch(() => {});
    }
  }
}

/**
 * How long after a commit the replica has it, `samples` times (ms): commit on the primary, then
 * MASTER_GTID_WAIT for its GTID on the replica. Includes one local round trip.
 */
export async function visibilityDelays(
  cluster: Cluster,
  replica: DbNode,
  samples: number,
): Promise<number[]> {
  const primary = await adminConnection(cluster, cluster.primary());
  const onReplica = await adminConnection(cluster, replica);
  try {
    const delays: number[] = [];
    for (let i = 0; i < samples; i++) {
      await primary.query('INSERT INTO ticks (at) VALUES (?)', [Date.now()]);
      const committed = performance.now();
      const [rows] = await primary.query<mysql.RowDataPacket[]>('SELECT @@SESSION.last_gtid AS gtid');
      await onReplica.query('SELECT MASTER_GTID_WAIT(?, 5)', [String(rows[0]?.gtid ?? '')]);
      delays.push(performance.now() - committed);
      // Uneven gaps, so the samples land all over the sawtooth.
      await sleep(7 + (i % 5) * 11);
    }
    return delays;
  } finally {
    await primary.end();
    await onReplica.end();
  }
}
