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
  /** The request's child logger, made on first use: most requests only write their one line. */
  log?: Logger;
}

/**
 * Takes the request id HAProxy set (`X-Request-ID`), or makes one; starts every response as
 * `X-DB-Node: none` (a read names its node later); logs one line per request when it finishes. The
 * line carries `reqId` like every line of the request's child logger, without making that logger for
 * the requests that log nothing else (a pino child serialises its bindings when it is made).
 */
export function requestLogging(
  logger: Logger,
  onFinished?: (method: string, status: number, ms: number) => void,
): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    (res.locals as RequestLocals).requestId = id;
    res.setHeader('X-Request-ID', id);
    res.setHeader(DB_NODE_HEADER, 'none');
    // performance.now(), not process.hrtime.bigint(): no BigInt per reading, and the line keeps ms anyway.
    const started = performance.now();
    // 'finish' comes once per response: `on` spares the wrapper `once` builds per request.
    res.on('finish', () => {
      const ms = performance.now() - started;
      onFinished?.(req.method, res.statusCode, ms);
      logger.info(
        {
          reqId: id,
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
  const locals = res.locals as RequestLocals;
  if (locals.log !== undefined) return locals.log;
  if (locals.requestId === undefined) return fallback;
  locals.log = fallback.child({ reqId: locals.requestId });
  return locals.log;
}
