import type { TlsFailureReason } from './errors.js';

/**
 * Tells a TLS trust failure of a node (its certificate, its names, no TLS at all) from other connect
 * failures, by the driver error's code: Node's X.509 verification codes, Node's name-check code, and
 * mysql2's code for a server without TLS. The mysql2 driver hands Node's error over with Node's code
 * (mysql2 itself renames every TLS error `HANDSHAKE_SSL_ERROR`, see `mysql2-driver.ts`), so a connection
 * reset during the handshake stays a plain connection failure.
 */

/** Code of the error the router's own check reports when it could not check a certificate at all. */
export const PEER_NOT_CHECKED = 'RWSPLIT_PEER_NOT_CHECKED';

const REASONS: ReadonlyMap<string, TlsFailureReason> = new Map<string, TlsFailureReason>([
  ['UNABLE_TO_GET_ISSUER_CERT', 'unknown CA'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unknown CA'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unknown CA'],
  ['CERT_UNTRUSTED', 'unknown CA'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed'],
  ['CERT_HAS_EXPIRED', 'expired'],
  ['CERT_NOT_YET_VALID', 'not yet valid'],
  ['CERT_REJECTED', 'rejected'],
  ['CERT_REVOKED', 'rejected'],
  ['CERT_SIGNATURE_FAILURE', 'rejected'],
  ['CERT_CHAIN_TOO_LONG', 'rejected'],
  ['INVALID_CA', 'rejected'],
  ['INVALID_PURPOSE', 'rejected'],
  ['PATH_LENGTH_EXCEEDED', 'rejected'],
  ['UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'rejected'],
  ['UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'rejected'],
  ['ERROR_IN_CERT_NOT_BEFORE_FIELD', 'rejected'],
  ['ERROR_IN_CERT_NOT_AFTER_FIELD', 'rejected'],
  // tls.checkServerIdentity's code, from the router's check (or mysql2's, with ssl.verifyIdentity).
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'name mismatch'],
  ['HOSTNAME_MISMATCH', 'name mismatch'],
  // mysql2: `ssl` is set and the server's handshake does not offer TLS.
  ['HANDSHAKE_NO_SSL_SUPPORT', 'no TLS support'],
  [PEER_NOT_CHECKED, 'not checked'],
]);

/** Every code above: each one makes the node unusable, as a refused connect does. */
export const TLS_FAILURE_CODES: ReadonlySet<string> = new Set(REASONS.keys());

/** What failed, when `error` is a TLS trust failure; undefined for anything else. */
export function tlsFailureOf(error: unknown): TlsFailureReason | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { readonly code?: unknown }).code;
  return typeof code === 'string' ? REASONS.get(code) : undefined;
}
