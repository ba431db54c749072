import { type Cluster, ECHO_APP, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchText } from '../support/https.js';
import {
  expectAlternation,
  expectKilledAppOutAndBack,
  servedBy as servedByOf,
  timeUntil as timeUntilOf,
} from '../support/lb-checks.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 0, app: ECHO_APP });
});

afterAll(async () => {
  await cluster?.stop();
});

function get(path: string) {
  return fetchText(`${cluster.lb.httpsUrl}${path}`, { ca: cluster.lb.certificatePem });
}

const servedBy = (count: number) => servedByOf(cluster, count);
const timeUntil = (server: string, status: string) => timeUntilOf(cluster, server, status);

describe('HAProxy in front of two Nginx + app servers', () => {
  it('alternates requests between server-1 and server-2 over TLS', async () => {
    await expectAlternation(cluster);
  });

  it('passes X-Forwarded-For/Proto and a request id, and sets HSTS', async () => {
    const response = await get('/echo');
    const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
    expect(echoed.headers['x-forwarded-proto']).toBe('https');
    expect(echoed.headers['x-forwarded-for']).toMatch(/^127\./);
    expect(echoed.headers['x-request-id']).toMatch(/^[0-9A-F]+/);
    expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });

  it('redirects plain HTTP to HTTPS, keeping path and query', async () => {
    const response = await fetchText(`${cluster.lb.httpUrl}/notes?x=1`);
    expect(response.status).toBe(301);
    expect(response.headers.location).toBe(`${cluster.lb.httpsUrl}/notes?x=1`);
  });

  it('protects the stats page with auth and serves Prometheus metrics, both on the internal address over TLS', async () => {
    const ca = cluster.lb.certificatePem;
    expect(new URL(cluster.lb.statsUrl).hostname).toBe(cluster.lb.internalHost);
    expect(cluster.lb.internalHost).not.toBe(cluster.lb.host);
    expect((await fetchText(cluster.lb.statsUrl, { ca })).status).toBe(401);
    const { user, password } = cluster.credentials.stats;
    expect((await fetchText(cluster.lb.statsUrl, { ca, auth: `${user}:${password}` })).status).toBe(200);
    const metrics = await fetchText(cluster.lb.prometheusUrl, { ca });
    expect(metrics.body).toContain('haproxy_server_status');
  });

  it('takes a killed app out of rotation within about 2 s and back after restart', async () => {
    await expectKilledAppOutAndBack(cluster);
  });

  it('takes a killed Nginx out of rotation and back after restart', async () => {
    const server = cluster.server(1);
    await server.nginx.kill();
    expect(await timeUntil('server-2', 'DOWN')).toBeLessThan(2_500);
    expect(new Set(await servedBy(4))).toEqual(new Set(['server-1']));
    await server.nginx.restart();
    await timeUntil('server-2', 'UP');
  });

  it('takes a paused (SIGSTOPped) app out of rotation and back after resume', async () => {
    const server = cluster.server(0);
    await server.app.pause();
    await timeUntil('server-1', 'DOWN');
    expect(new Set(await servedBy(4))).toEqual(new Set(['server-2']));
    await server.app.resume();
    await timeUntil('server-1', 'UP');
  });

  it('takes a paused Nginx out of rotation and back after resume', async () => {
    const server = cluster.server(1);
    await server.nginx.pause();
    await timeUntil('server-2', 'DOWN');
    expect(new Set(await servedBy(4))).toEqual(new Set(['server-1']));
    await server.nginx.resume();
    await timeUntil('server-2', 'UP');
  });

  it('drains a server through the runtime API and puts it back', async () => {
    await cluster.server(1).drain();
    expect((await cluster.backendStates()).find((b) => b.name === 'server-2')?.status).toBe('DRAIN');
    expect(new Set(await servedBy(4))).toEqual(new Set(['server-1']));
    await cluster.server(1).undrain();
    await timeUntil('server-2', 'UP');
    expect(new Set(await servedBy(4))).toEqual(new Set(['server-1', 'server-2']));
  });

  it('terminates an app gracefully (SIGTERM) and restarts it', async () => {
    const app = cluster.server(0).app;
    await app.terminate();
    expect(app.running).toBe(false);
    await app.restart();
    expect(app.running).toBe(true);
    await timeUntil('server-1', 'UP');
  });
});
