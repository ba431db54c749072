import type { QueryResult } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { isConnectionFailure } from '../src/connection-failure.js';
import {
  PrimaryUnavailableError,
  ReplicaUnavailableError,
  RwsplitError,
  type TlsFailureReason,
  TlsVerificationError,
} from '../src/index.js';
import { certificateFor, driverError, type FakeServer } from './fake-driver.js';
import { rigPerTest } from './setup.js';

const make = rigPerTest();
const ssl = { ca: 'the cluster CA' };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Every fake server of the rig presents a certificate for its own host. */
function withOwnCertificates(servers: readonly FakeServer[]): void {
  for (const server of servers) server.certificate = certificateFor(`DNS:${server.name}`);
}

describe('the identity of a TLS server', () => {
  it('names the node when its certificate fails verification', async () => {
    const { router, primary } = make({ connection: { ssl } });
    // A certificate of the same CA, for another node: mysql2 alone would accept it.
    primary.certificate = certificateFor('DNS:r1');
    const error = await rejection(router.execute('DELETE FROM t'));
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect(error).toBeInstanceOf(RwsplitError);
    expect(error).not.toBeInstanceOf(PrimaryUnavailableError);
    expect(error).toMatchObject({
      code: 'RWSPLIT_TLS_VERIFICATION_FAILED',
      retryable: false,
      node: 'primary',
      address: 'p:3306',
      reason: 'name mismatch',
    });
    expect((error as Error).message).toMatch(
      /^TLS verification of primary \(p:3306\) failed: .*does not name/,
    );
    expect((error as Error).message).toMatch(/subjectAltName lists p exactly/);
    expect((error as Error).cause).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(primary.executed).toHaveLength(0);
  });

  it('accepts a node whose certificate names its host, and checks it once per connection, not per statement', async () => {
    const { router, driver, primary } = make({ connection: { ssl } });
    withOwnCertificates([primary]);
    const certificate = primary.certificate as unknown as { subjectaltname: string };
    let reads = 0;
    const names = certificate.subjectaltname;
    Object.defineProperty(certificate, 'subjectaltname', {
      get: () => {
        reads++;
        return names;
      },
    });
    for (let i = 0; i < 5; i++) await router.execute('DELETE FROM t');
    expect(primary.executed).toHaveLength(5);
    expect(primary.connectAttempts).toBe(1);
    expect(reads).toBe(1);
    expect(driver.connectOptions[0]?.verifyPeer).toBeTypeOf('function');
  });

  it('checks nothing when the connection has no TLS, or its verification is turned off', async () => {
    const plain = make();
    plain.primary.certificate = certificateFor('DNS:elsewhere');
    await plain.router.execute('DELETE FROM t');
    expect(plain.driver.connectOptions[0]).not.toHaveProperty('verifyPeer');
    await plain.router.close();

    const unverified = make({ connection: { ssl: { ...ssl, rejectUnauthorized: false } } });
    unverified.primary.certificate = certificateFor('DNS:elsewhere');
    await unverified.router.execute('DELETE FROM t');
    expect(unverified.driver.connectOptions[0]).not.toHaveProperty('verifyPeer');
  });

  it.each([
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'unknown CA',
      /not signed by a CA the router trusts.*connection\.ssl\.ca/,
    ],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unknown CA', /not signed by a CA the router trusts/],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed', /self-signed.*connection\.ssl\.ca/],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed', /self-signed/],
    ['CERT_HAS_EXPIRED', 'expired', /has expired/],
    ['CERT_NOT_YET_VALID', 'not yet valid', /not valid yet.*clocks/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'name mismatch', /does not name the host.*subjectAltName/],
    ['HANDSHAKE_NO_SSL_SUPPORT', 'no TLS support', /does not support TLS/],
  ] as const)(
    'says what failed when the driver reports %s (%s)',
    async (code, reason: TlsFailureReason, says) => {
      const { router, primary } = make({ connection: { ssl } });
      primary.tlsFailure = driverError(code, true);
      const error = await rejection(router.execute('DELETE FROM t'));
      expect(error).toBeInstanceOf(TlsVerificationError);
      expect(error).toMatchObject({ reason, node: 'primary', address: 'p:3306' });
      expect((error as Error).message).toMatch(says);
      expect((error as Error).cause).toMatchObject({ code });
    },
  );

  it("counts Node's TLS verification codes and mysql2's HANDSHAKE_NO_SSL_SUPPORT as connection failures", () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'HANDSHAKE_NO_SSL_SUPPORT',
    ]) {
      // Without `fatal`, as Node's own TLS errors come.
      expect(isConnectionFailure(Object.assign(new Error(code), { code })), code).toBe(true);
    }
  });

  it('keeps naming the TLS failure while the circuit breaker fails the node fast', async () => {
    const { router, primary } = make({ connection: { ssl }, circuitBreaker: { failureThreshold: 1 } });
    primary.certificate = certificateFor('DNS:r1');
    await rejection(router.execute('DELETE FROM t'));
    const error = await rejection(router.execute('DELETE FROM t'));
    expect(primary.connectAttempts).toBe(1);
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect(error).toMatchObject({ reason: 'name mismatch', node: 'primary' });
  });
});

