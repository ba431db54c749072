import type { DbNode } from '@rwsplit/cluster';
import { sleep } from './wait.js';

/**
 * Writes flowing in the background, and a lag measure that does not trust the router: every 50 ms a row
 * stamped with the wall clock goes into the primary; a replica's data lag is now minus the newest stamp
 * it has applied (same host, same clock). Resolution: the tick spacing.
 */
export const TICKS_DDL = 'CREATE TABLE app.ticks (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT NOT NULL)';

export class TickWriter {
  written = 0;
  failures = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  /** `primary` is asked for the node on every tick, so a writer can follow a promotion. */
  constructor(
    private readonly primary: () => DbNode,
    private readonly everyMs = 50,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.primary().query('INSERT INTO app.ticks (at) VALUES (?)', [Date.now()]);
        this.written++;
      } catch {
        this.failures++;
      }
      await sleep(this.everyMs);
    }
  }
}

/** How far behind the primary's writes the replica's data is, in ms. */
export async function dataLagMs(replica: DbNode): Promise<number> {
  const [row] = await replica.query('SELECT MAX(at) AS at FROM app.ticks');
  const newest = Number(row?.at);
  if (!Number.isFinite(newest) || newest <= 0) throw new Error(`no ticks on ${replica.name} yet`);
  return Date.now() - newest;
}
