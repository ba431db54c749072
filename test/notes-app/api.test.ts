import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router } from '@rwsplit/router';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/notes-app/src/app.js';
import { LagHistory } from '../../examples/notes-app/src/dashboard/lag-history.js';
import { AppMetrics } from '../../examples/notes-app/src/metrics.js';
import { Readiness } from '../../examples/notes-app/src/readiness.js';
import { migrate } from '../../examples/notes-app/src/schema.js';
import { nodeConfig } from '../support/cluster-nodes.js';

interface Note {
  id: number;
  title: string;
  body: string;
}

let cluster: Cluster;
let db: Router;
let server: Server;
let base: string;
const metrics = new AppMetrics();
const lagHistory = new LagHistory(60_000, 100);

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  db = createRouter({
    primary: nodeConfig(cluster.primary()),
    replicas: cluster.replicas().map(nodeConfig),
    connection: cluster.credentials.app,
    monitor: { intervalMs: 250, ...cluster.credentials.monitor },
    meterProvider: metrics.meterProvider,
    // A replica delayed on purpose (below) stays in rotation, so session reads meet it and must wait.
    lag: { maxMs: 10_000 },
  });
  await Promise.all([migrate(db), migrate(db)]);
  await db.ready();
  lagHistory.start(() => db.topology());
  server = createServer(
    createApp({
      db,
      logger: pino({ level: 'silent' }),
      readiness: new Readiness(),
      serverName: 'server-9',
      metrics,
      lagHistory,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((resolve) => server.close(resolve));
  lagHistory.stop();
  await db?.close();
  await metrics.shutdown();
  await cluster?.stop();
});

/** A client that carries the consistency token from response to request, as a browser's cookie would. */
function client() {
  let token: string | undefined;
  return async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set('x-consistency-token', token);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const res = await fetch(`${base}${path}`, { ...init, headers });
    token = res.headers.get('x-consistency-token') ?? token;
    return res;
  };
}

