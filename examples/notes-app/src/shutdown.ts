import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Readiness } from './readiness.js';

export interface ShutdownOptions {
  readonly server: Server;
  readonly readiness: Readiness;
  readonly logger: Logger;
  /** Closes the database router last. */
  readonly closeDb: () => Promise<void>;
  /**
   * How long to keep serving after `/readyz` turns 503, so HAProxy sees it fail before the port
   * closes: its check runs every 300 ms and needs 3 failures. Default: `1500` ms.
   */
  readonly drainDelayMs?: number;
  /** Exit anyway after this long. Default: `10000` ms. */
  readonly hardCapMs?: number;
  readonly exit?: (code: number) => void;
}

/**
 * Graceful stop: readiness false at once, wait for the load balancer to notice, stop accepting, let
 * in-flight requests finish (idle keep-alive connections close now), close the router, exit 0.
 * Returns the function to call on SIGTERM; calling it twice does nothing more.
 */
export function gracefulShutdown(options: ShutdownOptions): (signal: string) => Promise<void> {
  const { server, readiness, logger, closeDb } = options;
  const drainDelayMs = options.drainDelayMs ?? 1500;
  const hardCapMs = options.hardCapMs ?? 10_000;
  const exitProcess = options.exit ?? ((code: number) => process.exit(code));
  let started = false;
  let exited = false;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    exitProcess(code);
  };

  return async (signal) => {
    if (started) return;
    started = true;
    readiness.drain();
    logger.info({ signal, drainDelayMs }, 'shutting down: readiness now false');
    const cap = setTimeout(() => {
      logger.error({ hardCapMs }, 'shutdown took too long, exiting');
      server.closeAllConnections();
      exit(1);
    }, hardCapMs);
    cap.unref();
    try {
      await sleep(drainDelayMs);
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeIdleConnections();
      await closed;
      await closeDb();
      logger.info('shutdown complete');
      clearTimeout(cap);
      exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      clearTimeout(cap);
      exit(1);
    }
  };
}
