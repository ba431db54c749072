import { createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { InvalidArgumentError } from '../errors.js';
import type { MariaDbGtid } from './mariadb-gtid.js';
import * as mysqlGtid from './mysql-gtid.js';
import {
  type GtidPosition,
  type MariaDbPosition,
  type MySqlPosition,
  mariadbPosition,
  mysqlPosition,
  positionProblem,
} from './position.js';
import { ByteReader, ByteWriter, MalformedBytes } from './token-bytes.js';

/**
 * Consistency tokens: the GTID position a read-your-writes scope must see, as a short opaque string that
 * travels between app servers in a cookie or an `X-Consistency-Token` header.
 *
 * ```
 * token   = "v1." base64url(payload)          (no padding; at most MAX_TOKEN_LENGTH characters in all)
 * payload = header body trailer
 * header  = 1 byte: bit 0 flavor (0 MariaDB, 1 MySQL), bit 1 incomplete, bit 7 signed; the other bits 0
 * body    = MariaDB: n, then n × (domain, server_id, seq)                  domains strictly increasing
 *           MySQL:   n, then n × (uuid: 16 bytes, tag length: 1 byte 0..32, tag: ASCII,
 *                                 k >= 1, then k × (gap, length))           (uuid, tag) strictly increasing
 *             interval start = previous end + 1 + gap (previous end = 0 for the first; gap >= 1 after it),
 *             end = start + length
 *           every number an unsigned LEB128 varint of minimal length
 * trailer = unsigned: CRC-32 of header and body, 4 bytes big-endian     (catches truncation and bit flips)
 *           signed:   HMAC-SHA256(secret, "rwsplit-token-v1" header body), first 16 bytes
 * ```
 *
 * Every valid position has exactly one token; decoding accepts nothing else. A token that is too long,
 * not canonical, corrupt, signed when no secret is configured, unsigned (or signed with another secret)
 * when one is, or of an unknown version decodes to `undefined`: the caller then reads from the primary.
 * Decoding never throws. An *incomplete* token is a session that wrote something whose position it could not
 * learn (the connection went between the write's answer and the position's): the body holds what it did
 * learn, and every reader sends that session's reads to the primary until the token expires. `decode` gives
 * undefined for it, as decoders from before the flag did (they refuse an unknown header bit), so an app
 * server of either age reads it from the primary. A CRC only detects accidents: anyone can mint an unsigned token naming a
 * far-future position, which costs one wait budget per read before the primary answers. Configure a
 * secret (the same on every app server) to refuse such tokens.
 */

export const TOKEN_VERSION_PREFIX = 'v1.';
/** The longest token `decodeToken` looks at (characters); longer text is refused unread. */
export const MAX_TOKEN_LENGTH = 2048;

/** A signing secret: text (UTF-8) or bytes, at least 16 bytes either way. */
export type TokenSecret = string | Uint8Array;

export interface TokenCodecOptions {
  /**
   * Signs tokens with HMAC-SHA256 and refuses unsigned ones. A list rotates secrets: the first signs,
   * every one verifies. Default: none (tokens carry a CRC-32 and anyone can make one).
   */
  readonly secret?: TokenSecret | readonly TokenSecret[] | undefined;
}

export interface TokenCodec {
  /** True when tokens are signed (a secret is configured). */
  readonly signed: boolean;
  /**
   * The token for `position`; `incomplete` when the session also wrote something it has no position for.
   * Throws `InvalidArgumentError` for a malformed position or one too large to fit.
   */
  encode(position: GtidPosition, options?: { readonly incomplete?: boolean }): string;
  /**
   * The position in `text`, or undefined when `text` is not a valid token for this codec or is incomplete
   * (either way: read from the primary). Never throws.
   */
  decode(text: unknown): GtidPosition | undefined;
  /** What a valid token holds, the incomplete flag with it; undefined for anything else. Never throws. */
  inspect(text: unknown): DecodedToken | undefined;
}

/** A valid token's content. */
export interface DecodedToken {
  readonly position: GtidPosition;
  /** The session wrote more than `position` says: its reads go to the primary. */
  readonly incomplete: boolean;
}

const SIGNED = 0x80;
const MYSQL = 0x01;
const INCOMPLETE = 0x02;
const CRC_LENGTH = 4;
const MAC_LENGTH = 16;
const MAC_CONTEXT = Buffer.from('rwsplit-token-v1', 'ascii');
const MIN_SECRET_BYTES = 16;
const MAX_TAG_LENGTH = 32;
const MAX_UINT32 = 0xffff_ffffn;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function createTokenCodec(options: TokenCodecOptions = {}): TokenCodec {
  const keys = secretKeys(options.secret);
  const signed = keys.length > 0;
  const trailerLength = signed ? MAC_LENGTH : CRC_LENGTH;

  function trailer(content: Uint8Array, key: Buffer | undefined): Buffer {
    if (key === undefined) {
      const out = Buffer.alloc(CRC_LENGTH);
      out.writeUInt32BE(crc32(content));
      return out;
    }
    return createHmac('sha256', key).update(MAC_CONTEXT).update(content).digest().subarray(0, MAC_LENGTH);
  }

  function verify(content: Uint8Array, given: Uint8Array): boolean {
    if (!signed) return Buffer.compare(trailer(content, undefined), given) === 0;
    return keys.some((key) => timingSafeEqual(trailer(content, key), given));
  }

  return Object.freeze({
    signed,
    encode(position: GtidPosition, options: { readonly incomplete?: boolean } = {}): string {
      const problem = positionProblem(position);
      if (problem !== undefined) throw new InvalidArgumentError(`Cannot encode a token: ${problem}`);
      const flags = (signed ? SIGNED : 0) | (options.incomplete === true ? INCOMPLETE : 0);
      let token = encodeWith(position, flags, (content) => trailer(content, keys[0]));
      if (token.length > MAX_TOKEN_LENGTH && position.flavor === 'mysql') {
        // One interval per source is still safe (a superset) and as small as a MySQL set gets.
        const smaller = mysqlPosition(mysqlGtid.coarsen(position.gtidSet, 1));
        token = encodeWith(smaller, flags, (content) => trailer(content, keys[0]));
      }
      if (token.length > MAX_TOKEN_LENGTH) {
        throw new InvalidArgumentError(
          `Cannot encode a token: the position needs ${token.length} characters, more than the ${MAX_TOKEN_LENGTH} a token may have`,
        );
      }
      return token;
    },
    decode(text: unknown): GtidPosition | undefined {
      const token = inspect(text);
      return token === undefined || token.incomplete ? undefined : token.position;
    },
    inspect,
  });

  function inspect(text: unknown): DecodedToken | undefined {
    try {
      if (typeof text !== 'string' || text.length > MAX_TOKEN_LENGTH) return undefined;
      if (!text.startsWith(TOKEN_VERSION_PREFIX)) return undefined;
      const encoded = text.slice(TOKEN_VERSION_PREFIX.length);
      if (!BASE64URL.test(encoded)) return undefined;
      const bytes = Buffer.from(encoded, 'base64url');
      // Buffer's decoder ignores stray bits; only the canonical spelling of these bytes is a token.
      if (bytes.toString('base64url') !== encoded) return undefined;
      if (bytes.length < 1 + trailerLength) return undefined;
      const header = bytes[0]!;
      if ((header & ~(SIGNED | MYSQL | INCOMPLETE)) !== 0 || (header & SIGNED) !== (signed ? SIGNED : 0))
        return undefined;
      const content = bytes.subarray(0, bytes.length - trailerLength);
      if (!verify(content, bytes.subarray(bytes.length - trailerLength))) return undefined;
      const reader = new ByteReader(content.subarray(1));
      const position = header & MYSQL ? readMySql(reader) : readMariaDb(reader);
      if (!reader.done || positionProblem(position) !== undefined) return undefined;
      return { position, incomplete: (header & INCOMPLETE) !== 0 };
    } catch {
      return undefined;
    }
  }
}

const codecs = new Map<string, TokenCodec>();
const plainCodec = createTokenCodec();

/** `createTokenCodec(options).encode(position)`; prefer a codec made once when a secret is configured. */
export function encodeToken(position: GtidPosition, options?: TokenCodecOptions): string {
  return codecFor(options).encode(position);
}

/**
 * The position in a token, or undefined when it is unusable (read from the primary). Never throws for any
 * `text`; throws `InvalidArgumentError` only for invalid `options`.
 */
export function decodeToken(text: unknown, options?: TokenCodecOptions): GtidPosition | undefined {
  return codecFor(options).decode(text);
}

function codecFor(options: TokenCodecOptions | undefined): TokenCodec {
  if (options?.secret === undefined) return plainCodec;
  // Codecs are cached by secret so the convenience functions stay cheap; bounded to a handful of secrets.
  const id = secretKeys(options.secret)
    .map((key) => key.toString('hex'))
    .join(',');
  let codec = codecs.get(id);
  if (codec === undefined) {
    if (codecs.size >= 16) codecs.clear();
    codec = createTokenCodec(options);
    codecs.set(id, codec);
  }
  return codec;
}

function secretKeys(secret: TokenCodecOptions['secret']): Buffer[] {
  if (secret === undefined) return [];
  const list: readonly unknown[] = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0)
    throw new InvalidArgumentError('Token secret list is empty; give at least one secret');
  return list.map((item, i) => {
    const key =
      typeof item === 'string'
        ? Buffer.from(item, 'utf8')
        : item instanceof Uint8Array
          ? Buffer.from(item)
          : undefined;
    if (key === undefined || key.length < MIN_SECRET_BYTES) {
      throw new InvalidArgumentError(
        `Token secret ${i} must be a string or Uint8Array of at least ${MIN_SECRET_BYTES} bytes (use 32 random bytes)`,
      );
    }
    return key;
  });
}

