import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { DB_NODE_HEADER } from './db-node.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * What `requestLogging` keeps for the rest of the request. It lives in `res.locals`, not on `req`:
 * Express gives every request's `req` and `res` a new prototype, and a property added to such an
 * object costs microseconds on Node 20, where `res.locals` is a plain dictionary.
 */
interface RequestLocals {
  requestId?: string;
  log?: Logger;
}

/**
 * Takes the request id HAProxy set (`X-Request-ID`), or makes one; starts every response as
 * `X-DB-Node: none` (a read names its node later); logs one line per request when it finishes.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ reqId: id });
    const locals = res.locals as RequestLocals;
    locals.requestId = id;
    locals.log = log;
    res.setHeader('X-Request-ID', id);
    res.setHeader(DB_NODE_HEADER, 'none');
    const started = process.hrtime.bigint();
    // 'finish' comes once per response: `on` spares the wrapper `once` builds per request.
    res.on('finish', () => {
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

/** The request's logger (its lines carry `reqId`), or `fallback` before `requestLogging` ran. */
export function requestLog(res: Response, fallback: Logger): Logger {
  return (res.locals as RequestLocals).log ?? fallback;
}
