import { checkServerIdentity } from 'node:tls';
import type { ConnectionOptions } from 'mysql2/promise';
import type { PeerVerifier, TlsPeer } from './driver.js';
import { PEER_NOT_CHECKED } from './tls-failure.js';

/**
 * The router's own check that a TLS server is the node it was configured as: its certificate must name
 * the node's host (IP or DNS name) in its subjectAltName. mysql2 does not check this in the router's
 * setup: without `ssl.verifyIdentity` it checks no name at all (any certificate of the cluster CA passes
 * for any node), and with it, for a host given as an IP address it sends no server name, so Node checks
 * the name `localhost` (a correct IP certificate fails, one for `localhost` passes for every address).
 * This check takes its place: `resolveConnection` turns `verifyIdentity` off in the router's copy of the
 * options. The rule is Node's own (`tls.checkServerIdentity`): IP SANs for an address, DNS SANs (with
 * wildcards) for a name.
 *
 * A resumed TLS session carries no certificate (Node returns none), so it is judged by the last full
 * handshake to the same address: mysql2 keeps sessions per ssl options object and address, the router's
 * options object is its own (see `resolveConnection`), and every full handshake of it passes through here
 * before its session can be resumed.
 */

/** What the last full handshake to an address showed: trusted, or the failure it gave. */
export type Verdict = 'trusted' | { readonly code: string; readonly message: string };

/** The outcome of one handshake: the failure to report (if any) and the verdict to keep for its address. */
export interface Judgement {
  readonly failure: Error | undefined;
  readonly verdict: Verdict | undefined;
}

/** Whether connections with these `ssl` options get the identity check: TLS on and its chain verified. */
export function checksIdentity(ssl: ConnectionOptions['ssl'] | undefined): boolean {
  // mysql2 takes a string as the name of a built-in profile, which never turns verification off.
  if (typeof ssl === 'string') return true;
  return typeof ssl === 'object' && ssl !== null && ssl.rejectUnauthorized !== false;
}

/** Judges one handshake with `host` (the node's host as configured); `last` is its address's verdict so far. */
export function judgePeer(host: string, peer: TlsPeer, last: Verdict | undefined): Judgement {
  if (peer.resumed) {
    if (last === 'trusted') return { failure: undefined, verdict: last };
    if (last === undefined) {
      return {
        failure: notChecked(
          'the connection resumed a TLS session that the router never verified for this address',
        ),
        verdict: undefined,
      };
    }
    // The session comes from a handshake that failed: the same server, so the same failure.
    return { failure: Object.assign(new Error(last.message), { code: last.code }), verdict: last };
  }
  const failure =
    peer.certificate === undefined
      ? notChecked('no server certificate reached the router')
      : checkServerIdentity(host, peer.certificate);
  if (failure === undefined) return { failure, verdict: 'trusted' };
  const code = (failure as { readonly code?: unknown }).code;
  return {
    failure,
    verdict: { code: typeof code === 'string' ? code : PEER_NOT_CHECKED, message: failure.message },
  };
}

const byOptions = new WeakMap<object, Map<string, Verdict>>();
// A profile name stands for one shared options object inside mysql2, so its sessions are keyed by the name.
const byProfile = new Map<string, Map<string, Verdict>>();

function verdictsOf(ssl: NonNullable<ConnectionOptions['ssl']>): Map<string, Verdict> {
  let verdicts = typeof ssl === 'string' ? byProfile.get(ssl) : byOptions.get(ssl);
  if (verdicts === undefined) {
    verdicts = new Map();
    if (typeof ssl === 'string') byProfile.set(ssl, verdicts);
    else byOptions.set(ssl, verdicts);
  }
  return verdicts;
}

/**
 * The check for connections to `host:port` with these `ssl` options (made once per node, called once per
 * connection); undefined when `ssl` asks for none.
 */
export function peerVerifier(
  ssl: ConnectionOptions['ssl'] | undefined,
  host: string,
  port: number,
): PeerVerifier | undefined {
  if (ssl === undefined || !checksIdentity(ssl)) return undefined;
  const verdicts = verdictsOf(ssl);
  const address = `${host}:${port}`;
  return (peer) => {
    const { failure, verdict } = judgePeer(host, peer, verdicts.get(address));
    if (verdict !== undefined) verdicts.set(address, verdict);
    return failure;
  };
}

/** `peerVerifier` as connect options: `{ verifyPeer }`, or nothing when `ssl` asks for no check. */
export function verifyPeerOption(
  ssl: ConnectionOptions['ssl'] | undefined,
  host: string,
  port: number,
): { readonly verifyPeer?: PeerVerifier } {
  const verifyPeer = peerVerifier(ssl, host, port);
  return verifyPeer === undefined ? {} : { verifyPeer };
}

function notChecked(why: string): Error {
  return Object.assign(new Error(`${why}, so its identity is unknown`), { code: PEER_NOT_CHECKED });
}
