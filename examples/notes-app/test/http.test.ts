import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRouter, type Router } from '@rwsplit/router';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { LagHistory } from '../src/dashboard/lag-history.js';
import { AppMetrics } from '../src/metrics.js';
import { Readiness } from '../src/readiness.js';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

let db: Router;
let server: Server;
let base: string;
const readiness = new Readiness();
const metrics = new AppMetrics();

beforeAll(async () => {
  const port = await closedPort();
  db = createRouter({
    primary: { host: '127.0.0.1', port, name: 'db-primary' },
    replicas: [{ host: '127.0.0.1', port, name: 'db-replica-1' }],
    connection: { user: 'app', password: 'x', database: 'notes' },
    pool: { connectTimeoutMs: 300 },
    monitor: false,
    meterProvider: metrics.meterProvider,
  });
  server = createServer(
    createApp({ db, logger: pino({ level: 'silent' }), readiness, metrics, lagHistory: new LagHistory() }),
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

function post(path: string, body: string, contentType = 'application/json') {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

describe('notes app over HTTP, database down', () => {
  it('answers liveness without the database', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
  });

  it('answers 503 with Retry-After when the database is unreachable', async () => {
    const res = await fetch(`${base}/api/notes/1`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({
      error: { code: 'database_unavailable', message: expect.any(String) },
    });
  });

  it('answers 503 for a write when the primary is unreachable', async () => {
    const res = await post('/api/notes', JSON.stringify({ title: 'hi' }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('validates before touching the database', async () => {
    const res = await post('/api/notes', JSON.stringify({ title: '' }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details[0]?.path).toBe('title');
  });

  it('refuses a non-numeric id and a bad limit with 400', async () => {
    expect((await fetch(`${base}/api/notes/abc`)).status).toBe(400);
    expect((await fetch(`${base}/api/notes?limit=500`)).status).toBe(400);
    expect((await fetch(`${base}/api/notes/search`)).status).toBe(400);
  });

  it('answers malformed JSON with 400 and no stack trace', async () => {
    const res = await post('/api/notes', '{"title": ');
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'malformed_json', message: expect.any(String) } });
    expect(text).not.toMatch(/at .*\.js/);
  });

  it('answers a body over 1 MB with 413', async () => {
    const res = await post('/api/notes', JSON.stringify({ title: 'big', body: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('answers a non-JSON body with 415', async () => {
    const res = await post('/api/notes', 'title=hi', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    const patch = await fetch(`${base}/api/notes/1`, {
      method: 'PATCH',
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(patch.status).toBe(415);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('sends X-DB-Node none and a request id on every response', async () => {
    const res = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-db-node')).toBe('none');
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  // With `monitor: false` the router assumes its nodes reachable; readiness.test.ts covers the topology rule.
  it('turns not ready once draining', async () => {
    readiness.drain();
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ reason: 'draining' });
  });
});

describe('internal endpoints', () => {
  it('serves /metrics as Prometheus text at exactly that path', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('does not answer other spellings of /metrics, which Nginx would pass on', async () => {
    for (const path of ['/metrics/', '/METRICS', '/Metrics']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain('# HELP');
    }
  });
});
