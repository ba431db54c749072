// The notes API as a client sees it: HAProxy (TLS) → Nginx → notes app → MariaDB. Every request goes
// out on a fresh connection, so round robin spreads them over both servers. The client keeps the
// consistency cookie like a browser, so it reads its own writes whichever server answers.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTES_APP } from '../support/notes-app.js';
import { inParallel } from '../support/parallel.js';
import { CookieJar, collectServedBy, LbClient, type Reply } from './support/client.js';

interface Note {
  readonly id: number;
  readonly title: string;
  readonly body: string;
  readonly created_at: string;
  readonly updated_at: string;
}

interface NotePage {
  readonly notes: Note[];
  readonly next: string | null;
}

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

const SERVERS = ['server-1', 'server-2'];
const DB_NODES = ['db-primary', 'db-replica-1'];

// What a leaked stack trace or source path looks like in a body.
const STACK_TRACE = /\bat \S+ \(|\bat (file:|\/)|\/work\/|node_modules|\.(ts|js|mjs):\d+/;

let cluster: Cluster;
let lb: LbClient;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
  lb = LbClient.forCluster(cluster, { jar: new CookieJar() });
});

afterAll(async () => {
  await cluster?.stop();
});

/** A tag no other note carries, free of LIKE wildcards. */
function uniqueTag(): string {
  return `e2e${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** The app answered (not Nginx alone): both servers' headers are there, and the answer is JSON. */
function expectApiReply(reply: Reply): void {
  expect(SERVERS).toContain(reply.servedBy);
  expect(reply.dbNode, 'X-DB-Node on an API response').toBeDefined();
  expect(reply.contentType ?? '').toMatch(/^application\/json/);
}

/** A read the app made: X-DB-Node names the node that answered it. */
function expectRead(reply: Reply, status = 200): void {
  expect(reply.status, reply.body).toBe(status);
  expectApiReply(reply);
  expect(DB_NODES).toContain(reply.dbNode);
}

async function createNote(title: string, body = ''): Promise<Note> {
  const reply = await lb.post('/api/notes', { title, body });
  expectRead(reply, 201);
  return reply.json<Note>();
}

function expectClientError(reply: Reply, status: number, code?: string): ErrorBody {
  expect(reply.status, reply.body).toBe(status);
  expectApiReply(reply);
  expect(reply.body).not.toMatch(STACK_TRACE);
  const body = reply.json<ErrorBody>();
  expect(body.error.message).toEqual(expect.any(String));
  if (code !== undefined) expect(body.error.code).toBe(code);
  return body;
}

describe('notes API through the load balancer over TLS', () => {
  it('creates, reads, updates and deletes a note', async () => {
    const created = await lb.post('/api/notes', { title: 'first', body: 'hello' });
    expectRead(created, 201);
    const note = created.json<Note>();
    expect(note).toMatchObject({ title: 'first', body: 'hello' });
    expect(created.header('location')).toBe(`/api/notes/${note.id}`);

    const read = await lb.get(`/api/notes/${note.id}`);
    expectRead(read);
    expect(read.json<Note>()).toEqual(note);

    const patched = await lb.patch(`/api/notes/${note.id}`, { title: 'renamed' });
    expectRead(patched);
    expect(patched.json<Note>()).toMatchObject({ id: note.id, title: 'renamed', body: 'hello' });
    const reread = await lb.get(`/api/notes/${note.id}`);
    expectRead(reread);
    expect(reread.json<Note>().title).toBe('renamed');

    const deleted = await lb.delete(`/api/notes/${note.id}`);
    expect(deleted.status).toBe(204);
    expect(SERVERS).toContain(deleted.servedBy);
    expect(deleted.dbNode).toBeDefined();

    expectClientError(await lb.get(`/api/notes/${note.id}`), 404, 'not_found');
    expectClientError(await lb.delete(`/api/notes/${note.id}`), 404, 'not_found');
    expectClientError(await lb.patch(`/api/notes/${note.id}`, { title: 'gone' }), 404, 'not_found');
  });

  it('walks every page with limit and before, newest first, with no note missing or repeated', async () => {
    const tag = uniqueTag();
    const created = await inParallel(25, 4, (i) => createNote(`${tag} ${i}`));
    const createdIds = created.map((note) => note.id);

    const seen: number[] = [];
    let path: string | undefined = '/api/notes?limit=7';
    for (let pages = 0; path !== undefined; pages++) {
      expect(pages, 'pages walked').toBeLessThan(100);
      const reply: Reply = await lb.get(path);
      expectRead(reply);
      const page = reply.json<NotePage>();
      expect(page.notes.length).toBeLessThanOrEqual(7);
      if (page.next !== null) expect(page.notes).toHaveLength(7);
      seen.push(...page.notes.map((note) => note.id));
      path = page.next === null ? undefined : `/api/notes?limit=7&before=${encodeURIComponent(page.next)}`;
    }

    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThan(seen[i - 1] ?? 0);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(createdIds));
  });

  it('finds notes by text in title or body', async () => {
    const tag = uniqueTag();
    const inTitle = await createNote(`${tag} groceries`, 'milk');
    const inBody = await createNote('weekend', `remember ${tag} tickets`);
    await createNote('unrelated', 'nothing to see');

    const reply = await lb.get(`/api/notes/search?q=${encodeURIComponent(tag)}`);
    expectRead(reply);
    const ids = reply.json<{ notes: Note[] }>().notes.map((note) => note.id);
    expect(ids).toEqual([inBody.id, inTitle.id]);
  });

  it('spreads requests over both servers', async () => {
    const counts = await collectServedBy(lb, '/api/notes?limit=1', 20);
    expect([...counts.keys()].sort()).toEqual(SERVERS);
    // Round robin on fresh connections alternates; a health check or a retry may shift the pattern.
    for (const server of SERVERS) expect(counts.get(server) ?? 0).toBeGreaterThanOrEqual(6);
  });

  it('stores and returns SQL-looking text verbatim', async () => {
    const samples = ["'); DROP TABLE notes; --", '" OR 1=1 --', String.raw`\' UNION SELECT 1 --`, '%', '_'];
    for (const text of samples) {
      const note = await createNote(text, `body ${text}`);
      expect(note).toMatchObject({ title: text, body: `body ${text}` });
      const read = await lb.get(`/api/notes/${note.id}`);
      expectRead(read);
      expect(read.json<Note>()).toMatchObject({ title: text, body: `body ${text}` });
    }
    expectRead(await lb.get('/api/notes?limit=1'));
  });

  it('matches % and _ in a search literally, not as wildcards', async () => {
    const tag = uniqueTag();
    const percent = await createNote(`${tag} 1%0 literal`);
    await createNote(`${tag} 1000 wildcard bait`);
    const underscore = await createNote(`${tag} a_c literal`);
    await createNote(`${tag} abc wildcard bait`);

    const search = async (q: string) => {
      const reply = await lb.get(`/api/notes/search?limit=100&q=${encodeURIComponent(q)}`);
      expectRead(reply);
      return reply.json<{ notes: Note[] }>().notes;
    };
    expect((await search(`${tag} 1%0`)).map((note) => note.id)).toEqual([percent.id]);
    expect((await search(`${tag} a_c`)).map((note) => note.id)).toEqual([underscore.id]);

    const anyPercent = await search('%');
    expect(anyPercent.map((note) => note.id)).toContain(percent.id);
    for (const note of anyPercent) expect(`${note.title} ${note.body}`).toContain('%');
  });
});

