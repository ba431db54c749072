// The router's TLS path against real MariaDB nodes that require TLS (the harness's default): it connects
// with the cluster CA, refuses a node whose certificate it cannot trust, and refuses a node reached at an
// address its certificate does not name, each with an error that names the node.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router, TlsVerificationError } from '@rwsplit/router';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../support/certificates.js';
import { nodeConfig } from '../support/cluster-nodes.js';
import { routerFor } from './support.js';

let cluster: Cluster;
let work: string;
const routers: Router[] = [];

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  work = mkdtempSync(join(tmpdir(), 'rwsplit-router-tls-'));
});

afterEach(async () => {
  await Promise.allSettled(routers.splice(0).map((router) => router.close()));
});

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function track(router: Router): Router {
  routers.push(router);
  return router;
}

/** Forwards TCP from `host` (an address no certificate names) to `target`: the same server, another address. */
async function forwarder(
  host: string,
  target: { host: string; port: number },
): Promise<{ port: number; server: Server }> {
  const server = createServer((client) => {
    const upstream = tcpConnect(target.port, target.host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe('the router over TLS to real MariaDB nodes', () => {
  it('reads and writes over TLS 1.2+ on every node with the cluster CA', async () => {
    const db = track(routerFor(cluster, { monitor: false }));
    await db.execute('CREATE TABLE IF NOT EXISTS tls_probe (id INT PRIMARY KEY)');
    await db.execute('INSERT INTO tls_probe VALUES (1) ON DUPLICATE KEY UPDATE id = id');
    const [replicaTls] = await db.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
    expect(String(replicaTls[0]?.Value)).toMatch(/^TLSv1\.[23]$/);
    const primaryTls = await db.transaction(async (tx) => {
      const [rows] = await tx.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
      return String(rows[0]?.Value);
    });
    expect(primaryTls).toMatch(/^TLSv1\.[23]$/);
  });

  it('refuses a node whose certificate does not chain to the CA it was given, naming the node', async () => {
    const stranger = (await selfSigned(work, 'stranger')).certificatePem;
    const db = track(
      routerFor(cluster, {
        monitor: false,
        connection: { ...cluster.credentials.app, ssl: { ca: stranger } },
      }),
    );
    const error = await db.execute('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlsVerificationError);
    const tls = error as TlsVerificationError;
    expect(tls.code).toBe('RWSPLIT_TLS_VERIFICATION_FAILED');
    expect(tls.node).toBe('db-primary');
    expect(tls.message).toContain('db-primary');
    expect(tls.cause).toBeDefined();
    const read = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(read).toBeInstanceOf(TlsVerificationError);
  });

  it('refuses a node reached at an address its certificate does not name (mysql2 alone lets it through)', async () => {
    const primary = cluster.primary();
    const elsewhere = `${cluster.block}.99`;
    const { port, server } = await forwarder(elsewhere, primary);
    try {
      // Control: the address really leads to the primary, and mysql2 by itself checks no name.
      const direct = await mysql.createConnection({ host: elsewhere, port, ...cluster.credentials.app });
      const [rows] = await direct.query<RowDataPacket[]>('SELECT @@server_id AS id');
      expect(Number(rows[0]?.id)).toBe(primary.serverId);
      direct.destroy();
      const db = track(
        createRouter({
          primary: { ...nodeConfig(primary), host: elsewhere, port },
          connection: cluster.credentials.app,
          monitor: false,
        }),
      );
      const error = await db.execute('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TlsVerificationError);
      expect((error as TlsVerificationError).reason).toBe('name mismatch');
      expect((error as TlsVerificationError).message).toContain(`${elsewhere}:${port}`);
    } finally {
      server.close();
    }
  });

  it('cannot connect without TLS: the node refuses the account', async () => {
    const { ssl: _ssl, ...plain } = cluster.credentials.app;
    const db = track(routerFor(cluster, { monitor: false, connection: plain }));
    await expect(db.execute('SELECT 1')).rejects.toMatchObject({ cause: { code: 'ER_ACCESS_DENIED_ERROR' } });
  });
});
