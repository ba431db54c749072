import type { DriverConnection } from './driver.js';
import { TIMED_OUT, withinMs } from './within.js';

/**
 * One node's connection for administrative statements (KILL QUERY of a statement past its deadline).
 * Never a pooled connection: the pool may be exhausted by the very statements being cancelled. Opened on
 * first use, reopened after it fails; every statement is bounded by `boundMs`, and a node that does not
 * answer within it is left alone (the cancellation is best effort: the statement's own connection is
 * destroyed anyway).
 */
export class ControlConnection {
  private connection: Promise<DriverConnection> | undefined;

  constructor(
    private readonly connect: () => Promise<DriverConnection>,
    private readonly boundMs: number,
  ) {}

  /** Runs `sql`; true if the server answered in time. Never throws. */
  async run(sql: string, values: readonly unknown[]): Promise<boolean> {
    try {
      if (this.connection === undefined) {
        const opening: Promise<DriverConnection> = this.connect().then((connection) => {
          // Only this connection's own end closes it: an old one's late 'end' must not close its successor.
          const closeThis = () => {
            if (this.connection === opening) this.close();
          };
          connection.on('error', closeThis);
          connection.on('end', closeThis);
          return connection;
        });
        this.connection = opening;
      }
      const connection = await this.connection;
      if ((await withinMs(connection.query(sql, values), this.boundMs)) !== TIMED_OUT) return true;
    } catch {
      // Failed: closed below, reopened by the next run.
    }
    this.close();
    return false;
  }

  /** Closes it (a later `run` opens a new one). */
  close(): void {
    const pending = this.connection;
    this.connection = undefined;
    void pending?.then(
      (connection) => connection.destroy(),
      () => {},
    );
  }
}