describe('bad input gets a 4xx JSON error, never a 5xx or a stack trace', () => {
  it('rejects malformed JSON with 400', async () => {
    const reply = await lb.send('/api/notes', {
      method: 'POST',
      body: '{"title": "unterminated',
      headers: { 'content-type': 'application/json' },
    });
    expectClientError(reply, 400, 'malformed_json');
  });

  it('rejects wrong types with 400 and says which field', async () => {
    const body = expectClientError(await lb.post('/api/notes', { title: 5 }), 400, 'validation_failed');
    expect(body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'title' })]));
  });

  it('rejects a missing, blank or too long title with 400', async () => {
    const missing = expectClientError(await lb.post('/api/notes', { body: 'x' }), 400, 'validation_failed');
    expect(missing.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'title' })]),
    );
    expectClientError(await lb.post('/api/notes', { title: '   ' }), 400, 'validation_failed');
    expectClientError(await lb.post('/api/notes', { title: 'x'.repeat(201) }), 400, 'validation_failed');
  });

  it('rejects unknown fields and empty patches with 400', async () => {
    expectClientError(await lb.post('/api/notes', { title: 'a', extra: 1 }), 400, 'validation_failed');
    const note = await createNote('patch me');
    expectClientError(await lb.patch(`/api/notes/${note.id}`, {}), 400, 'validation_failed');
    expectClientError(await lb.patch(`/api/notes/${note.id}`, { owner: 'x' }), 400, 'validation_failed');
  });

  it('refuses a body over 1 MB with 413', async () => {
    const huge = { title: 'big', body: 'x'.repeat(1_500_000) };
    // Nginx's client_max_body_size (1m) answers before the app sees the body, in the app's JSON shape.
    const viaLb = await lb.post('/api/notes', huge);
    expect(viaLb.status, viaLb.body.slice(0, 200)).toBe(413);
    expect(viaLb.contentType).toMatch(/^application\/json/);
    expect(viaLb.json<ErrorBody>().error.code).toBe('payload_too_large');
    expect(viaLb.dbNode).toBe('none');
    expect(viaLb.body).not.toMatch(STACK_TRACE);

    // The app's own limit, when a request reaches it directly: the same status, as JSON.
    const app = new LbClient(cluster.server(0).app.url);
    const direct = await app.post('/api/notes', huge);
    expect(direct.status, direct.body.slice(0, 200)).toBe(413);
    expect(direct.json<ErrorBody>().error.code).toBe('payload_too_large');
    expect(direct.body).not.toMatch(STACK_TRACE);
  });

  it('refuses a body that is not JSON with 415', async () => {
    const reply = await lb.send('/api/notes', {
      method: 'POST',
      body: '{"title": "plain"}',
      headers: { 'content-type': 'text/plain' },
    });
    expectClientError(reply, 415, 'unsupported_media_type');
  });

  it('answers unknown routes with a JSON 404', async () => {
    expectClientError(await lb.get('/api/nope'), 404, 'not_found');
    expectClientError(await lb.post('/api/nope', { title: 'x' }), 404, 'not_found');
  });

  it('rejects an id that is not a positive integer with 400', async () => {
    // The route validates ids (positive safe integers) before any query runs.
    for (const id of ['abc', '0', '-1', '1.5']) {
      expectClientError(await lb.get(`/api/notes/${id}`), 400, 'validation_failed');
    }
    expectClientError(await lb.get('/api/notes/999999999'), 404, 'not_found');
  });

  it('rejects a cursor the API did not issue with 400', async () => {
    const foreign = Buffer.from('v2:5').toString('base64url');
    for (const before of ['garbage', foreign, '']) {
      expectClientError(await lb.get(`/api/notes?before=${before}`), 400, 'validation_failed');
    }
  });

  it('rejects a limit out of range with 400', async () => {
    for (const limit of ['0', '101', '-5', 'ten', '2.5']) {
      expectClientError(await lb.get(`/api/notes?limit=${limit}`), 400, 'validation_failed');
    }
    expectClientError(await lb.get('/api/notes/search?q='), 400, 'validation_failed');
  });
});