describe('reads from a replica whose certificate fails', () => {
  it('are retried once on another replica', async () => {
    const { router, replicas } = make({ connection: { ssl }, replicaCount: 2 });
    withOwnCertificates(replicas);
    replicas[0]!.certificate = certificateFor('DNS:r2');
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'r2' }]);
  });

  it('go to the primary when no other replica is left', async () => {
    const { router, primary, replicas } = make({ connection: { ssl } });
    withOwnCertificates([primary]);
    replicas[0]!.tlsFailure = driverError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', true);
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'p' }]);
  });

  it("fail with TlsVerificationError, not ReplicaUnavailableError, under whenNoReplica: 'error'", async () => {
    const { router, replicas } = make({ connection: { ssl }, whenNoReplica: 'error' });
    replicas[0]!.certificate = certificateFor('DNS:p');
    const error = await rejection(router.query('SELECT 1'));
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect(error).not.toBeInstanceOf(ReplicaUnavailableError);
    expect(error).toMatchObject({ node: 'replica-1', address: 'r1:3306', reason: 'name mismatch' });
  });

  it('report the failure of the last node tried when every node fails', async () => {
    const { router, primary, replicas } = make({ connection: { ssl } });
    primary.tlsFailure = driverError('CERT_HAS_EXPIRED', true);
    replicas[0]!.tlsFailure = driverError('CERT_HAS_EXPIRED', true);
    const error = await rejection(router.query('SELECT 1'));
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect(error).toMatchObject({ node: 'primary', reason: 'expired' });
  });

  it('fail a read-only transaction on the primary with TlsVerificationError when the replica cannot be used either', async () => {
    const { router, primary, replicas } = make({ connection: { ssl } });
    primary.certificate = certificateFor('DNS:r1');
    replicas[0]!.certificate = certificateFor('DNS:p');
    const error = await rejection(router.transaction(async (tx) => tx.query('SELECT 1'), { readOnly: true }));
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect(error).toMatchObject({ node: 'primary' });
  });
});

describe('the topology monitor', () => {
  it('reports a node whose certificate fails as a TLS verification failure', async () => {
    const { router, primary, replicas } = make({
      connection: { ssl },
      monitor: { intervalMs: 10_000 },
      heartbeat: false,
    });
    withOwnCertificates([primary]);
    primary.reply = (sql) =>
      (sql.startsWith('SELECT VERSION()')
        ? [{ version: primary.version }]
        : [{ read_only: 0 }]) as unknown as QueryResult;
    replicas[0]!.certificate = certificateFor('DNS:p');
    await router.ready();
    const replica = router.topology().find((node) => node.name === 'replica-1');
    expect(replica).toMatchObject({ reachable: false, inRotation: false });
    expect(replica?.error).toMatch(
      /^TLS verification of replica-1 \(r1:3306\) failed: its certificate does not name the host/,
    );
  });
});
