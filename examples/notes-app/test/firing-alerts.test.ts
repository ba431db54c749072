import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlertFeed, AlertSourceError, firingAlertsFrom } from '../src/dashboard/firing-alerts.js';
import { startApp } from './support/app-server.js';

// Alertmanager 0.25's /api/v2/alerts answer, trimmed to two alerts plus one it suppresses.
const ALERTMANAGER_BODY = [
  {
    annotations: {
      summary: 'Replica db-replica-1 is 2.4 s behind its primary',
      description: 'Reads routed to it may be stale.',
    },
    endsAt: '2026-12-01T16:40:05.000Z',
    fingerprint: '1b2c3d4e5f607182',
    receivers: [{ name: 'harness' }],
    startsAt: '2026-12-01T16:38:55.000Z',
    status: { inhibitedBy: [], silencedBy: [], state: 'active' },
    updatedAt: '2026-12-01T16:39:05.000Z',
    generatorURL: 'http://127.0.0.30:9090/graph?g0.expr=...',
    labels: { alertname: 'RwsplitReplicaLagging', rwsplit_node: 'db-replica-1', severity: 'warning' },
  },
  {
    annotations: { summary: 'server-1 is DOWN in HAProxy' },
    endsAt: '2026-12-01T16:40:05.000Z',
    fingerprint: '2b2c3d4e5f607182',
    receivers: [{ name: 'harness' }],
    startsAt: '2026-12-01T16:39:00.000Z',
    status: { inhibitedBy: [], silencedBy: [], state: 'active' },
    updatedAt: '2026-12-01T16:39:05.000Z',
    labels: { alertname: 'RwsplitAppServerDown', server: 'server-1', severity: 'critical', job: 'haproxy' },
  },
  {
    annotations: { summary: 'silenced by an operator' },
    startsAt: '2026-12-01T16:30:00.000Z',
    status: { inhibitedBy: [], silencedBy: ['abc'], state: 'suppressed' },
    labels: { alertname: 'MysqlConnectionsNearMax', severity: 'warning' },
  },
];

/** A stand-in Alertmanager that answers what the test says and counts the requests it got. */
let answer: { status: number; body: string; delayMs?: number } = { status: 200, body: '[]' };
let requests: string[] = [];
let authorizations: (string | undefined)[] = [];
let alertmanager: Server;
let url: string;