describe('static files, metrics and status', () => {
  it('serves the dashboard from Nginx, without the app', async () => {
    // The app answers every request with the X-Request-ID it logged; Nginx's own answers carry none.
    const fromApp = await lb.get('/api/notes?limit=1');
    expect(fromApp.header('x-request-id')).toBeDefined();
    for (const path of ['/', '/assets/app.js', '/assets/style.css']) {
      const reply = await lb.get(path);
      expect(reply.status, `${path}: ${reply.body.slice(0, 200)}`).toBe(200);
      expect(SERVERS).toContain(reply.servedBy);
      expect(reply.dbNode, path).toBe('none');
      expect(reply.header('x-request-id'), `${path} came from the app`).toBeUndefined();
    }
  });

  it('sends the dashboard files with content types a browser accepts', async () => {
    // Browsers refuse a module script or a stylesheet sent as text/plain (strict MIME type checking).
    for (const [path, type] of [
      ['/', /^text\/html/],
      ['/assets/app.js', /^(text|application)\/javascript/],
      ['/assets/style.css', /^text\/css/],
    ] as const) {
      const reply = await lb.get(path);
      expect(reply.status).toBe(200);
      expect(reply.contentType, path).toMatch(type);
    }
  });

  it('keeps /metrics off the load balancer but serves it on the app address', async () => {
    // Twice each, so both servers' Nginx are asked; spellings Express alone would route to /metrics too.
    for (const path of [
      '/metrics',
      '/metrics',
      '/metrics/',
      '/METRICS',
      '/Metrics/',
      '/%6detrics',
      '//metrics',
    ]) {
      const reply = await lb.get(path);
      expect(reply.status, path).toBe(404);
      expect(reply.body, path).not.toContain('rwsplit_');
    }

    const app = new LbClient(cluster.server(0).app.url, { jar: new CookieJar() });
    const note = await app.post('/api/notes', { title: 'metrics traffic' });
    expect(note.status).toBe(201);
    expect((await app.get(`/api/notes/${note.json<Note>().id}`)).status).toBe(200);

    const metrics = await app.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.contentType ?? '').toMatch(/^text\/plain/);
    expect(metrics.body).toContain('rwsplit_routing_decisions');
    expect(metrics.body).toContain('db_client_operation_duration');
  });

  it('reports topology, lag history and routing counters that follow the traffic', async () => {
    const first = await lb.get('/api/status');
    expect(first.status).toBe(200);
    expectApiReply(first);
    const before = first.json<StatusBody>();
    expect(before.server).toBe(first.servedBy);
    expect(before.topology).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'db-primary', role: 'primary' }),
        expect.objectContaining({ name: 'db-replica-1', role: 'replica' }),
      ]),
    );
    expect(Array.isArray(before.lagHistory)).toBe(true);

    const server = before.server;
    const other = SERVERS.find((name) => name !== server) ?? '';
    const startedWith = { [server]: before, [other]: await statusFrom(other) };

    // Sequential requests alternate between the servers, so both serve writes and reads.
    const notes: Note[] = [];
    for (let i = 0; i < 6; i++) notes.push(await createNote(`status traffic ${i}`));
    for (const note of notes) expectRead(await lb.get(`/api/notes/${note.id}`));

    let writes = 0;
    for (const name of SERVERS) {
      const was = startedWith[name]?.routing;
      const now = (await statusFrom(name)).routing;
      expect(was).toBeDefined();
      if (was === undefined) continue;
      writes += now.writes - was.writes;
      const reads = (r: StatusBody['routing']) => r.replicaReads + r.primaryReads;
      expect(reads(now), `reads counted by ${name}`).toBeGreaterThan(reads(was));
    }
    expect(writes).toBeGreaterThanOrEqual(notes.length);
  });
});

interface StatusBody {
  readonly server: string;
  readonly topology: { name: string; role: string; lagMs: number | null; inRotation: boolean }[];
  readonly lagHistory: unknown[];
  readonly routing: { writes: number; replicaReads: number; primaryReads: number };
}

/** `GET /api/status` through the LB until `server` answers it (bounded: round robin gets there in two). */
async function statusFrom(server: string): Promise<StatusBody> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const reply = await lb.get('/api/status');
    expect(reply.status).toBe(200);
    const status = reply.json<StatusBody>();
    if (status.server === server) return status;
  }
  throw new Error(`${server} did not answer /api/status in 10 tries`);
}
