import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Hand-made consistency tokens, to attack the router with. Follows the wire format documented in
 * packages/router/src/consistency/token.ts (MariaDB flavour only):
 * "v1." base64url(header, varint n, n × varint (domain, server_id, seq), trailer), the trailer a
 * big-endian CRC-32 (unsigned) or the first 16 bytes of HMAC-SHA256(secret, "rwsplit-token-v1" ‖ content).
 * `parseMariaDbToken` lets a test check this encoder against a token the router minted.
 */
export interface Gtid {
  readonly domain: number;
  readonly serverId: number;
  readonly seq: bigint;
}

const PREFIX = 'v1.';
const SIGNED = 0x80;

function varint(value: bigint): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
}

function trailer(content: Buffer, secret: string | undefined): Buffer {
  if (secret === undefined) {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(content));
    return out;
  }
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update('rwsplit-token-v1')
    .update(content)
    .digest()
    .subarray(0, 16);
}

/** A well-formed MariaDB token for `gtids`, unsigned or signed with `secret`. */
export function mariadbToken(gtids: readonly Gtid[], secret?: string): string {
  const body = [varint(BigInt(gtids.length))];
  for (const g of gtids) body.push(varint(BigInt(g.domain)), varint(BigInt(g.serverId)), varint(g.seq));
  const content = Buffer.from([secret === undefined ? 0 : SIGNED, ...body.flat()]);
  return PREFIX + Buffer.concat([content, trailer(content, secret)]).toString('base64url');
}

/** The GTIDs in a MariaDB token (trailer not checked), or undefined when it is not one. */
export function parseMariaDbToken(token: string): { gtids: Gtid[]; signed: boolean } | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const bytes = Buffer.from(token.slice(PREFIX.length), 'base64url');
  const header = bytes[0];
  if (header === undefined || (header & ~SIGNED) !== 0) return undefined;
  const signed = header === SIGNED;
  const end = bytes.length - (signed ? 16 : 4);
  let offset = 1;
  const read = (): bigint => {
    let value = 0n;
    for (let shift = 0n; offset < end; shift += 7n) {
      const b = bytes[offset++] as number;
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error('truncated token');
  };
  try {
    const count = Number(read());
    const gtids: Gtid[] = [];
    for (let i = 0; i < count; i++)
      gtids.push({ domain: Number(read()), serverId: Number(read()), seq: read() });
    return offset === end ? { gtids, signed } : undefined;
  } catch {
    return undefined;
  }
}

/** The same token with one payload character changed (still valid base64url, so only the trailer can tell). */
export function corruptToken(token: string): string {
  const at = PREFIX.length + Math.floor((token.length - PREFIX.length) / 2);
  const replacement = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + replacement + token.slice(at + 1);
}

/** A position far beyond anything the cluster will write: a replica can never reach it. */
export function farFuture(gtids: readonly Gtid[]): Gtid[] {
  return gtids.map((g) => ({ ...g, seq: g.seq + 1_000_000_000n }));
}
