// The running stack (`npm start`'s topology) checked the way a scanner or a local attacker would: the
// database nodes' accounts, transport and file access; the edge's TLS, headers, redirects, slow and
// corrupt requests and its stats page; what public answers give away; and where the secrets live.
// Every check that looks for a weakness is first shown finding one where it exists (a control).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../support/certificates.js';
import { fetchText, type HttpResponse } from '../support/https.js';
import { NOTES_APP } from '../support/notes-app.js';
import { type AccountRow, openAccounts, plainTextAccounts, wildcardAccounts } from './support/accounts.js';
import { trickle } from './support/raw-https.js';
import { handshake, TLS_CASES } from './support/tls-probe.js';

let cluster: Cluster;
let work: string;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
  work = mkdtempSync(join(tmpdir(), 'rwsplit-security-'));
});

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function connectAs(node: DbNode, options: mysql.ConnectionOptions): Promise<mysql.Connection> {
  return mysql.createConnection({ host: node.host, port: node.port, connectTimeout: 3_000, ...options });
}

/** The error a connection attempt ends with; fails the test if it connects. */
async function refusal(
  node: DbNode,
  options: mysql.ConnectionOptions,
): Promise<{ code?: string; message: string }> {
  const connection = await connectAs(node, options).catch(
    (error: { code?: string; message: string }) => error,
  );
  if ('query' in connection) {
    connection.destroy();
    throw new Error(`${node.name} let ${String(options.user)} in`);
  }
  return connection;
}

function appConnection(node: DbNode): Promise<mysql.Connection> {
  return connectAs(node, cluster.credentials.app);
}