describe('notes API against a real primary and replica', () => {
  it('creates, reads, updates and deletes a note, reading its own writes', async () => {
    const call = client();
    const created = await call('/api/notes', {
      method: 'POST',
      body: JSON.stringify({ title: 'first', body: 'hello' }),
    });
    expect(created.status).toBe(201);
    const note = (await created.json()) as Note;
    expect(note).toMatchObject({ title: 'first', body: 'hello' });
    const nodes = db.topology().map((n) => n.name);
    expect(nodes).toContain(created.headers.get('x-db-node'));
    // The insert's node, not its read-back's (which a caught-up replica usually answers).
    expect(created.headers.get('x-db-write-node')).toBe(cluster.primary().name);

    const read = await call(`/api/notes/${note.id}`);
    expect(read.status).toBe(200);
    expect(nodes).toContain(read.headers.get('x-db-node'));

    const patched = await call(`/api/notes/${note.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'bye' }),
    });
    expect(await patched.json()).toMatchObject({ id: note.id, title: 'first', body: 'bye' });
    expect(patched.headers.get('x-db-write-node')).toBe(cluster.primary().name);
    // Same values again: the row matches but does not change, which is still a 200, not a 404.
    const unchanged = await call(`/api/notes/${note.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'bye' }),
    });
    expect(unchanged.status).toBe(200);

    const deleted = await call(`/api/notes/${note.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get('x-db-write-node')).toBe(cluster.primary().name);
    // A read names no write node.
    expect(read.headers.get('x-db-write-node')).toBeNull();
    const gone = await call(`/api/notes/${note.id}`);
    expect(gone.status).toBe(404);
    expect(nodes).toContain(gone.headers.get('x-db-node'));
    expect((await call(`/api/notes/${note.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('pages by id, newest first, until next is null', async () => {
    const call = client();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call('/api/notes', { method: 'POST', body: JSON.stringify({ title: `page ${i}` }) });
      ids.push(((await res.json()) as Note).id);
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&before=${cursor}`;
      const page = (await (await call(`/api/notes?limit=2${query}`)).json()) as {
        notes: Note[];
        next: string | null;
      };
      seen.push(...page.notes.map((n) => n.id));
      cursor = page.next;
    } while (cursor !== null);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
  });

  it('searches title and body with % and _ taken literally', async () => {
    const call = client();
    await call('/api/notes', { method: 'POST', body: JSON.stringify({ title: 'sale', body: '50% off' }) });
    await call('/api/notes', {
      method: 'POST',
      body: JSON.stringify({ title: 'sale', body: '50 percent off' }),
    });
    const res = await call(`/api/notes/search?q=${encodeURIComponent('50%')}`);
    const { notes } = (await res.json()) as { notes: Note[] };
    expect(notes.map((n) => n.body)).toEqual(['50% off']);
  });
});

interface Status {
  server: string;
  topology: { name: string; role: string; reachable: boolean; lagMs: number | null; inRotation: boolean }[];
  lagHistory: { at: number; lagMs: Record<string, number | null> }[];
  routing: {
    writes: number;
    replicaReads: number;
    primaryReads: number;
    fallbacks: Record<string, number>;
    waits: { reached: number; timedOut: number };
  };
}

async function status(): Promise<Status> {
  const res = await fetch(`${base}/api/status`);
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as Status;
}

describe('dashboard data and metrics from the real router', () => {
  it('shows the topology, the lag history and routing counters that follow the traffic', async () => {
    const before = await status();
    expect(before.server).toBe('server-9');
    expect(before.topology).toEqual([
      expect.objectContaining({ name: 'db-primary', role: 'primary', reachable: true }),
      expect.objectContaining({ name: 'db-replica-1', role: 'replica', reachable: true, inRotation: true }),
    ]);
    expect(before.lagHistory.length).toBeGreaterThan(0);
    expect(Object.keys(before.lagHistory.at(-1)?.lagMs ?? {})).toEqual(['db-replica-1']);

    // Eventual reads (no token) go to the replica; the write goes to the primary.
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/api/notes?limit=1`)).status).toBe(200);
    const created = await client()('/api/notes', {
      method: 'POST',
      body: JSON.stringify({ title: 'count' }),
    });
    expect(created.status).toBe(201);
    const after = await status();
    expect(after.routing.replicaReads).toBeGreaterThanOrEqual(before.routing.replicaReads + 5);
    expect(after.routing.writes).toBeGreaterThan(before.routing.writes);
  });

  it('counts read-your-writes waits and fallbacks while the replica is behind', async () => {
    const replica = cluster.replica(0);
    const before = await status();
    await replica.delayReplication(2_000);
    try {
      // The delay is in effect (CHANGE MASTER restarts replication) and the router still reads from it.
      const deadline = Date.now() + 15_000;
      const lagging = () =>
        db.topology().some((n) => n.name === 'db-replica-1' && n.inRotation && (n.lagMs ?? 0) >= 500);
      while (!lagging()) {
        if (Date.now() > deadline)
          throw new Error(`replica never lagged in rotation: ${JSON.stringify(db.topology())}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const call = client();
      for (let i = 0; i < 3; i++) {
        const created = await call('/api/notes', {
          method: 'POST',
          body: JSON.stringify({ title: `w${i}` }),
        });
        expect(created.status).toBe(201);
        const { id } = (await created.json()) as Note;
        const read = await call(`/api/notes/${id}`);
        expect(read.status).toBe(200);
      }
    } finally {
      await replica.delayReplication(0);
    }
    const after = await status();
    const fallbacks = (s: Status) => s.routing.fallbacks['replica behind session'] ?? 0;
    // Each session read after a write either waited on the replica in vain or skipped it: never stale.
    expect(fallbacks(after)).toBeGreaterThan(fallbacks(before));
    expect(after.routing.primaryReads).toBeGreaterThan(before.routing.primaryReads);
    // On MariaDB a session read that finds the replica behind first waits (MASTER_GTID_WAIT, 50 ms) for it.
    expect(after.routing.waits.timedOut).toBeGreaterThan(before.routing.waits.timedOut);
  });

  it("serves Prometheus text with the router's metrics on /metrics", async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^# HELP/m);
    expect(text).toContain('rwsplit_routing_decisions');
    expect(text).toContain('db_client_operation_duration_bucket');
    expect(text).toContain('db_client_connection_count');
    expect(text).toMatch(/rwsplit_routing_decisions_total\{[^}]*rwsplit_target="replica"/);
  });
});
