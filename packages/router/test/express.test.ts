import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { currentSession, type RwsplitRequest, rwsplitMiddleware } from '../src/express.js';
import { createRouter, InvalidArgumentError, type Router } from '../src/index.js';
import { FakeDriver } from './fake-driver.js';

// The middleware over a plain Node HTTP server (what Express hands it) and fake database servers.

let server: Server | undefined;
let router: Router | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await router?.close();
  server = undefined;
  router = undefined;
});

type Handler = (req: IncomingMessage & RwsplitRequest, res: ServerResponse) => Promise<void>;

async function serve(options: Parameters<typeof rwsplitMiddleware>[1], handler: Handler): Promise<string> {
  const driver = new FakeDriver();
  // A MariaDB primary that answers the commit-position probe: the write's GTID is 0-1-5.
  driver.server('p').reply = (sql) =>
    (/last_gtid AS last_gtid/.test(sql)
      ? [{ last_gtid: '0-1-5' }]
      : [{ server: 'p' }]) as unknown as QueryResult;
  router = createRouter({ primary: { host: 'p' }, replicas: [{ host: 'r' }], driver, monitor: false });
  const middleware = rwsplitMiddleware(router, options);
  server = createServer((req, res) => {
    middleware(req, res, () => {
      handler(req as IncomingMessage & RwsplitRequest, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('rwsplitMiddleware', () => {
  it('gives each request a session and releases it when the response ends', async () => {
    const seen: Array<IncomingMessage & RwsplitRequest> = [];
    const url = await serve({}, async (req, res) => {
      seen.push(req);
      await req.db.query('SELECT 1');
      res.end('ok');
    });
    expect(await (await fetch(url)).text()).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(seen[0]!.db.query('SELECT 1')).rejects.toMatchObject({ code: 'RWSPLIT_SESSION_RELEASED' });
  });

  it('sends no cookie for a request that wrote nothing', async () => {
    const url = await serve({}, async (req, res) => {
      await req.db.query('SELECT 1');
      res.end('ok');
    });
    const response = await fetch(url);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(response.headers.get('x-consistency-token')).toBeNull();
  });

  it('sends the token after a write, in the header and an HttpOnly cookie, and resumes from it', async () => {
    const tokens: Array<string | undefined> = [];
    const url = await serve({}, async (req, res) => {
      tokens.push(req.db.token());
      if (req.method === 'POST') await req.db.execute('INSERT INTO t VALUES (1)');
      res.end('ok');
    });
    const written = await fetch(url, { method: 'POST' });
    const token = written.headers.get('x-consistency-token');
    expect(token).toBeTruthy();
    const cookie = written.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^rwsplit_ct=[^;]+; Path=\/; Max-Age=300; HttpOnly; SameSite=Lax$/);
    await fetch(url, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    await fetch(url, { headers: { 'x-consistency-token': token ?? '' } });
    expect(tokens).toEqual([undefined, token, token]);
  });

  it('sets the token once per request however many writes, keeping the cookies the app set', async () => {
    const url = await serve({}, async (req, res) => {
      res.setHeader('set-cookie', ['theme=dark; Path=/']);
      await req.db.execute('INSERT INTO t VALUES (1)');
      await req.db.execute('INSERT INTO t VALUES (2)');
      res.end('ok');
    });
    const response = await fetch(url, { method: 'POST' });
    const cookies = response.headers.getSetCookie();
    expect(cookies.filter((c) => c.startsWith('theme='))).toHaveLength(1);
    expect(cookies.filter((c) => c.startsWith('rwsplit_ct='))).toHaveLength(1);
  });

  it('hooks nothing on the response object (no per-request property on it)', async () => {
    let own: string[] = [];
    const url = await serve({}, async (req, res) => {
      own = Object.keys(res).filter((key) => key === 'writeHead' || key === 'end');
      await req.db.execute('INSERT INTO t VALUES (1)');
      res.end('ok');
    });
    const response = await fetch(url, { method: 'POST' });
    expect(response.headers.get('x-consistency-token')).toBeTruthy();
    expect(own).toEqual([]);
  });

  it('makes currentSession() the request session only when asked to', async () => {
    const url = await serve({ currentSession: true }, async (req, res) => {
      await Promise.resolve();
      res.end(currentSession() === req.db ? 'same' : 'other');
    });
    expect(await (await fetch(url)).text()).toBe('same');
  });
});

describe('currentSession() without the opt-in', () => {
  it('says what to pass instead of returning a wrong answer', async () => {
    // Module state: once any middleware opted in (above), the scope stays in use for the process; this
    // file runs the opt-in test first, so check the error through a fresh module instead.
    const fresh = (await import('../src/express.js?fresh=1' as string)) as typeof import('../src/express.js');
    expect(() => fresh.currentSession()).toThrow(InvalidArgumentError);
    expect(() => fresh.currentSession()).toThrow(/currentSession: true/);
  });
});
