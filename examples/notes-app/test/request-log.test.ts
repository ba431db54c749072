import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRouter, type Router } from '@rwsplit/router';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { LagHistory } from '../src/dashboard/lag-history.js';
import { AppMetrics } from '../src/metrics.js';
import { Readiness } from '../src/readiness.js';

let db: Router;
let server: Server;
let base: string;
const metrics = new AppMetrics();
let lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  // Nothing listens on port 1: every statement fails at once, so an API read is a logged 503.
  db = createRouter({
    primary: { host: '127.0.0.1', port: 1, name: 'db-primary' },
    replicas: [{ host: '127.0.0.1', port: 1, name: 'db-replica-1' }],
    connection: { user: 'app', password: 'x', database: 'notes' },
    pool: { connectTimeoutMs: 300 },
    monitor: false,
    meterProvider: metrics.meterProvider,
  });
  const logger = pino(
    { level: 'info', base: { server: 'server-7' } },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  server = createServer(
    createApp({ db, logger, readiness: new Readiness(), metrics, lagHistory: new LagHistory() }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await db.close();
  await metrics.shutdown();
});

beforeEach(() => {
  lines = [];
});

/** The response has been read by the time fetch resolves, but 'finish' may log a moment later. */
async function linesAbout(reqId: string, count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const mine = lines.filter((line) => line.reqId === reqId);
    if (mine.length >= count || Date.now() > deadline) return mine;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('request log', () => {
  it('writes one line per request with its id, method, url, status, duration and DB node', async () => {
    const res = await fetch(`${base}/healthz?probe=1`);
    const reqId = res.headers.get('x-request-id') ?? '';
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await linesAbout(reqId, 1);
    expect(mine).toEqual([
      expect.objectContaining({
        level: 30,
        server: 'server-7',
        reqId,
        method: 'GET',
        url: '/healthz?probe=1',
        status: 200,
        ms: expect.any(Number),
        dbNode: 'none',
        msg: 'request',
      }),
    ]);
  });

  it('keeps the request id HAProxy sent', async () => {
    await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'lb-42' } });
    expect(await linesAbout('lb-42', 1)).toHaveLength(1);
  });

  it('logs a server-side failure with the request id, then the request line', async () => {
    const res = await fetch(`${base}/api/notes/1`, { headers: { 'x-request-id': 'fails-1' } });
    expect(res.status).toBe(503);
    const mine = await linesAbout('fails-1', 2);
    expect(mine.map((line) => line.msg)).toEqual(['request failed', 'request']);
    expect(mine[0]).toMatchObject({ level: 50, err: expect.any(Object) });
    expect(mine[1]).toMatchObject({ status: 503, url: '/api/notes/1', dbNode: 'none' });
  });
});
