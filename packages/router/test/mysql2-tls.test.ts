import type { SecureContext } from 'node:tls';
import { createConnection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DriverConnection, DriverConnectOptions } from '../src/driver.js';
import { createRouter, mysql2Driver, type Router, TlsVerificationError } from '../src/index.js';
import { peerVerifier } from '../src/server-identity.js';
import { createTestPki, FakeMysqlServer, hasOpenssl, type TestPki } from './fake-mysql-server.js';
import { until } from './setup.js';

/**
 * The real TLS path: mysql2 against a server that speaks just enough MySQL to upgrade to TLS, with
 * certificates of a fresh CA that name servers by IP address, as the cluster harness's do.
 */
describe.skipIf(!hasOpenssl())('TLS through mysql2 (openssl makes the certificates)', () => {
  let pki: TestPki;
  /** A certificate for 127.0.0.1, the address every fake server listens on. */
  let right: SecureContext;
  /** Another node's certificate from the same CA. */
  let otherNode: SecureContext;
  const servers: FakeMysqlServer[] = [];
  const opened: DriverConnection[] = [];
  let router: Router | undefined;

  beforeAll(() => {
    pki = createTestPki();
    right = pki.serverContext(['IP:127.0.0.1']);
    otherNode = pki.serverContext(['IP:127.0.0.2']);
  });
  afterAll(() => pki.remove());
  afterEach(async () => {
    await router?.close();
    router = undefined;
    for (const connection of opened.splice(0)) connection.destroy();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function serve(tls: SecureContext | undefined): Promise<FakeMysqlServer> {
    const server = await FakeMysqlServer.start(tls);
    servers.push(server);
    return server;
  }

  /** Connect options for `server`, with the router's check when `ssl` asks for it. */
  function optionsFor(
    server: FakeMysqlServer,
    ssl: { ca: string; verifyIdentity?: boolean },
  ): DriverConnectOptions {
    const verifyPeer = peerVerifier(ssl, '127.0.0.1', server.port);
    return {
      host: '127.0.0.1',
      port: server.port,
      user: 'app',
      password: 'secret',
      connectTimeout: 2_000,
      ssl,
      ...(verifyPeer === undefined ? {} : { verifyPeer }),
    };
  }

  async function connect(options: DriverConnectOptions): Promise<DriverConnection> {
    const connection = await mysql2Driver.connect(options);
    opened.push(connection);
    return connection;
  }

  it("shows mysql2 on its own accepting another node's certificate for an IP host", async () => {
    const server = await serve(otherNode);
    const connection = await createConnection({
      host: '127.0.0.1',
      port: server.port,
      user: 'app',
      password: 'secret',
      ssl: { ca: pki.caPem },
    });
    opened.push(connection);
    expect(server.credentials).toBe(1);
  });

  it("shows mysql2's verifyIdentity checking the name localhost for an IP host, so a right certificate fails", async () => {
    const server = await serve(right);
    const error = await createConnection({
      host: '127.0.0.1',
      port: server.port,
      user: 'app',
      password: 'secret',
      ssl: { ca: pki.caPem, verifyIdentity: true },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HANDSHAKE_SSL_ERROR' });
    expect((error as Error).message).toMatch(/Host: localhost\. is not cert's CN/);
  });

  it('refuses a server whose certificate does not name the address, before sending the credentials', async () => {
    const server = await serve(otherNode);
    const error = await connect(optionsFor(server, { ca: pki.caPem })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', fatal: true });
    expect((error as Error).message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list: 127\.0\.0\.2/);
    expect(server.credentials).toBe(0);
    await until(() => server.openSockets === 0, 1_000, 'the refused socket stayed open');
  });

  it('accepts a server whose certificate names the address, and its resumed TLS sessions', async () => {
    const server = await serve(right);
    const options = optionsFor(server, { ca: pki.caPem });
    for (let i = 0; i < 3; i++) {
      const connection = await connect(options);
      await connection.query('DELETE FROM t');
    }
    expect(server.credentials).toBe(3);
    // mysql2 resumes the first connection's session: those handshakes carry no certificate at all.
    expect(server.resumedSessions).toBeGreaterThan(0);
  });

  it('refuses the resumed sessions of a server whose certificate failed', async () => {
    // Under TLS 1.2 mysql2 keeps the session before the router's check turns the server down (a TLS 1.3
    // ticket only arrives after the handshake, by when the socket is closed), so the next connects resume it.
    const server = await serve(pki.serverContext(['IP:127.0.0.2'], 'TLSv1.2'));
    const options = optionsFor(server, { ca: pki.caPem });
    for (let i = 0; i < 3; i++) {
      await expect(connect(options)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    }
    expect(server.resumedSessions).toBeGreaterThan(0);
    expect(server.credentials).toBe(0);
  });

  it("reports a certificate of an unknown CA with Node's code, not mysql2's HANDSHAKE_SSL_ERROR", async () => {
    const server = await serve(right);
    const stranger = createTestPki();
    try {
      const error = await connect(optionsFor(server, { ca: stranger.caPem })).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', fatal: true });
    } finally {
      stranger.remove();
    }
  });

  it('reports a server without TLS as HANDSHAKE_NO_SSL_SUPPORT', async () => {
    const server = await serve(undefined);
    await expect(connect(optionsFor(server, { ca: pki.caPem }))).rejects.toMatchObject({
      code: 'HANDSHAKE_NO_SSL_SUPPORT',
    });
  });

  describe('through the router', () => {
    function routerTo(server: FakeMysqlServer, ssl: Record<string, unknown>): Router {
      router = createRouter({
        primary: { host: '127.0.0.1', port: server.port, name: 'db-primary' },
        connection: { user: 'app', password: 'secret', ssl },
        monitor: false,
        consistency: 'eventual',
      });
      return router;
    }

    it('names the node when its certificate fails verification', async () => {
      const server = await serve(otherNode);
      const error = await routerTo(server, { ca: pki.caPem })
        .query('DELETE FROM t')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TlsVerificationError);
      expect(error).toMatchObject({
        node: 'db-primary',
        address: `127.0.0.1:${server.port}`,
        reason: 'name mismatch',
        retryable: false,
      });
      expect(server.credentials).toBe(0);
    });

    it('checks an IP host against its IP SAN even with ssl.verifyIdentity set', async () => {
      const server = await serve(right);
      const [result] = await routerTo(server, { ca: pki.caPem, verifyIdentity: true }).query('DELETE FROM t');
      expect(result).toMatchObject({ affectedRows: 0 });
    });
  });
});
