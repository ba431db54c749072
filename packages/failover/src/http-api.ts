import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { FailoverError } from './errors.js';
import type { FailoverManager } from './manager.js';

/**
 * The manager's HTTP API: `GET /metrics` (Prometheus text), `GET /status` (JSON), and for managers and
 * operators `POST /vote`, `POST /switchover {"to"}`, `POST /rejoin {"node", "rebuild", "user"?, "password"?}`
 * (the account a rebuild runs as, for that call only). With a token
 * configured, everything but `/metrics` needs `Authorization: Bearer <token>`. With `api` configured it
 * is HTTPS (TLS 1.2+), so the token and the commands never cross a network in the clear.
 */
export function startHttpApi(manager: FailoverManager, host: string, port: number): Promise<Server> {
  const { token, api } = manager.config;
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    void handle(manager, token, request, response).catch((error: unknown) => {
      send(response, 500, { error: (error as Error).message });
    });
  };
  const server: Server =
    api === undefined
      ? createServer(onRequest)
      : createTlsServer({ cert: api.certificatePem, key: api.keyPem, minVersion: 'TLSv1.2' }, onRequest);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function handle(
  manager: FailoverManager,
  token: string | undefined,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method === 'GET' && path === '/metrics') {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(manager.metrics.render());
    return;
  }
  if (token !== undefined && !authorized(request, token)) {
    send(response, 401, { error: 'missing or wrong bearer token' });
    return;
  }
  if (request.method === 'GET' && path === '/status') return send(response, 200, manager.status());
  if (request.method !== 'POST') return send(response, 404, { error: `no ${request.method} ${path}` });
  const body = await readJson(request);
  try {
    if (path === '/vote') return send(response, 200, manager.vote(String(body.candidate ?? '')));
    if (path === '/switchover') return send(response, 200, await manager.switchover(String(body.to ?? '')));
    if (path === '/rejoin') {
      const as =
        typeof body.user === 'string' && typeof body.password === 'string'
          ? { user: body.user, password: body.password }
          : undefined;
      return send(response, 200, await manager.rejoin(String(body.node ?? ''), body.rebuild === true, as));
    }
  } catch (error) {
    if (error instanceof FailoverError)
      return send(response, 409, { error: error.message, code: error.code });
    throw error;
  }
  send(response, 404, { error: `no POST ${path}` });
}

function authorized(request: IncomingMessage, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new Error('request body too large');
  }
  if (text.trim() === '') return {};
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
