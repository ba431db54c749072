import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRouter } from '@rwsplit/router';
import { pino } from 'pino';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { AlertFeed } from './dashboard/firing-alerts.js';
import { LagHistory } from './dashboard/lag-history.js';
import { AppMetrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { migrate } from './schema.js';
import { gracefulShutdown } from './shutdown.js';

function config() {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`notes-app: ${error.message}\n`);
    process.exit(2);
  }
}

const cfg = config();
const logger = pino({ level: cfg.logLevel, base: { server: cfg.serverName } });

const metrics = new AppMetrics();
const db = createRouter({
  primary: { ...cfg.primary, name: 'db-primary' },
  replicas: cfg.replicas.map((replica, index) => ({ ...replica, name: `db-replica-${index + 1}` })),
  connection: {
    user: cfg.user,
    password: cfg.password,
    database: cfg.database,
    ...(cfg.sslCaFile === undefined ? {} : { ssl: { ca: readFileSync(cfg.sslCaFile, 'utf8') } }),
  },
  monitor: { user: cfg.monitorUser, password: cfg.monitorPassword },
  meterProvider: metrics.meterProvider,
  // A stalled database node must never hold a request past what Nginx and HAProxy wait for (30 s) or what a
  // person waits for: a read gets 1 s per node and 2.5 s in all (its one retry goes elsewhere), a write 5 s.
  timeouts: { readMs: 1_000, readTotalMs: 2_500, writeMs: 5_000 },
  pool: { connectTimeoutMs: 1_000, acquireTimeoutMs: 1_000 },
  ...(cfg.lagMaxMs === undefined ? {} : { lag: { maxMs: cfg.lagMaxMs } }),
});
const lagHistory = new LagHistory();
lagHistory.start(() => db.topology());

const readiness = new Readiness();
const server = createServer(
  createApp({
    db,
    logger,
    readiness,
    serverName: cfg.serverName,
    requestBodyTimeoutMs: cfg.requestBodyTimeoutMs,
    metrics,
    lagHistory,
    alerts: new AlertFeed({ url: cfg.alertmanagerUrl, auth: cfg.alertmanagerAuth }),
  }),
);
// Longer than Nginx's upstream keepalive_timeout (30 s), so Nginx, not the app, closes idle connections
// and never sends a request on a connection the app is closing.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const shutdown = gracefulShutdown({
  server,
  readiness,
  logger,
  closeDb: async () => {
    lagHistory.stop();
    await db.close();
    await metrics.shutdown();
  },
});
process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal));

try {
  await migrate(db);
  await db.ready();
} catch (error) {
  logger.fatal({ err: error }, 'database not usable at start');
  await db.close();
  process.exit(1);
}

server.listen(cfg.port, cfg.host, () => {
  logger.info({ host: cfg.host, port: cfg.port, primary: cfg.primary, replicas: cfg.replicas }, 'listening');
});
