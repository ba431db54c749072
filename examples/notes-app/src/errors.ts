import { RwsplitError } from '@rwsplit/router';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { requestLog } from './request-log.js';

/** An error that already knows its HTTP answer. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(message = 'Not found') {
    super(404, 'not_found', message);
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

/** body-parser's errors carry `type` and `status`. */
function bodyParserError(error: unknown): { type: string; status: number } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status } = error as { type?: unknown; status?: unknown };
  return typeof type === 'string' && typeof status === 'number' ? { type, status } : undefined;
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
  const parser = bodyParserError(error);
  if (parser?.type === 'entity.too.large')
    return response(413, 'payload_too_large', 'The request body is too large');
  if (parser?.type === 'entity.parse.failed')
    return response(400, 'malformed_json', 'The request body is not valid JSON');
  if (parser !== undefined && parser.status >= 400 && parser.status < 500)
    return response(parser.status, 'bad_request', 'The request body could not be read');
  return response(500, 'internal_error', 'Internal server error');
}

/** Express error middleware: logs server-side failures with their stack, answers with `toErrorResponse`. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const answer = toErrorResponse(error);
    if (answer.status >= 500) requestLog(res, logger).error({ err: error }, 'request failed');
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
