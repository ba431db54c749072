import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router } from '@rwsplit/router';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/notes-app/src/app.js';
import { Readiness } from '../../examples/notes-app/src/readiness.js';
import { migrate } from '../../examples/notes-app/src/schema.js';

interface Note {
  id: number;
  title: string;
  body: string;
}

let cluster: Cluster;
let db: Router;
let server: Server;
let base: string;

beforeAll(async () => {
  cluster = await startCluster({ servers: 0, replicas: 1 });
  const node = (n: { host: string; port: number; name: string }) => ({
    host: n.host,
    port: n.port,
    name: n.name,
  });
  db = createRouter({
    primary: node(cluster.primary()),
    replicas: cluster.replicas().map(node),
    connection: cluster.credentials.app,
    monitor: { intervalMs: 250, ...cluster.credentials.monitor },
  });
  await Promise.all([migrate(db), migrate(db)]);
  await db.ready();
  server = createServer(createApp({ db, logger: pino({ level: 'silent' }), readiness: new Readiness() }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((resolve) => server.close(resolve));
  await db?.close();
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

    const read = await call(`/api/notes/${note.id}`);
    expect(read.status).toBe(200);
    expect(nodes).toContain(read.headers.get('x-db-node'));

    const patched = await call(`/api/notes/${note.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'bye' }),
    });
    expect(await patched.json()).toMatchObject({ id: note.id, title: 'first', body: 'bye' });
    // Same values again: the row matches but does not change, which is still a 200, not a 404.
    const unchanged = await call(`/api/notes/${note.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'bye' }),
    });
    expect(unchanged.status).toBe(200);

    expect((await call(`/api/notes/${note.id}`, { method: 'DELETE' })).status).toBe(204);
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
