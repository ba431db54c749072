import { request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loudLines, type StartedApp, startApp, waitForLines } from './support/app-server.js';
import { trickle } from './support/raw-client.js';

let app: StartedApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.stop();
});

beforeEach(() => {
  app.lines.length = 0;
});

interface Reply {
  readonly status: number;
  readonly text: string;
}

/** A POST of exactly these bytes with exactly these headers: fetch would not send a corrupt gzip body. */
function post(body: Buffer, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: app.port,
        method: 'POST',
        path: '/api/notes',
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON error shape, and a log with the request line and nothing louder than info, nor any stack. */
async function expectClientError(reply: Reply, status: number, code: string): Promise<void> {
  expect(reply.status).toBe(status);
  expect(JSON.parse(reply.text)).toEqual({ error: { code, message: expect.any(String) } });
  expect(reply.text).not.toMatch(/\bat .*\.(js|ts)\b/);
  const lines = await waitForLines(app, (all) => all.some((line) => line.msg === 'request'));
  expect(lines.find((line) => line.msg === 'request')).toMatchObject({ status });
  expect(loudLines(lines)).toEqual([]);
}

const NOTE = Buffer.from(JSON.stringify({ title: '' }));
const GZIPPED = gzipSync(NOTE);

/** A copy with bytes flipped in the middle: the header still says gzip, the data and checksum do not. */
function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const middle = Math.floor(copy.length / 2);
  for (let i = middle; i < Math.min(copy.length, middle + 4); i++) copy[i] = (copy[i] ?? 0) ^ 0xff;
  return copy;
}

describe('request bodies the client got wrong', () => {
  it('reads a well-formed gzip, deflate or br body', async () => {
    // An empty title: validation_failed proves the body was decompressed and parsed.
    for (const [encoding, body] of [
      ['gzip', GZIPPED],
      ['deflate', deflateSync(NOTE)],
      ['br', brotliCompressSync(NOTE)],
    ] as const) {
      const reply = await post(body, { 'content-encoding': encoding });
      expect(reply.status, encoding).toBe(400);
      expect(JSON.parse(reply.text), encoding).toMatchObject({ error: { code: 'validation_failed' } });
    }
  });

  it('answers a corrupt gzip body with 400 malformed_body', async () => {
    await expectClientError(
      await post(corrupt(GZIPPED), { 'content-encoding': 'gzip' }),
      400,
      'malformed_body',
    );
  });

  it('answers a body that is not gzip at all, though it says so, with 400', async () => {
    await expectClientError(await post(NOTE, { 'content-encoding': 'gzip' }), 400, 'malformed_body');
  });

  it('answers a truncated gzip body with 400', async () => {
    const truncated = GZIPPED.subarray(0, GZIPPED.length - 6);
    await expectClientError(await post(truncated, { 'content-encoding': 'gzip' }), 400, 'malformed_body');
  });

  it('answers a corrupt br body with 400', async () => {
    const garbage = Buffer.from('certainly not a brotli stream, just text');
    await expectClientError(await post(garbage, { 'content-encoding': 'br' }), 400, 'malformed_body');
  });

  it('answers a corrupt deflate body with 400', async () => {
    await expectClientError(await post(NOTE, { 'content-encoding': 'deflate' }), 400, 'malformed_body');
  });

  it('answers an encoding it does not support with 415', async () => {
    await expectClientError(
      await post(NOTE, { 'content-encoding': 'compress' }),
      415,
      'unsupported_content_encoding',
    );
  });

  it('answers a body over the limit with 413, compressed or not', async () => {
    const big = Buffer.from(JSON.stringify({ title: 'big', body: 'x'.repeat(1_100_000) }));
    await expectClientError(await post(big, {}), 413, 'payload_too_large');
    app.lines.length = 0;
    // A few KB on the wire that inflate past 1 MB: the limit counts what the body decompresses to.
    await expectClientError(
      await post(gzipSync(big), { 'content-encoding': 'gzip' }),
      413,
      'payload_too_large',
    );
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    await expectClientError(await post(Buffer.from('{"title": '), {}), 400, 'malformed_json');
  });

  it('logs a body the client abandoned half-way without a stack', async () => {
    const body = Buffer.from(JSON.stringify({ title: 'never finished', body: 'x'.repeat(100) }));
    await trickle({
      port: app.port,
      head: `POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`,
      body: body.subarray(0, 20),
      chunkBytes: 20,
      intervalMs: 10,
      // Hang up soon after the first half: the server is still waiting for the rest.
      giveUpMs: 100,
    });
    const lines = await waitForLines(app, (all) => all.some((line) => line.msg === 'request body rejected'));
    expect(lines.find((line) => line.msg === 'request body rejected')).toMatchObject({
      level: 30,
      code: 'request_aborted',
      cause: 'request.aborted',
    });
    expect(loudLines(lines)).toEqual([]);
  });
});