function encodeWith(position: GtidPosition, flags: number, trailer: (content: Uint8Array) => Buffer): string {
  const writer = new ByteWriter().byte(flags | (position.flavor === 'mysql' ? MYSQL : 0));
  if (position.flavor === 'mariadb') writeMariaDb(writer, position);
  else writeMySql(writer, position);
  const content = writer.toBytes();
  return TOKEN_VERSION_PREFIX + Buffer.concat([content, trailer(content)]).toString('base64url');
}

function writeMariaDb(writer: ByteWriter, position: MariaDbPosition): void {
  writer.uint(position.gtids.length);
  for (const g of position.gtids) writer.uint(g.domain).uint(g.serverId).uint(g.seq);
}

function readMariaDb(reader: ByteReader): MariaDbPosition {
  const count = reader.count(reader.remaining);
  const gtids: MariaDbGtid[] = [];
  for (let i = 0; i < count; i++) {
    const domain = Number(reader.uint(MAX_UINT32));
    const serverId = Number(reader.uint(MAX_UINT32));
    gtids.push(Object.freeze({ domain, serverId, seq: reader.uint() }));
  }
  return mariadbPosition(Object.freeze(gtids));
}

function writeMySql(writer: ByteWriter, position: MySqlPosition): void {
  writer.uint(position.gtidSet.length);
  for (const entry of position.gtidSet) {
    writer.raw(Buffer.from(entry.uuid.replaceAll('-', ''), 'hex'));
    writer.byte(entry.tag.length).raw(Buffer.from(entry.tag, 'ascii'));
    writer.uint(entry.intervals.length);
    let previousEnd = 0n;
    for (const { start, end } of entry.intervals) {
      writer.uint(start - previousEnd - 1n).uint(end - start);
      previousEnd = end;
    }
  }
}

function readMySql(reader: ByteReader): MySqlPosition {
  const count = reader.count(reader.remaining);
  const entries: mysqlGtid.GtidSetEntry[] = [];
  for (let i = 0; i < count; i++) {
    const hex = Buffer.from(reader.raw(16)).toString('hex');
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const tagLength = reader.byte();
    if (tagLength > MAX_TAG_LENGTH) throw new MalformedBytes('tag too long');
    const tag = Buffer.from(reader.raw(tagLength)).toString('latin1');
    const intervalCount = reader.count(reader.remaining);
    const intervals: mysqlGtid.GtidInterval[] = [];
    let previousEnd = 0n;
    for (let k = 0; k < intervalCount; k++) {
      const start = previousEnd + 1n + reader.uint();
      const end = start + reader.uint();
      intervals.push(Object.freeze({ start, end }));
      previousEnd = end;
    }
    entries.push(Object.freeze({ uuid, tag, intervals: Object.freeze(intervals) }));
  }
  return mysqlPosition(Object.freeze(entries));
}