beforeAll(async () => {
  alertmanager = createServer((req, res) => {
    requests.push(req.url ?? '');
    authorizations.push(req.headers.authorization);
    const { status, body, delayMs = 0 } = answer;
    setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(body), delayMs);
  });
  await new Promise<void>((resolve) => alertmanager.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}`;
});

afterAll(async () => {
  alertmanager.closeAllConnections();
  await new Promise((resolve) => alertmanager.close(resolve));
});

afterEach(() => {
  answer = { status: 200, body: '[]' };
  requests = [];
  authorizations = [];
});

describe('firingAlertsFrom', () => {
  it('keeps the active alerts, most severe first, with their summary and the labels that say where', () => {
    expect(firingAlertsFrom(ALERTMANAGER_BODY)).toEqual([
      {
        name: 'RwsplitAppServerDown',
        severity: 'critical',
        summary: 'server-1 is DOWN in HAProxy',
        description: undefined,
        since: '2026-12-01T16:39:00.000Z',
        labels: { server: 'server-1', job: 'haproxy' },
      },
      {
        name: 'RwsplitReplicaLagging',
        severity: 'warning',
        summary: 'Replica db-replica-1 is 2.4 s behind its primary',
        description: 'Reads routed to it may be stale.',
        since: '2026-12-01T16:38:55.000Z',
        labels: { rwsplit_node: 'db-replica-1' },
      },
    ]);
  });

  it('refuses a body that is not an alert list, and skips alerts without a name', () => {
    expect(() => firingAlertsFrom({ status: 'success' })).toThrow(AlertSourceError);
    expect(firingAlertsFrom([{ labels: { severity: 'critical' } }, { labels: 'x' }])).toEqual([]);
  });
});

describe('AlertFeed', () => {
  it('asks Alertmanager for the active, unsilenced, uninhibited alerts', async () => {
    answer = { status: 200, body: JSON.stringify(ALERTMANAGER_BODY) };
    const view = await new AlertFeed({ url: `${url}/` }).current();
    expect(view.source).toBe(url);
    expect(view.alerts.map((a) => a.name)).toEqual(['RwsplitAppServerDown', 'RwsplitReplicaLagging']);
    expect(requests).toEqual(['/api/v2/alerts?active=true&silenced=false&inhibited=false']);
  });

  it('sends basic auth when Alertmanager wants it, and none when not given', async () => {
    await new AlertFeed({ url, auth: { user: 'monitoring', password: 'p:w' } }).current();
    await new AlertFeed({ url }).current();
    expect(authorizations).toEqual([`Basic ${Buffer.from('monitoring:p:w').toString('base64')}`, undefined]);
  });

  it('asks once for any number of callers within maxAgeMs, and again after it', async () => {
    answer = { status: 200, body: JSON.stringify(ALERTMANAGER_BODY), delayMs: 30 };
    const feed = new AlertFeed({ url, maxAgeMs: 200 });
    const views = await Promise.all(Array.from({ length: 20 }, () => feed.current()));
    expect(new Set(views).size).toBe(1);
    await feed.current();
    expect(requests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await feed.current();
    expect(requests).toHaveLength(2);
  });

  it('fails with a typed 502 when Alertmanager errs, is slow or is gone, and reuses the failure for maxAgeMs', async () => {
    answer = { status: 503, body: 'not ready' };
    const feed = new AlertFeed({ url, maxAgeMs: 60_000 });
    const failed = await feed.current().catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(AlertSourceError);
    expect(failed).toMatchObject({ status: 502, code: 'alerts_unavailable' });
    expect((failed as Error).message).toMatch(/HTTP 503/);
    await expect(feed.current()).rejects.toBe(failed);
    expect(requests).toHaveLength(1);

    answer = { status: 200, body: '[]', delayMs: 500 };
    await expect(new AlertFeed({ url, timeoutMs: 100 }).current()).rejects.toThrow(/within 100 ms/);

    // Port 1: nothing listens there.
    const gone = await new AlertFeed({ url: 'http://127.0.0.1:1' }).current().catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(AlertSourceError);
    expect((gone as Error).cause).toBeDefined();
  });

  it('without an Alertmanager answers an empty list from no source, asking nobody', async () => {
    expect(await new AlertFeed({ url: undefined }).current()).toEqual({ source: null, alerts: [] });
    expect(requests).toEqual([]);
  });
});

describe('GET /internal/alerts', () => {
  it('answers the feed as JSON, uncached, and a dead Alertmanager as a JSON 502', async () => {
    answer = { status: 200, body: JSON.stringify(ALERTMANAGER_BODY) };
    const app = await startApp({ alerts: new AlertFeed({ url }) });
    const down = await startApp({ alerts: new AlertFeed({ url: 'http://127.0.0.1:1' }) });
    try {
      const res = await fetch(`${app.base}/internal/alerts`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { source: string; alerts: { name: string }[] };
      expect(body.alerts.map((a) => a.name)).toEqual(['RwsplitAppServerDown', 'RwsplitReplicaLagging']);

      const failed = await fetch(`${down.base}/internal/alerts`);
      expect(failed.status).toBe(502);
      expect(((await failed.json()) as { error: { code: string } }).error.code).toBe('alerts_unavailable');
      // Exact path only, like /internal/status: a spelling Nginx would pass on is the app's 404.
      expect((await fetch(`${app.base}/internal/alerts/`)).status).toBe(404);
    } finally {
      await app.stop();
      await down.stop();
    }
  });
});
