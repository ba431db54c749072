import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRouter, type Router } from '@rwsplit/router';
import { pino } from 'pino';
import { type AppOptions, createApp } from '../../src/app.js';
import { LagHistory } from '../../src/dashboard/lag-history.js';
import { AppMetrics } from '../../src/metrics.js';
import { Readiness } from '../../src/readiness.js';

/** The app on a real HTTP server on 127.0.0.1, its database unreachable, every log line kept. */
export interface StartedApp {
  /** The app's database router (its nodes unreachable, unmonitored): tests may stub its `topology()`. */
  readonly db: Router;
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Every line the app logged, parsed; tests may empty it. */
  readonly lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

export type StartAppOptions = Partial<Pick<AppOptions, 'requestBodyTimeoutMs' | 'bodyLimit' | 'alerts'>>;

export async function startApp(options: StartAppOptions = {}): Promise<StartedApp> {
  const metrics = new AppMetrics();
  // Nothing listens on port 1: every statement fails at once (a 503), and nothing here needs a database.
  const db: Router = createRouter({
    primary: { host: '127.0.0.1', port: 1, name: 'db-primary' },
    replicas: [{ host: '127.0.0.1', port: 1, name: 'db-replica-1' }],
    connection: { user: 'app', password: 'x', database: 'notes' },
    pool: { connectTimeoutMs: 300 },
    monitor: false,
    meterProvider: metrics.meterProvider,
  });
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const app = createApp({
    db,
    logger,
    readiness: new Readiness(),
    metrics,
    lagHistory: new LagHistory(),
    ...options,
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    db,
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    lines,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await db.close();
      await metrics.shutdown();
    },
  };
}

/** Waits (bounded) until `predicate` holds for the log, e.g. for the line 'finish' writes after the answer. */
export async function waitForLines(
  app: StartedApp,
  predicate: (lines: readonly Record<string, unknown>[]) => boolean,
  timeoutMs = 2_000,
): Promise<readonly Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(app.lines) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return app.lines;
}

/** The lines above warn, or carrying an error object or a stack: what a client's mistake must never log. */
export function loudLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter(
    (line) =>
      typeof line.level !== 'number' ||
      line.level > 40 ||
      'err' in line ||
      JSON.stringify(line).includes('"stack"'),
  );
}
