import { randomUUID } from 'node:crypto';
import type { Router as DbRouter } from '@rwsplit/router';
import { rwsplitMiddleware } from '@rwsplit/router/express';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { DB_NODE_HEADER, nodeName } from './db-node.js';
import { errorHandler, notFoundHandler } from './errors.js';
import type { Readiness } from './readiness.js';
import { notesRouter } from './routes/notes.js';

export interface AppOptions {
  readonly db: DbRouter;
  readonly logger: Logger;
  readonly readiness: Readiness;
  /** Largest accepted JSON body. Default: `1mb`. */
  readonly bodyLimit?: string;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Takes the request id HAProxy set (`X-Request-ID`), or makes one; logs one line per request. */
function requestLogging(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ reqId: id });
    Object.assign(req, { id, log });
    res.setHeader('X-Request-ID', id);
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        {
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          ms,
          dbNode: res.getHeader(DB_NODE_HEADER),
        },
        'request',
      );
    });
    next();
  };
}

/** Builds the Express app; `main.ts` listens, tests drive it in-process. */
export function createApp({ db, logger, readiness, bodyLimit = '1mb' }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(requestLogging(logger));
  app.use((_req, res, next) => {
    res.setHeader(DB_NODE_HEADER, 'none');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const { ready, reason } = readiness.check(db.topology());
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', reason });
  });

  app.use('/api', express.json({ limit: bodyLimit }), rwsplitMiddleware(db));
  app.use('/api/notes', notesRouter({ nodeOf: (reportHost) => nodeName(reportHost, db.topology()) }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
