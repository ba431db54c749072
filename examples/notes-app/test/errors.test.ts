import { PrimaryUnavailableError, WriteOutcomeUnknownError } from '@rwsplit/router';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpError, NotFoundError, toErrorResponse } from '../src/errors.js';

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
});
