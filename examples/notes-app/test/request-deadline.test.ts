import { once } from 'node:events';
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { requestBodyDeadline } from '../src/request-deadline.js';
import { loudLines, type StartedApp, startApp, waitForLines } from './support/app-server.js';
import { parseResponse, trickle } from './support/raw-client.js';

// Short enough to keep the suite fast, long enough that a body sent in one go never comes near it.
const DEADLINE_MS = 500;

let app: StartedApp;

beforeAll(async () => {
  app = await startApp({ requestBodyTimeoutMs: DEADLINE_MS });
});

afterAll(async () => {
  await app.stop();
});

beforeEach(() => {
  app.lines.length = 0;
});

afterEach(() => {
  vi.restoreAllMocks();
});

function postHead(path: string, contentLength: number): string {
  return [
    `POST ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    `Content-Length: ${contentLength}`,
  ].join('\r\n');
}

// Valid JSON the API refuses (an empty title): a `validation_failed` 400 proves the body was read and parsed.
const EMPTY_TITLE = Buffer.from(JSON.stringify({ title: '', body: 'x'.repeat(20) }));

describe('request body deadline', () => {
  it('answers a body sent a byte every 200 ms with 408 JSON at the deadline, then closes the socket', async () => {
    const exchange = await trickle({
      port: app.port,
      head: postHead('/api/notes', EMPTY_TITLE.length),
      body: EMPTY_TITLE,
      intervalMs: 200,
    });
    expect(exchange.closed).toBe(true);
    // Cut off at the deadline, long before the 40-odd bytes would have taken (~8 s).
    expect(exchange.elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(exchange.elapsedMs).toBeLessThan(DEADLINE_MS + 1_000);
    expect(exchange.bodyBytesSent).toBeLessThan(EMPTY_TITLE.length);
    const response = parseResponse(exchange.response);
    expect(response.status).toBe(408);
    expect(response.headers.connection).toBe('close');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'request_timeout', message: expect.stringContaining(`${DEADLINE_MS} ms`) },
    });
  });

  it('logs the slow body as a warning and the parser failing after it not at all', async () => {
    await trickle({
      port: app.port,
      head: postHead('/api/notes', EMPTY_TITLE.length),
      body: EMPTY_TITLE,
      intervalMs: 200,
    });
    // The request line, then give the parser's 'request.aborted' time to reach the error handler.
    const lines = await waitForLines(app, (all) => all.some((line) => line.msg === 'request'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines.map((line) => line.msg)).toEqual([
      'request body too slow: closing the connection',
      'request',
    ]);
    expect(lines[0]).toMatchObject({ level: 40, timeoutMs: DEADLINE_MS });
    expect(lines[1]).toMatchObject({ status: 408, method: 'POST', url: '/api/notes' });
    expect(loudLines(lines)).toEqual([]);
  });

  it('lets a body that arrives in time through, even in pieces', async () => {
    const exchange = await trickle({
      port: app.port,
      head: `${postHead('/api/notes', EMPTY_TITLE.length)}\r\nConnection: close`,
      body: EMPTY_TITLE,
      chunkBytes: 20,
      intervalMs: 50,
    });
    const response = parseResponse(exchange.response);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('leaves a kept-alive connection alone once its body is in, past the deadline', async () => {
    const socket = connect(app.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    await once(socket, 'connect');
    socket.write(`${postHead('/api/notes', EMPTY_TITLE.length)}\r\n\r\n`);
    socket.write(EMPTY_TITLE);
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 200));
    expect(socket.destroyed).toBe(false);
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await once(socket, 'close');
    expect(received.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 400', 'HTTP/1.1 200']);
  });

  it('drops a connection whose body still trickles after an early answer (a 404 for a POST)', async () => {
    const body = Buffer.alloc(40, 0x20);
    const exchange = await trickle({
      port: app.port,
      head: postHead('/nope', body.length),
      body,
      intervalMs: 200,
    });
    expect(parseResponse(exchange.response).status).toBe(404);
    expect(exchange.closed).toBe(true);
    expect(exchange.elapsedMs).toBeLessThan(DEADLINE_MS + 1_000);
    expect(exchange.bodyBytesSent).toBeLessThan(body.length);
  });
});

describe('request body deadline, cost', () => {
  // A delay nothing else in the process uses, so the spy counts only the deadline's timers.
  const ODD_MS = 4_321;
  let spied: StartedApp;

  beforeAll(async () => {
    spied = await startApp({ requestBodyTimeoutMs: ODD_MS });
  });

  afterAll(async () => {
    await spied.stop();
  });

  function deadlineTimers(spy: { mock: { calls: unknown[][] } }): number {
    return spy.mock.calls.filter((call) => call[1] === ODD_MS).length;
  }

  it('arms no timer for a GET, a HEAD or an empty POST', async () => {
    const setTimer = vi.spyOn(globalThis, 'setTimeout');
    expect((await fetch(`${spied.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${spied.base}/healthz`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${spied.base}/nope`, { method: 'POST', body: '' })).status).toBe(404);
    expect(deadlineTimers(setTimer)).toBe(0);
  });

  // The control for the test above: the same spy does see the timer a body arms, and its clearing.
  it('arms one timer for a request with a body and clears it once the body is in', async () => {
    const setTimer = vi.spyOn(globalThis, 'setTimeout');
    const clearTimer = vi.spyOn(globalThis, 'clearTimeout');
    const res = await fetch(`${spied.base}/api/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: EMPTY_TITLE,
    });
    expect(res.status).toBe(400);
    expect(deadlineTimers(setTimer)).toBe(1);
    const armed = setTimer.mock.results.find((_, index) => setTimer.mock.calls[index]?.[1] === ODD_MS);
    expect(clearTimer).toHaveBeenCalledWith(armed?.value);
  });

  it('refuses a deadline a timer cannot hold', () => {
    const logger = pino({ level: 'silent' });
    for (const ms of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
      expect(() => requestBodyDeadline(logger, ms), String(ms)).toThrow(RangeError);
    }
  });
});
