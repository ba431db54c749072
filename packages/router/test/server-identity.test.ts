import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/resolve-config.js';
import { checksIdentity, judgePeer, peerVerifier } from '../src/server-identity.js';
import { tlsFailureOf } from '../src/tls-failure.js';
import { certificateFor } from './fake-driver.js';

const full = (...names: string[]) => ({ certificate: certificateFor(...names), resumed: false });
const resumed = { certificate: undefined, resumed: true };

describe('judging a full TLS handshake', () => {
  it.each([
    ['an IP address', '10.0.0.21', ['IP Address:10.0.0.21']],
    ['an IPv6 address', '::1', ['IP Address:0:0:0:0:0:0:0:1']],
    ['a DNS name', 'db-1.internal', ['DNS:db-1.internal']],
    ['a DNS name under a wildcard', 'db-1.dc1.internal', ['DNS:*.dc1.internal']],
    ['one of several names', '10.0.0.21', ['DNS:db-1.internal', 'IP Address:10.0.0.21']],
  ])('trusts a certificate that names the host as %s', (_, host, names) => {
    expect(judgePeer(host, full(...names), undefined)).toEqual({ failure: undefined, verdict: 'trusted' });
  });

  it.each([
    ['another node of the same CA', '10.0.0.21', ['IP Address:10.0.0.22']],
    ['a name where an address is configured', '10.0.0.21', ['DNS:db-1.internal']],
    ['localhost, where an address is configured', '10.0.0.21', ['DNS:localhost']],
    ['an address where a name is configured', 'db-1.internal', ['IP Address:10.0.0.21']],
  ])('refuses a certificate for %s', (_, host, names) => {
    const { failure, verdict } = judgePeer(host, full(...names), undefined);
    expect(failure).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(tlsFailureOf(failure)).toBe('name mismatch');
    expect(verdict).toEqual({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: failure?.message });
  });

  it('refuses a handshake without a certificate as not checked', () => {
    const { failure } = judgePeer('10.0.0.21', { certificate: undefined, resumed: false }, 'trusted');
    expect(tlsFailureOf(failure)).toBe('not checked');
  });
});

describe('judging a resumed TLS session, which carries no certificate', () => {
  it('trusts it when the last full handshake to the address was trusted', () => {
    expect(judgePeer('10.0.0.21', resumed, 'trusted')).toEqual({ failure: undefined, verdict: 'trusted' });
  });

  it('refuses it with the same failure when the last full handshake failed', () => {
    const last = { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "IP: 10.0.0.21 is not in the cert's list" };
    const { failure } = judgePeer('10.0.0.21', resumed, last);
    expect(failure).toMatchObject(last);
    expect(tlsFailureOf(failure)).toBe('name mismatch');
  });

  it('refuses it as not checked when the router never saw a full handshake to the address', () => {
    const { failure, verdict } = judgePeer('10.0.0.21', resumed, undefined);
    expect(tlsFailureOf(failure)).toBe('not checked');
    expect(failure?.message).toMatch(/resumed a TLS session that the router never verified/);
    expect(verdict).toBeUndefined();
  });
});

describe('the verifier of a node', () => {
  it('remembers the verdict per address and ssl options object, as mysql2 keeps TLS sessions', () => {
    const ssl = { ca: 'ca' };
    const node1 = peerVerifier(ssl, '10.0.0.21', 3306)!;
    expect(node1(full('IP Address:10.0.0.21'))).toBeUndefined();
    expect(node1(resumed)).toBeUndefined();
    // Another port of the same host, and another options object: nothing verified there yet.
    expect(tlsFailureOf(peerVerifier(ssl, '10.0.0.21', 3307)!(resumed))).toBe('not checked');
    expect(tlsFailureOf(peerVerifier({ ca: 'ca' }, '10.0.0.21', 3306)!(resumed))).toBe('not checked');
    // The server now shows another certificate: its resumed sessions are refused from then on.
    expect(node1(full('IP Address:10.0.0.22'))).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(node1(resumed)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it.each([
    ['no ssl', undefined, false],
    ['ssl options', { ca: 'ca' }, true],
    ['rejectUnauthorized: true', { ca: 'ca', rejectUnauthorized: true }, true],
    [
      'rejectUnauthorized: false (no chain verification, so a name proves nothing)',
      { rejectUnauthorized: false },
      false,
    ],
    ['an ssl profile name', 'Amazon RDS', true],
  ] as const)('is made for %s: %s', (_, ssl, made) => {
    expect(checksIdentity(ssl)).toBe(made);
    expect(peerVerifier(ssl, 'db', 3306) !== undefined).toBe(made);
  });
});

describe('the ssl options the router hands to mysql2', () => {
  it("are a copy of the caller's, with mysql2's own name check off (the router's replaces it)", () => {
    const ca = Buffer.from('ca');
    const ssl = { ca, verifyIdentity: true };
    const config = resolveConfig({ primary: { host: '10.0.0.21' }, connection: { ssl } });
    expect(config.connection.ssl).not.toBe(ssl);
    expect(config.connection.ssl).toEqual({ ca, verifyIdentity: false });
    expect((config.connection.ssl as { ca: Buffer }).ca).toBe(ca);
    expect(ssl.verifyIdentity).toBe(true);
  });

  it('leave verifyIdentity alone when the chain is not verified', () => {
    const config = resolveConfig({
      primary: { host: 'db' },
      connection: { ssl: { rejectUnauthorized: false, verifyIdentity: true } },
    });
    expect(config.connection.ssl).toEqual({ rejectUnauthorized: false, verifyIdentity: true });
  });
});
