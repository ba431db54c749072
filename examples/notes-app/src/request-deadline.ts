import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { RequestBodyTimeoutError, toErrorResponse } from './errors.js';
import { requestLog } from './request-log.js';

/** `requestBodyDeadline`'s default bound, in ms: a 1 MB body needs only 0.8 Mbit/s to make it. */
export const DEFAULT_REQUEST_BODY_TIMEOUT_MS = 10_000;

/**
 * The longest bound a timer can take: Node fires a longer `setTimeout` after 1 ms (with a warning), which
 * would cut every body off at once.
 */
export const MAX_REQUEST_BODY_TIMEOUT_MS = 2_147_483_647;

/** A non-zero Content-Length or any Transfer-Encoding (chunked): the only requests that carry a body. */
function declaresBody(req: IncomingMessage): boolean {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * The deadline passed with the body still arriving. Before anything was answered: 408 with
 * `Connection: close`. In every case the socket is destroyed once the answer is out, so a client this slow
 * holds nothing of this server; the body parser then fails with 'request.aborted', which the error
 * handler, seeing the answer sent, ignores.
 */
function expire(req: Request, res: Response, timeoutMs: number, logger: Logger): void {
  if (req.complete) return;
  requestLog(res, logger).warn({ timeoutMs }, 'request body too slow: closing the connection');
  const socket = req.socket;
  if (res.writableFinished) {
    // Answered before the body was read (a 404 for a POST, say): Node keeps reading it to reuse the
    // connection, for as long as the client takes.
    socket.destroy();
    return;
  }
  res.once('finish', () => socket.destroy());
  if (res.headersSent) return;
  const answer = toErrorResponse(new RequestBodyTimeoutError(timeoutMs));
  res.status(answer.status).set(answer.headers).set('Connection', 'close').json(answer.body);
}

/**
 * Bounds the time from a request's arrival (this middleware runs as soon as Express has its headers) to
 * the last byte of its body. Nginx's and HAProxy's body timeouts measure idle time between reads, so a
 * body sent a byte every few seconds would otherwise hold a connection, and the parser waiting on it,
 * for as long as the client likes. Requests without a body (GET, HEAD, Content-Length: 0) arm no timer:
 * `req.complete` is still false when middleware runs even for them, so the headers decide.
 */
export function requestBodyDeadline(
  logger: Logger,
  timeoutMs: number = DEFAULT_REQUEST_BODY_TIMEOUT_MS,
): RequestHandler {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_REQUEST_BODY_TIMEOUT_MS) {
    throw new RangeError(
      `requestBodyDeadline: timeoutMs must be a whole number of ms from 1 to ${MAX_REQUEST_BODY_TIMEOUT_MS}, got ${timeoutMs}`,
    );
  }
  return (req, res, next) => {
    if (req.complete || !declaresBody(req)) {
      next();
      return;
    }
    const timer = setTimeout(expire, timeoutMs, req, res, timeoutMs, logger);
    const disarm = () => clearTimeout(timer);
    // 'end' when the body is all in, read or not (Node drains an unread one after the response);
    // 'close' when the connection went first.
    req.once('end', disarm);
    req.once('close', disarm);
    next();
  };
}
