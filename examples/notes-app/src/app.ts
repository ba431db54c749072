import { fileURLToPath } from 'node:url';
import type { Router as DbRouter } from '@rwsplit/router';
import { rwsplitMiddleware } from '@rwsplit/router/express';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AlertFeed } from './dashboard/firing-alerts.js';
import type { LagHistory } from './dashboard/lag-history.js';
import { errorHandler, notFoundHandler } from './errors.js';
import type { AppMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import { DEFAULT_REQUEST_BODY_TIMEOUT_MS, requestBodyDeadline } from './request-deadline.js';
import { requestLogging } from './request-log.js';
import { notesRouter } from './routes/notes.js';
import { internalStatusHandler, type StatusSources, statusRouter } from './routes/status.js';

/** The dashboard's files. Behind the stack Nginx serves them itself; the app serves them when run alone. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

export interface AppOptions {
  readonly db: DbRouter;
  readonly logger: Logger;
  readonly readiness: Readiness;
  /** Largest accepted JSON body. Default: `1mb`. */
  readonly bodyLimit?: string;
  /** Longest time from a request's arrival to the last byte of its body, in ms. Default: 10 000. */
  readonly requestBodyTimeoutMs?: number;
  /** Shown on the dashboard. Default: `server-1`. */
  readonly serverName?: string;
  /** The metrics the router reports into: pass its `meterProvider` to `createRouter`. */
  readonly metrics: AppMetrics;
  /** The replicas' lag over the last minute, for the dashboard; `start()` it with `db.topology`. */
  readonly lagHistory: LagHistory;
  /** Where the dashboard's alerts panel reads the firing alerts (`/internal/alerts`). Default: none. */
  readonly alerts?: AlertFeed;
}

/**
 * `express.json()` for the requests that can carry a body this API reads. GET and HEAD, most of the
 * traffic, skip it: with nothing to parse it still sets `req.body`, a new property on an object whose
 * prototype Express replaced, which costs microseconds on Node 20.
 */
function jsonBodies(limit: string): RequestHandler {
  const parse = express.json({ limit });
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') next();
    else parse(req, res, next);
  };
}

/** Builds the Express app; `main.ts` listens, tests drive it in-process. */
export function createApp({
  db,
  logger,
  readiness,
  bodyLimit = '1mb',
  requestBodyTimeoutMs = DEFAULT_REQUEST_BODY_TIMEOUT_MS,
  serverName = 'server-1',
  metrics,
  lagHistory,
  alerts = new AlertFeed({ url: undefined }),
}: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(requestLogging(logger, metrics.recordRequest));
  // Before anything that reads a body, and after the request log so a 408 is logged with its request id.
  app.use(requestBodyDeadline(logger, requestBodyTimeoutMs));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const { ready, reason } = readiness.check(db.topology());
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', reason });
  });

  const status: StatusSources = {
    serverName,
    topology: () => db.topology(),
    lagHistory,
    collectMetrics: () => metrics.collect(),
  };
  app.use('/api/status', statusRouter(status));
  app.use('/api', jsonBodies(bodyLimit), rwsplitMiddleware(db));
  app.use('/api/notes', notesRouter());

  // Internal only: Nginx answers 404 for these paths, so they are reachable on the app's own address
  // only. Matched exactly: Express's default routing ignores case and a trailing slash, and `/METRICS/`
  // must not become a way around Nginx. Mounted after the API, which shares no path with it, so API
  // requests do not pass through a router of their own first.
  const internal = express.Router({ caseSensitive: true, strict: true });
  internal.get('/metrics', (req, res) => metrics.serve(req, res));
  // The topology with addresses and probe errors, which `/api/status` leaves out.
  internal.get('/internal/status', internalStatusHandler(status));
  // What Alertmanager has firing, for the dashboard's alerts panel: label values name hosts and nodes,
  // so like the detailed status it stays off the public API.
  internal.get('/internal/alerts', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await alerts.current());
  });
  app.use(internal);

  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
