import { RwsplitError } from '@rwsplit/router';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { bodyRejection } from './body-errors.js';
import { requestLog } from './request-log.js';

/** An error that already knows its HTTP answer. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(message = 'Not found') {
    super(404, 'not_found', message);
  }
}

/** The body did not arrive in time (see `request-deadline.ts`); the connection closes after this answer. */
export class RequestBodyTimeoutError extends HttpError {
  override name = 'RequestBodyTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(
      408,
      'request_timeout',
      `The request body did not arrive within ${timeoutMs} ms; send it in one go, then retry`,
    );
  }
}

/** The JSON body and headers of an error response. Never carries a stack trace or SQL text. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: { code: string; message: string; details?: unknown } };
}

function response(
  status: number,
  code: string,
  message: string,
  details?: unknown,
  headers = {},
): ErrorResponse {
  return {
    status,
    headers,
    body: { error: details === undefined ? { code, message } : { code, message, details } },
  };
}

/** Maps any error a handler throws to the HTTP answer. Unknown errors become a generic 500. */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof HttpError) return response(error.status, error.code, error.message, error.details);
  if (error instanceof ZodError) {
    const details = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    return response(400, 'validation_failed', 'The request is invalid', details);
  }
  if (error instanceof RwsplitError) {
    if (error.retryable)
      return response(
        503,
        'database_unavailable',
        'The database is briefly unavailable; retry shortly',
        undefined,
        {
          'Retry-After': '1',
        },
      );
    if (error.code === 'RWSPLIT_WRITE_OUTCOME_UNKNOWN' || error.code === 'RWSPLIT_TRANSACTION_UNKNOWN') {
      // Not a retry-me 503: the write may have been applied, so the client must look before it repeats it.
      return response(
        500,
        'outcome_unknown',
        'The write may or may not have been applied; check before retrying',
      );
    }
    return response(500, 'internal_error', 'Internal server error');
  }
  const rejected = bodyRejection(error);
  if (rejected !== undefined) return response(rejected.status, rejected.code, rejected.message);
  return response(500, 'internal_error', 'Internal server error');
}

/**
 * Express error middleware: answers with `toErrorResponse`. Server-side failures are logged with their
 * stack; a body the client got wrong gets one info line naming what was wrong with it, never a stack.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const answer = toErrorResponse(error);
    if (answer.status >= 500) requestLog(res, logger).error({ err: error }, 'request failed');
    if (res.headersSent) {
      // Already answered: typically the body deadline's 408, after which the parser, its socket destroyed,
      // fails with 'request.aborted'. Not passed on with next(): Express's fallback handler would print the
      // stack to stderr. A response cut off half-way is destroyed so the client cannot take it as whole.
      if (!res.writableEnded) res.destroy();
      return;
    }
    const rejected = answer.status < 500 ? bodyRejection(error) : undefined;
    if (rejected !== undefined)
      requestLog(res, logger).info({ code: rejected.code, cause: rejected.cause }, 'request body rejected');
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
}

/** The last route: anything no route matched. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `No route for ${req.method} ${req.path}` } });
};

/** POST/PATCH bodies must be JSON. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json'))
    next(new HttpError(415, 'unsupported_media_type', 'Send the body as application/json'));
  else next();
};
