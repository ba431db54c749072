// What the load balancer suites assert, shared by the runtimes (native processes, docker containers): a
// check written once and run against each, never copied.
import type { Cluster } from '@rwsplit/cluster';
import { expect } from 'vitest';
import { fetchText } from './https.js';

/** Which server answered each of `count` GETs of `path` through the LB (each on a fresh connection). */
export async function servedBy(cluster: Cluster, count: number, path = '/who'): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetchText(`${cluster.lb.httpsUrl}${path}`, { ca: cluster.lb.certificatePem });
    expect(response.status).toBe(200);
    seen.push(String(response.headers['x-served-by']));
  }
  return seen;
}

/** Polls HAProxy's view of one server until it has `status`; returns how long that took. */
export async function timeUntil(
  cluster: Cluster,
  server: string,
  status: string,
  timeoutMs = 10_000,
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const state = (await cluster.backendStates()).find((backend) => backend.name === server);
    if (state?.status === status) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${server} never became ${status}`);
}

/** Round robin over TLS: both servers answer, never the same one twice in a row. */
export async function expectAlternation(cluster: Cluster, path = '/who'): Promise<void> {
  const seen = await servedBy(cluster, 6, path);
  expect(new Set(seen)).toEqual(new Set(['server-1', 'server-2']));
  for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
}

/** server-1's app killed: out of rotation within about 2 s, server-2 answers meanwhile; back after restart. */
export async function expectKilledAppOutAndBack(cluster: Cluster, path = '/who'): Promise<void> {
  const server = cluster.server(0);
  await server.app.kill();
  expect(await timeUntil(cluster, 'server-1', 'DOWN')).toBeLessThan(2_500);
  expect(new Set(await servedBy(cluster, 4, path))).toEqual(new Set(['server-2']));
  await server.app.restart();
  await timeUntil(cluster, 'server-1', 'UP');
  const after = await servedBy(cluster, 4, path);
  const states = (await cluster.backendStates()).map((b) => `${b.name} ${b.status}`).join(', ');
  expect(new Set(after), `served by ${after}; HAProxy: ${states}`).toEqual(new Set(['server-1', 'server-2']));
}
