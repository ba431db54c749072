import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../src/api-client.js';
import { resolveConfig } from '../src/config.js';
import { FailoverError } from '../src/errors.js';
import { startHttpApi } from '../src/http-api.js';
import { FailoverManager } from '../src/manager.js';

let dir: string;
let caPem: string;
const TOKEN = 'a-token-of-at-least-16-characters';

/** A CA and a certificate it issued for 127.0.0.1, made with openssl as the harness does. */
function makeCertificates(): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
  );
  run('req', ...ec, '-subj', '/CN=manager', '-keyout', join(dir, 'api.key'), '-out', join(dir, 'api.csr'));
  writeFileSync(join(dir, 'api.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    join(dir, 'api.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-set_serial',
    '7',
    '-days',
    '1',
    '-extfile',
    join(dir, 'api.ext'),
    '-out',
    join(dir, 'api.crt'),
  );
  caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
}

function config(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'app-1',
    managers: [{ id: 'app-1', url }],
    nodes: [
      { name: 'db-primary', host: '127.0.0.1', port: 1 },
      { name: 'db-replica-1', host: '127.0.0.1', port: 2 },
    ],
    user: 'failover',
    password: 'pw',
    replication: { user: 'repl', password: 'pw' },
    token: TOKEN,
    ...extra,
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rwsplit-failover-api-'));
  makeCertificates();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the manager API over HTTPS', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const tls = {
      tls: { ca: join(dir, 'ca.crt') },
      api: { certificate: join(dir, 'api.crt'), key: join(dir, 'api.key') },
    };
    const manager = new FailoverManager(config('https://127.0.0.1:7399', tls) as never);
    server = await startHttpApi(manager, '127.0.0.1', 0);
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(() => {
    server?.close();
  });

  it('answers a client that trusts the cluster CA, with the token', async () => {
    const status = await callApi(`${url}/status`, { token: TOKEN, ca: caPem, timeoutMs: 2_000 });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id: 'app-1' });
    const metrics = await callApi(`${url}/metrics`, { ca: caPem, timeoutMs: 2_000 });
    expect(metrics.status).toBe(200);
    // The failover counter is there at 0 before any failover: `increase()` can then see the first one.
    const text = await new Promise<string>((resolve, reject) => {
      httpsGet(`${url}/metrics`, { ca: caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(text).toContain('rwsplit_failover_failovers_total{kind="failover"} 0');
  });

  it('refuses a missing or wrong token, and a client that does not trust the CA refuses it', async () => {
    expect((await callApi(`${url}/status`, { ca: caPem, timeoutMs: 2_000 })).status).toBe(401);
    expect((await callApi(`${url}/status`, { token: `${TOKEN}x`, ca: caPem, timeoutMs: 2_000 })).status).toBe(
      401,
    );
    await expect(callApi(`${url}/status`, { token: TOKEN, timeoutMs: 2_000 })).rejects.toMatchObject({
      code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/),
    });
  });

  it('does not speak plain HTTP on its port', async () => {
    await expect(
      callApi(`${url.replace('https:', 'http:')}/metrics`, { timeoutMs: 2_000 }),
    ).rejects.toThrow();
  });
});

describe('the api setting', () => {
  const rejected = (raw: Record<string, unknown>) => {
    try {
      resolveConfig(raw);
    } catch (error) {
      if (error instanceof FailoverError) return error;
    }
    throw new Error('expected the config to be rejected');
  };
  const api = () => ({ certificate: join(dir, 'api.crt'), key: join(dir, 'api.key') });

  it('is required for an https: URL of this manager, and refused for an http: one', () => {
    expect(rejected(config('https://127.0.0.1:7399', { tls: { ca: join(dir, 'ca.crt') } })).option).toBe(
      'api',
    );
    expect(rejected(config('http://127.0.0.1:7399', { api: api() })).option).toBe('api');
  });

  it('reads the certificate and key once, and refuses files that hold neither', () => {
    const resolved = resolveConfig(
      config('https://127.0.0.1:7399', { tls: { ca: join(dir, 'ca.crt') }, api: api() }),
    );
    expect(resolved.api?.certificatePem).toContain('BEGIN CERTIFICATE');
    expect(resolved.api?.keyPem).toContain('PRIVATE KEY');
    const swapped = { certificate: join(dir, 'api.key'), key: join(dir, 'api.crt') };
    expect(
      rejected(config('https://127.0.0.1:7399', { tls: { ca: join(dir, 'ca.crt') }, api: swapped })).option,
    ).toBe('api.certificate');
  });
});