describe('database nodes', () => {
  it('refuse root over TCP, with or without TLS, and anonymous logins, on every node', async () => {
    const ssl = cluster.credentials.app.ssl;
    for (const node of cluster.dbNodes) {
      for (const attempt of [
        { user: 'root', password: '' },
        { user: 'root', password: '', ssl },
        { user: '', password: '', ssl },
        { user: 'mariadb.sys', password: '', ssl },
      ]) {
        const error = await refusal(node, attempt);
        expect(error.message, `${node.name} as ${JSON.stringify(attempt.user)}`).toMatch(
          /Access denied|insecure transport|locked/i,
        );
      }
    }
  });

  it('refuse the app user without TLS, and a client that trusts another CA refuses the node', async () => {
    const { ssl: _ssl, ...plain } = cluster.credentials.app;
    const stranger = (await selfSigned(work, 'stranger')).certificatePem;
    for (const node of cluster.dbNodes) {
      const error = await refusal(node, plain);
      // REQUIRE SSL refuses the account, require_secure_transport the transport: either way, no entry.
      expect(error.message).toMatch(/Access denied|insecure transport/i);
      const untrusted = await refusal(node, { ...plain, ssl: { ca: stranger } });
      expect(untrusted.message).toMatch(/certificate/i);
      // Control: the same account, over TLS with the cluster's CA, gets in.
      const connection = await appConnection(node);
      const [rows] = await connection.query<RowDataPacket[]>("SHOW STATUS LIKE 'Ssl_version'");
      expect(String(rows[0]?.Value)).toMatch(/^TLSv1\.[23]$/);
      connection.destroy();
    }
  });

  it('have no account without a secret, none without TLS over TCP, none for a host pattern', async () => {
    const rows = (await cluster
      .primary()
      .query(
        'SELECT User AS user, Host AS host, CAST(Priv AS CHAR) AS priv FROM mysql.global_priv',
      )) as unknown as AccountRow[];
    // Control: the checks find what they look for.
    const weak: AccountRow[] = [
      { user: 'root', host: '127.%', priv: '{"plugin":"mysql_native_password","authentication_string":""}' },
      { user: '', host: 'localhost', priv: '{}' },
      // A password login as a second way into the socket account, with an empty password.
      {
        user: 'ops',
        host: 'localhost',
        priv: '{"plugin":"mysql_native_password","authentication_string":"","auth_or":[{"plugin":"unix_socket"},{}]}',
      },
    ];
    expect(openAccounts(weak)).toEqual(["'root'@'127.%'", "''@'localhost' (anonymous)", "'ops'@'localhost'"]);
    expect(plainTextAccounts(weak)).toEqual(["'root'@'127.%'"]);
    expect(wildcardAccounts(weak)).toEqual(["'root'@'127.%'"]);
    for (const node of cluster.dbNodes) {
      const mine = (await node.query(
        'SELECT User AS user, Host AS host, CAST(Priv AS CHAR) AS priv FROM mysql.global_priv',
      )) as unknown as AccountRow[];
      expect(mine.length, node.name).toBe(rows.length);
      expect(openAccounts(mine), node.name).toEqual([]);
      expect(plainTextAccounts(mine), node.name).toEqual([]);
      expect(wildcardAccounts(mine), node.name).toEqual([]);
      // root exists only for the socket (unix_socket: the harness's own login).
      expect(mine.filter((row) => row.user === 'root').map((row) => row.host)).toEqual(['localhost']);
    }
  });

  it('give the app user its own database and nothing else: no files, no other schema, no server settings', async () => {
    const connection = await appConnection(cluster.primary());
    try {
      const [grants] = await connection.query<RowDataPacket[]>('SHOW GRANTS');
      const lines = grants.map((row) => String(Object.values(row)[0]));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^GRANT USAGE ON \*\.\* TO `app`@`127\.0\.0\.1` .*REQUIRE SSL$/);
      expect(lines[1]).toMatch(/ ON `app`\.\* TO `app`@`127\.0\.0\.1`$/);
      expect(lines[1]).not.toMatch(/ALL PRIVILEGES|GRANT OPTION|FILE|SUPER/);
      const [file] = await connection.query<RowDataPacket[]>("SELECT LOAD_FILE('/etc/passwd') AS content");
      expect(file[0]?.content).toBeNull();
      for (const sql of [
        "SELECT 'x' INTO OUTFILE '/tmp/rwsplit-security-probe'",
        'SELECT * FROM mysql.global_priv',
        'CREATE DATABASE intruder',
        'SET GLOBAL read_only = OFF',
        'SHOW SLAVE STATUS',
      ]) {
        await expect(connection.query(sql), sql).rejects.toMatchObject({
          sqlState: expect.stringMatching(/^(42000|28000|HY000)$/),
        });
      }
    } finally {
      connection.destroy();
    }
  });

  it("keep file access inside each node's own directory (secure_file_priv), even for the admin account", async () => {
    const { admin } = cluster.credentials;
    for (const node of cluster.dbNodes) {
      const [row] = await node.query(
        'SELECT @@GLOBAL.secure_file_priv AS dir, @@GLOBAL.local_infile AS local_files',
      );
      const dir = String(row?.dir);
      expect(dir.startsWith(`${cluster.stateDir}/${node.name}/`), `${node.name}: ${dir}`).toBe(true);
      expect(Number(row?.local_files)).toBe(0);
      const connection = await connectAs(node, { ...admin, ssl: cluster.credentials.app.ssl });
      try {
        const [outside] = await connection.query<RowDataPacket[]>(
          "SELECT LOAD_FILE('/etc/passwd') AS content",
        );
        expect(outside[0]?.content, node.name).toBeNull();
        await expect(
          connection.query("SELECT 'x' INTO OUTFILE '/tmp/rwsplit-outfile-probe'"),
        ).rejects.toMatchObject({
          code: 'ER_OPTION_PREVENTS_STATEMENT',
        });
        // Control: inside the directory the same account can write and read, so NULL above is the limit.
        const probe = join(dir, `probe-${Date.now()}.txt`);
        await connection.query(`SELECT 'inside' INTO OUTFILE '${probe}'`);
        const [inside] = await connection.query<RowDataPacket[]>('SELECT LOAD_FILE(?) AS content', [probe]);
        expect(String(inside[0]?.content)).toBe('inside\n');
      } finally {
        connection.destroy();
      }
    }
  });

  it('run mariadbd as an unprivileged user, never root', () => {
    for (const node of cluster.dbNodes) {
      const status = readFileSync(`/proc/${node.pid}/status`, 'utf8');
      const uids = /^Uid:\s+(.+)$/m.exec(status)?.[1]?.split(/\s+/).map(Number) ?? [];
      expect(uids, node.name).toHaveLength(4);
      if (process.getuid?.() === 0) for (const uid of uids) expect(uid, node.name).not.toBe(0);
      else for (const uid of uids) expect(uid).toBe(process.getuid?.());
    }
  });

  it("replicate over TLS, verifying the primary's certificate (the primary refuses anything else)", async () => {
    const [primary] = await cluster.primary().query('SELECT @@GLOBAL.require_secure_transport AS required');
    expect(Number(primary?.required)).toBe(1);
    for (const replica of cluster.replicas()) {
      const [status] = await replica.query('SHOW SLAVE STATUS');
      expect(status).toMatchObject({
        Slave_IO_Running: 'Yes',
        Master_SSL_Allowed: 'Yes',
        Master_SSL_Verify_Server_Cert: 'Yes',
        Master_SSL_CA_File: cluster.ca.certificateFile,
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------------

const SECURITY_HEADERS = {
  'strict-transport-security': /^max-age=\d{7,}/,
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /^no-referrer$/,
  'content-security-policy': /default-src 'self'.*frame-ancestors 'none'/,
};

function lbGet(path: string, options: Parameters<typeof fetchText>[1] = {}): Promise<HttpResponse> {
  return fetchText(`${cluster.lb.httpsUrl}${path}`, { ca: cluster.lb.certificatePem, ...options });
}

function httpsPort(): number {
  return Number(new URL(cluster.lb.httpsUrl).port);
}

describe('the edge (HAProxy → Nginx → app)', () => {
  it('speaks TLS 1.2 with AEAD suites and TLS 1.3 only (the checker accepts old protocols where they are offered)', async () => {
    // Control: a server that takes everything; the same checks call TLS 1.0 and CBC accepted there.
    const control = await selfSigned(work, 'control', '127.0.0.1');
    const lax = createTlsServer(
      {
        key: readFileSync(control.keyFile),
        cert: control.certificatePem,
        minVersion: 'TLSv1',
        ciphers: 'ALL:@SECLEVEL=0',
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => lax.listen(0, '127.0.0.1', resolve));
    try {
      const port = (lax.address() as { port: number }).port;
      for (const probe of TLS_CASES.filter((c) => !c.accepted)) {
        expect(
          (await handshake(`127.0.0.1:${port}`, control.certificateFile, probe.args)).established,
          `control: ${probe.name}`,
        ).toBe(true);
      }
    } finally {
      lax.close();
    }
    for (const probe of TLS_CASES) {
      const result = await handshake(
        `${cluster.lb.host}:${httpsPort()}`,
        cluster.ca.certificateFile,
        probe.args,
      );
      expect(result.established, `${probe.name}: ${result.output.slice(-300)}`).toBe(probe.accepted);
      if (probe.accepted) expect(result.protocol).toMatch(/^TLSv1\.[23]$/);
    }
  });

  it('sets the security headers on HTML, API, error and redirect answers alike', async () => {
    const answers: [string, HttpResponse][] = [
      ['dashboard HTML', await lbGet('/')],
      ['API JSON', await lbGet('/api/notes')],
      ['app 404', await lbGet('/api/nothing-here')],
      ['Nginx 404 (internal path)', await lbGet('/metrics')],
      [
        'app 400',
        await lbGet('/api/notes', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{',
        }),
      ],
    ];
    expect(answers.map(([, r]) => r.status)).toEqual([200, 200, 404, 404, 400]);
    expect(answers[0]?.[1].headers['content-type']).toMatch(/text\/html/);
    for (const [what, response] of answers) {
      for (const [name, pattern] of Object.entries(SECURITY_HEADERS)) {
        expect(String(response.headers[name]), `${what}: ${name}`).toMatch(pattern);
      }
      expect(response.headers.server, what).toBeUndefined();
    }
    const redirect = await fetchText(`${cluster.lb.httpUrl}/`);
    expect(redirect.headers['x-content-type-options']).toBe('nosniff');
  });

  it('redirects HTTP to the configured public name, whatever Host the request forges', async () => {
    const target = `https://${cluster.lb.publicName}:${httpsPort()}`;
    const forged = await fetchText(`${cluster.lb.httpUrl}/notes?x=1`, { headers: { host: 'evil.example' } });
    expect(forged.status).toBe(301);
    expect(forged.headers.location).toBe(`${target}/notes?x=1`);
    // An absolute URI in the request line names another host too: it is not followed either.
    const url = new URL(cluster.lb.httpUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(Number(url.port), url.hostname, () =>
        socket.end(
          'GET http://evil.example/steal HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
        ),
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(new RegExp(`^location: ${target.replaceAll('.', '\\.')}/steal\\r$`, 'im'));
  });

  it('answers corrupt compressed bodies with 400 in the API shape', async () => {
    for (const [encoding, body] of [
      ['gzip', 'this is not gzip'],
      ['gzip', gzipSync(Buffer.from('{"title":"cut"}')).subarray(0, 12).toString('latin1')],
      ['br', 'not brotli either \u0001\u0002'],
    ] as const) {
      const response = await lbGet('/api/notes', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: Buffer.from(body, 'latin1').toString('latin1'),
      });
      expect(response.status, `${encoding}: ${response.body}`).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({
        error: { code: expect.any(String), message: expect.any(String) },
      });
    }
  });

  it('cuts off slow and stalled bodies with a JSON 408, while 24 slow clients do not stop anyone else', async () => {
    const { host } = cluster.lb;
    const port = httpsPort();
    const ca = cluster.lb.certificatePem;
    const post = (length: number) =>
      `POST /api/notes HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${length}`;
    const small = Buffer.from(`{"title":"${'s'.repeat(180)}"}`);
    const large = Buffer.from(`{"title":"l","body":"${'b'.repeat(60_000)}"}`);
    const started = Date.now();
    const slow = Array.from({ length: 20 }, () =>
      trickle({ host, port, ca, head: post(small.length), body: small, everyMs: 500 }),
    );
    // Stops half-way through its declared body and sends nothing more.
    const stalled = trickle({ host, port, ca, head: post(small.length), body: small, upfront: 50 });
    // Past HAProxy's buffer (16 kB): that part reaches the app, whose own bound cuts it off.
    const pastTheBuffer = Array.from({ length: 3 }, () =>
      trickle({ host, port, ca, head: post(large.length), body: large, upfront: 40_000, everyMs: 500 }),
    );
    // Meanwhile the stack serves everyone else as usual.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (let i = 0; i < 10; i++) expect((await lbGet('/api/notes')).status).toBe(200);
    const answers = await Promise.all([...slow, stalled, ...pastTheBuffer]);
    console.log(
      `slow bodies: ${answers.length} clients cut off after ${Math.min(...answers.map((a) => a.elapsedMs))}-${Math.max(...answers.map((a) => a.elapsedMs))} ms`,
    );
    for (const answer of answers) {
      expect(answer.status, answer.text.slice(0, 300)).toBe(408);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'request_timeout' } });
      expect(answer.closedByServer).toBe(true);
      expect(answer.text).toMatch(/^x-content-type-options: nosniff\r$/im);
      // 10 s bounds a whole request that fits HAProxy's buffer; past it the app's own 10 s start when the
      // body reaches the app (here at once: its first 40 kB came in one go).
      expect(answer.elapsedMs).toBeGreaterThan(9_000);
      expect(answer.elapsedMs).toBeLessThan(15_000);
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------

/** A GET from a chosen source address (the rate limit is per address). */
function getFrom(url: string, localAddress: string, auth?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: cluster.lb.certificatePem,
        localAddress,
        agent: false,
        timeout: 5_000,
        ...(auth ? { auth } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

function connectError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect(port, host);
    socket.on('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

describe('stats and metrics', () => {
  it('are not on the public address; on the internal one over TLS, stats need the password', async () => {
    const internal = new URL(cluster.lb.statsUrl);
    expect(internal.protocol).toBe('https:');
    expect(internal.hostname).toBe(cluster.lb.internalHost);
    expect(await connectError(cluster.lb.host, Number(internal.port))).toBe('ECONNREFUSED');
    // Control: the same check sees a listening port.
    expect(await connectError(cluster.lb.internalHost, Number(internal.port))).toBeUndefined();
    expect(await getFrom(cluster.lb.statsUrl, '127.0.0.1')).toBe(401);
    const { user, password } = cluster.credentials.stats;
    expect(await getFrom(cluster.lb.statsUrl, '127.0.0.1', `${user}:${password}`)).toBe(200);
    expect(await getFrom(cluster.lb.prometheusUrl, '127.0.0.1')).toBe(200);
  });

  it('lock out an address after 10 wrong passwords, and only that address', async () => {
    const attacker = `${cluster.block}.77`;
    const { user, password } = cluster.credentials.stats;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push(await getFrom(cluster.lb.statsUrl, attacker, `${user}:wrong-${i}`));
    console.log(`stats, 30 wrong passwords: ${statuses.join(' ')}`);
    expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(12).every((status) => status === 429)).toBe(true);
    // Locked out: even the right password is refused from there, for now; another address is unaffected.
    expect(await getFrom(cluster.lb.statsUrl, attacker, `${user}:${password}`)).toBe(429);
    expect(await getFrom(cluster.lb.statsUrl, '127.0.0.1', `${user}:${password}`)).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('what public answers give away', () => {
  it("no internal address in any public answer; the detailed status is on the app's own address only", async () => {
    const internal = [
      ...cluster.dbNodes.map((node) => node.host),
      ...cluster.servers.map((server) => server.host),
      cluster.lb.internalHost,
      '127.0.0.1',
    ];
    const leaks = (text: string) => internal.filter((address) => text.includes(address));
    // Control: the app's own address has the detailed form, and the check sees the addresses in it.
    const detailed = await fetchText(`${cluster.server(0).app.url}/internal/status`);
    expect(detailed.status).toBe(200);
    expect(leaks(detailed.body)).toEqual(expect.arrayContaining(cluster.dbNodes.map((node) => node.host)));
    const created = await lbGet('/api/notes', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'public' }),
    });
    const id = (JSON.parse(created.body) as { id: number }).id;
    const answers = [
      created,
      await lbGet('/'),
      await lbGet('/api/status'),
      await lbGet('/api/status'),
      await lbGet('/api/notes'),
      await lbGet(`/api/notes/${id}`),
      await lbGet('/api/notes/999999999'),
      await lbGet('/api/notes', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      }),
      await lbGet('/internal/status'),
      await lbGet('/metrics'),
      await fetchText(`${cluster.lb.httpUrl}/x`),
    ];
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200, 200, 200, 200, 404, 400, 404, 404, 301]);
    for (const answer of answers) {
      const text = `${JSON.stringify(answer.headers)}\n${answer.body}`;
      expect(leaks(text), text.slice(0, 300)).toEqual([]);
    }
    const status = JSON.parse(answers[2]?.body ?? '{}') as { topology: Record<string, unknown>[] };
    expect(status.topology.map((node) => node.name)).toEqual(['db-primary', 'db-replica-1']);
    for (const node of status.topology) {
      expect(node).not.toHaveProperty('host');
      expect(node).not.toHaveProperty('port');
      expect(node).not.toHaveProperty('error');
    }
  });
});

// ---------------------------------------------------------------------------------------------------

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

describe('secrets', () => {
  it('live in files only their owner reads, and in no log', () => {
    const secrets = JSON.parse(readFileSync(cluster.secretsFile, 'utf8')) as {
      credentials: Record<string, { password?: string }>;
    };
    const passwords = Object.values(secrets.credentials)
      .map((account) => account.password)
      .filter((password): password is string => typeof password === 'string');
    expect(passwords.length).toBeGreaterThanOrEqual(6);
    const mode = (path: string) => statSync(path).mode & 0o777;
    const holders = [
      cluster.secretsFile,
      join(cluster.stateDir, 'ca', 'ca.key'),
      join(cluster.stateDir, 'lb', 'lb.key'),
      join(cluster.stateDir, 'lb', 'lb.pem'),
      join(cluster.stateDir, 'lb', 'haproxy.cfg'),
      ...cluster.dbNodes.map((node) => join(cluster.stateDir, node.name, 'server.key')),
      ...cluster.failover.map((manager) => manager.configFile),
    ];
    for (const path of holders) expect(mode(path).toString(8), path).toBe('600');
    // Every log the stack wrote, checked for every password. Control: the secrets file has them all.
    const logs = filesUnder(cluster.stateDir).filter((path) => /\.(log|out)$/.test(path));
    expect(logs.length).toBeGreaterThanOrEqual(8);
    const containing = (path: string) => {
      const text = readFileSync(path, 'latin1');
      return passwords.filter((password) => text.includes(password));
    };
    expect(containing(cluster.secretsFile)).toEqual(passwords);
    for (const log of logs) expect(containing(log), log).toEqual([]);
  });
});
