import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { PrimaryUnavailableError, WriteOutcomeUnknownError } from '@rwsplit/router';
import type { NextFunction, Request, Response } from 'express';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  errorHandler,
  HttpError,
  NotFoundError,
  RequestBodyTimeoutError,
  toErrorResponse,
} from '../src/errors.js';

/** The error zlib throws for `input`, marked the way body-parser marks every failed read (400, expose). */
function asBodyParserGivesIt(decompress: (input: Buffer) => Buffer, input: Buffer): Error {
  try {
    decompress(input);
  } catch (error) {
    return Object.assign(error as Error, { status: 400, statusCode: 400, expose: true });
  }
  throw new Error('expected the input not to decompress');
}

describe('toErrorResponse', () => {
  it('maps a retryable router error to 503 with Retry-After', () => {
    const answer = toErrorResponse(new PrimaryUnavailableError('db-primary', 'connect refused'));
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({ 'Retry-After': '1' });
    expect(JSON.stringify(answer.body)).not.toContain('db-primary');
  });

  it('says a write of unknown outcome may have been applied, never asking for a blind retry', () => {
    const answer = toErrorResponse(new WriteOutcomeUnknownError('db-primary', 'deadline passed'));
    expect(answer.status).toBe(500);
    expect(answer.headers).toEqual({});
    expect(answer.body.error).toMatchObject({ code: 'outcome_unknown' });
    expect(JSON.stringify(answer.body)).not.toContain('db-primary');
  });

  it('maps other errors to a generic 500 that leaks nothing', () => {
    const answer = toErrorResponse(new Error('ER_NO_SUCH_TABLE: SELECT secret FROM x'));
    expect(answer).toEqual({
      status: 500,
      headers: {},
      body: { error: { code: 'internal_error', message: 'Internal server error' } },
    });
  });

  it('maps zod errors to 400 with the failing paths', () => {
    const result = z.object({ title: z.string() }).safeParse({});
    const answer = toErrorResponse(result.error);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'title' }] });
  });

  it('keeps an HttpError as it is', () => {
    expect(toErrorResponse(new NotFoundError('No note with id 7')).body).toEqual({
      error: { code: 'not_found', message: 'No note with id 7' },
    });
    expect(toErrorResponse(new HttpError(415, 'unsupported_media_type', 'json please')).status).toBe(415);
  });

  it('maps body-parser failures to 413 and 400', () => {
    expect(
      toErrorResponse(Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 })).status,
    ).toBe(413);
    expect(
      toErrorResponse(Object.assign(new Error('x'), { type: 'entity.parse.failed', status: 400 })).status,
    ).toBe(400);
  });

  it('maps what zlib throws for a corrupt gzip, deflate or br body to 400 malformed_body', () => {
    const garbage = Buffer.from('not compressed at all');
    for (const decompress of [gunzipSync, inflateSync, brotliDecompressSync]) {
      const error = asBodyParserGivesIt(decompress, garbage);
      expect(toErrorResponse(error), (error as NodeJS.ErrnoException).code).toMatchObject({
        status: 400,
        body: { error: { code: 'malformed_body' } },
      });
    }
  });

  it('keeps zlib failures of the server, not of the body, as 500', () => {
    const memory = Object.assign(new Error('out of memory'), { code: 'Z_MEM_ERROR', errno: -4 });
    expect(toErrorResponse(memory).status).toBe(500);
  });

  it('maps an unsupported Content-Encoding to 415 and an aborted body to 400', () => {
    const unsupported = Object.assign(new Error('x'), { type: 'encoding.unsupported', status: 415 });
    expect(toErrorResponse(unsupported)).toMatchObject({
      status: 415,
      body: { error: { code: 'unsupported_content_encoding' } },
    });
    const aborted = Object.assign(new Error('x'), { type: 'request.aborted', status: 400 });
    expect(toErrorResponse(aborted).body.error.code).toBe('request_aborted');
  });

  it('answers a body deadline with 408 request_timeout', () => {
    expect(toErrorResponse(new RequestBodyTimeoutError(500))).toMatchObject({
      status: 408,
      body: { error: { code: 'request_timeout' } },
    });
  });
});

describe('errorHandler', () => {
  function answeredResponse(): Response {
    return {
      headersSent: true,
      writableEnded: true,
      locals: {},
      status: vi.fn(),
      json: vi.fn(),
      destroy: vi.fn(),
    } as unknown as Response;
  }

  it('neither answers twice nor passes on the abort the parser reports after the deadline answered', () => {
    const lines: string[] = [];
    const handler = errorHandler(
      pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    );
    const res = answeredResponse();
    const next = vi.fn();
    const aborted = Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 });
    handler(aborted, {} as Request, res, next as NextFunction);
    // next(error) would reach Express's final handler, which prints the stack to stderr.
    expect(next).not.toHaveBeenCalled();
    expect(res.status).not.toHaveBeenCalled();
    expect(res.json).not.toHaveBeenCalled();
    expect(res.destroy).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it('cuts off a response already under way when it then fails, and logs the failure', () => {
    const lines: Record<string, unknown>[] = [];
    const handler = errorHandler(
      pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    );
    const res = Object.assign(answeredResponse(), { writableEnded: false });
    const next = vi.fn();
    handler(new Error('stream broke'), {} as Request, res, next as NextFunction);
    expect(next).not.toHaveBeenCalled();
    expect(res.destroy).toHaveBeenCalled();
    expect(lines).toEqual([expect.objectContaining({ level: 50, msg: 'request failed' })]);
  });
});
