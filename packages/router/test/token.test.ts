import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MariaDbGtidList } from '../src/consistency/mariadb-gtid.js';
import type { MySqlGtidSet } from '../src/consistency/mysql-gtid.js';
import {
  type GtidPosition,
  mariadbPosition,
  mysqlPosition,
  parsePosition,
} from '../src/consistency/position.js';
import {
  createTokenCodec,
  decodeToken,
  encodeToken,
  MAX_TOKEN_LENGTH,
  TOKEN_VERSION_PREFIX,
} from '../src/consistency/token.js';
import { InvalidArgumentError } from '../src/errors.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const SECRET = 'a-long-enough-secret-for-hmac!!';
const OTHER_SECRET = 'another-long-enough-secret-here';

function position(flavor: 'mariadb' | 'mysql', text: string): GtidPosition {
  const result = parsePosition(flavor, text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

/** A token from raw content bytes with a correct CRC: for payloads the encoder would never produce. */
function craft(content: number[]): string {
  const bytes = Buffer.from(content);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(bytes));
  return TOKEN_VERSION_PREFIX + Buffer.concat([bytes, crc]).toString('base64url');
}

const mariadbArb: fc.Arbitrary<GtidPosition> = fc
  .uniqueArray(
    fc.record({
      domain: fc.integer({ min: 0, max: 0xffff_ffff }),
      serverId: fc.integer({ min: 0, max: 0xffff_ffff }),
      seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
    { selector: (g) => g.domain, maxLength: 5 },
  )
  .map((gtids): MariaDbGtidList => Object.freeze([...gtids].sort((a, b) => a.domain - b.domain)))
  .map(mariadbPosition);

const hex = (length: number) =>
  fc
    .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
    .map((c) => c.join(''));
const uuidArb = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join('-'));
const mysqlArb: fc.Arbitrary<GtidPosition> = fc
  .array(
    fc.tuple(
      uuidArb,
      fc.constantFrom('', 'blue', 'a_very_long_tag_name_of_32_chars'),
      fc.array(fc.tuple(fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }), fc.bigInt({ min: 0n, max: 1000n })), {
        minLength: 1,
        maxLength: 4,
      }),
    ),
    { maxLength: 3 },
  )
  .map((entries) =>
    entries
      .map(([uuid, tag, ranges]) => {
        const intervals = ranges.map(([start, length]) => {
          const end = start + length > (1n << 63n) - 1n ? start : start + length;
          return start === end ? `${start}` : `${start}-${end}`;
        });
        return [uuid, ...(tag ? [tag] : []), ...intervals].join(':');
      })
      .join(','),
  )
  .map((text) => position('mysql', text));
const positionArb = fc.oneof(mariadbArb, mysqlArb);

describe('consistency tokens: encoding', () => {
  it('round-trips every position, unsigned and signed', () => {
    const signed = createTokenCodec({ secret: SECRET });
    fc.assert(
      fc.property(positionArb, (pos) => {
        expect(decodeToken(encodeToken(pos))).toEqual(pos);
        expect(signed.decode(signed.encode(pos))).toEqual(pos);
      }),
    );
  });

  it('is a versioned, URL- and cookie-safe string', () => {
    fc.assert(
      fc.property(positionArb, (pos) => {
        expect(encodeToken(pos)).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      }),
    );
  });

  it('is compact: a MariaDB position in under 20 characters, a MySQL one in about 40 (+16 signed)', () => {
    expect(encodeToken(position('mariadb', '0-1-123456'))).toHaveLength(18);
    expect(encodeToken(position('mariadb', '0-1-123456'), { secret: SECRET })).toHaveLength(34);
    expect(encodeToken(position('mysql', `${UUID}:1-123456`))).toHaveLength(41);
    expect(encodeToken(position('mysql', `${UUID}:1-123456`), { secret: SECRET })).toHaveLength(57);
  });

  it('gives one token per position (deterministic)', () => {
    const pos = position('mariadb', '0-1-42,1-3-7');
    expect(encodeToken(pos)).toBe(encodeToken(position('mariadb', '1-3-7,0-1-42')));
  });

  it('encodes the empty position too (a scope that wrote nothing yet)', () => {
    expect(decodeToken(encodeToken(position('mariadb', '')))).toEqual(position('mariadb', ''));
    expect(decodeToken(encodeToken(position('mysql', '')))).toEqual(position('mysql', ''));
  });

  it('refuses to encode a malformed hand-built position', () => {
    const unsorted = mariadbPosition([
      { domain: 2, serverId: 1, seq: 1n },
      { domain: 1, serverId: 1, seq: 1n },
    ]);
    expect(() => encodeToken(unsorted)).toThrow(InvalidArgumentError);
    expect(() => encodeToken({ flavor: 'x' } as never)).toThrow(/Cannot encode a token/);
  });

  it('coarsens a MySQL set that would not fit, rather than failing', () => {
    // 60 sources × (16 + 1 + 1 + 8 × 2) bytes is about 2,700 characters as it stands.
    const many = Array.from(
      { length: 60 },
      (_, i) => `${UUID.slice(0, -2)}${String(i).padStart(2, '0')}:1:3:5:7:9:11:13:15`,
    );
    const pos = position('mysql', many.join(','));
    const token = encodeToken(pos);
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    const decoded = decodeToken(token);
    expect(decoded?.flavor === 'mysql' && decoded.gtidSet.every((e) => e.intervals.length === 1)).toBe(true);
  });

  it('throws InvalidArgumentError when even the smallest form is too long', () => {
    const domains = Array.from(
      { length: 150 },
      (_, i) => `${4_000_000_000 + i}-4000000000-18446744073709551615`,
    );
    expect(() => encodeToken(position('mariadb', domains.join(',')))).toThrow(InvalidArgumentError);
  });
});

describe('consistency tokens: decoding untrusted text', () => {
  it('never throws, whatever the input', () => {
    const signed = createTokenCodec({ secret: SECRET });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string(),
          fc.string({ unit: 'grapheme' }),
          fc.base64String().map((b) => `v1.${b}`),
          fc.uint8Array({ maxLength: 64 }).map((b) => `v1.${Buffer.from(b).toString('base64url')}`),
          fc.uint8Array({ maxLength: 64 }).map((b) => craft([...b])),
        ),
        (input) => {
          expect(() => decodeToken(input)).not.toThrow();
          expect(() => signed.decode(input)).not.toThrow();
        },
      ),
    );
  });

  it('returns a valid position or undefined for random payloads with a correct checksum', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const decoded = decodeToken(craft([...bytes]));
        if (decoded !== undefined) expect(encodeToken(decoded)).toBe(craft([...bytes]));
      }),
    );
  });

  it.each([
    ['', 'empty'],
    ['v1.', 'no payload'],
    ['v2.AAAA', 'an unknown version'],
    ['V1.AAAAAAAAAA', 'a wrong-case prefix'],
    ['v1.AAAA AAAA', 'a space'],
    ['v1.AAAA+/AA', 'standard base64 characters'],
    ['v1.AAAAAA==', 'padding'],
    [`v1.${'A'.repeat(MAX_TOKEN_LENGTH)}`, 'too long'],
  ])('refuses %j (%s)', (text) => {
    expect(decodeToken(text)).toBeUndefined();
  });

  it('refuses non-strings (a header sent twice arrives as an array)', () => {
    const token = encodeToken(position('mariadb', '0-1-1'));
    expect(decodeToken([token, token])).toBeUndefined();
    expect(decodeToken(undefined)).toBeUndefined();
    expect(decodeToken(Buffer.from(token))).toBeUndefined();
  });

  it('detects every single-bit flip', () => {
    fc.assert(
      fc.property(positionArb, fc.nat(), (pos, n) => {
        const token = encodeToken(pos);
        const bytes = Buffer.from(token.slice(3), 'base64url');
        const bit = n % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        expect(decodeToken(`v1.${bytes.toString('base64url')}`)).toBeUndefined();
      }),
    );
  });

  it('detects truncation at any length', () => {
    fc.assert(
      fc.property(positionArb, (pos) => {
        const token = encodeToken(pos);
        for (let length = 0; length < token.length; length++) {
          expect(decodeToken(token.slice(0, length))).toBeUndefined();
        }
      }),
    );
  });

  it('refuses a different spelling of the same bytes (stray base64 bits)', () => {
    // 10 bytes take 14 characters: the last one carries 4 bits nobody reads.
    const token = encodeToken(position('mariadb', '0-1-1000'));
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(token.slice(3, -1) + sibling, 'base64url')).toEqual(
      Buffer.from(token.slice(3), 'base64url'),
    );
    expect(decodeToken(token.slice(0, -1) + sibling)).toBeUndefined();
  });

  it('refuses payloads the encoder would never write, even with a correct checksum', () => {
    expect(decodeToken(craft([0x00, 0x01, 0x00, 0x01, 0x2a]))).toEqual(position('mariadb', '0-1-42'));
    expect(decodeToken(craft([0x00, 0x01, 0x00, 0x01, 0xaa, 0x00]))).toBeUndefined(); // non-minimal varint
    expect(decodeToken(craft([0x00, 0x02, 0x01, 0x01, 0x01, 0x00, 0x01, 0x01]))).toBeUndefined(); // unsorted
    expect(decodeToken(craft([0x00, 0x02, 0x00, 0x01, 0x01, 0x00, 0x01, 0x02]))).toBeUndefined(); // repeated domain
    expect(decodeToken(craft([0x00, 0x01, 0x00, 0x01, 0x2a, 0x00]))).toBeUndefined(); // trailing byte
    expect(decodeToken(craft([0x00, 0x02, 0x00, 0x01, 0x2a]))).toBeUndefined(); // truncated body
    expect(decodeToken(craft([0x04, 0x00]))).toBeUndefined(); // unknown header bit
    expect(decodeToken(craft([0x00, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01, 0x01]))).toBeUndefined(); // domain 2^32
    const uuid = [...Buffer.from(UUID.replaceAll('-', ''), 'hex')];
    expect(decodeToken(craft([0x01, 0x01, ...uuid, 0x00, 0x01, 0x00, 0x04]))).toEqual(
      position('mysql', `${UUID}:1-5`),
    );
    expect(decodeToken(craft([0x01, 0x01, ...uuid, 0x00, 0x00]))).toBeUndefined(); // entry without intervals
    expect(decodeToken(craft([0x01, 0x01, ...uuid, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00]))).toBeUndefined(); // adjacent
    expect(
      decodeToken(craft([0x01, 0x01, ...uuid, 0x03, 0x41, 0x42, 0x43, 0x01, 0x00, 0x00])),
    ).toBeUndefined(); // upper-case tag
    expect(
      decodeToken(craft([0x01, 0x01, ...uuid, 0x21, ...Array(33).fill(0x61), 0x01, 0x00, 0x00])),
    ).toBeUndefined();
  });

  it('marks an incomplete token (a write of unknown position): decode sends it to the primary, inspect says why', () => {
    const codec = createTokenCodec();
    const signed = createTokenCodec({ secret: SECRET });
    fc.assert(
      fc.property(positionArb, (pos) => {
        for (const c of [codec, signed]) {
          const token = c.encode(pos, { incomplete: true });
          expect(c.decode(token)).toBeUndefined();
          expect(c.inspect(token)).toEqual({ position: pos, incomplete: true });
          expect(c.inspect(c.encode(pos))).toEqual({ position: pos, incomplete: false });
        }
      }),
    );
    // The flag is covered by the checksum like the rest: clearing it breaks the token.
    const token = codec.encode(position('mariadb', '0-1-42'), { incomplete: true });
    const bytes = Buffer.from(token.slice(TOKEN_VERSION_PREFIX.length), 'base64url');
    bytes[0] = (bytes[0] ?? 0) & ~0x02;
    expect(codec.inspect(`${TOKEN_VERSION_PREFIX}${bytes.toString('base64url')}`)).toBeUndefined();
  });

  it('accepts a hand-made unsigned token: without a secret, anyone can name a position', () => {
    expect(decodeToken(craft([0x00, 0x01, 0x00, 0x01, 0x7f]))).toEqual(position('mariadb', '0-1-127'));
  });
});

describe('consistency tokens: signing', () => {
  const signed = createTokenCodec({ secret: SECRET });
  const pos = position('mariadb', '0-1-42');

  it('refuses unsigned tokens when a secret is configured, so clients cannot forge positions', () => {
    expect(signed.signed).toBe(true);
    expect(signed.decode(encodeToken(pos))).toBeUndefined();
    expect(signed.decode(craft([0x00, 0x01, 0x00, 0x01, 0x7f]))).toBeUndefined();
  });

  it('refuses signed tokens when no secret is configured (it cannot check them)', () => {
    expect(decodeToken(signed.encode(pos))).toBeUndefined();
  });

  it('refuses tokens signed with another secret, or with the signed bit forged', () => {
    expect(createTokenCodec({ secret: OTHER_SECRET }).decode(signed.encode(pos))).toBeUndefined();
    const content = Buffer.from([0x80, 0x01, 0x00, 0x01, 0x7f]);
    const wrongMac = createHmac('sha256', 'guess-guess-guess').update(content).digest().subarray(0, 16);
    expect(signed.decode(`v1.${Buffer.concat([content, wrongMac]).toString('base64url')}`)).toBeUndefined();
  });

  it('accepts a correctly signed token made elsewhere with the same secret', () => {
    const content = Buffer.from([0x80, 0x01, 0x00, 0x01, 0x7f]);
    const mac = createHmac('sha256', SECRET)
      .update('rwsplit-token-v1')
      .update(content)
      .digest()
      .subarray(0, 16);
    expect(signed.decode(`v1.${Buffer.concat([content, mac]).toString('base64url')}`)).toEqual(
      position('mariadb', '0-1-127'),
    );
  });

  it('rotates secrets: the first signs, every one verifies', () => {
    const old = createTokenCodec({ secret: OTHER_SECRET });
    const rotating = createTokenCodec({ secret: [SECRET, OTHER_SECRET] });
    expect(rotating.decode(old.encode(pos))).toEqual(pos);
    expect(signed.decode(rotating.encode(pos))).toEqual(pos);
    expect(old.decode(rotating.encode(pos))).toBeUndefined();
  });

  it('takes the secret as bytes too', () => {
    const bytes = createTokenCodec({ secret: Buffer.from(SECRET) });
    expect(bytes.decode(signed.encode(pos))).toEqual(pos);
    expect(
      decodeToken(encodeToken(pos, { secret: SECRET }), { secret: new TextEncoder().encode(SECRET) }),
    ).toEqual(pos);
  });

  it('rejects weak or malformed secrets at construction', () => {
    expect(() => createTokenCodec({ secret: 'short' })).toThrow(InvalidArgumentError);
    expect(() => createTokenCodec({ secret: [] })).toThrow(/at least one/);
    expect(() => createTokenCodec({ secret: 42 as never })).toThrow(/at least 16 bytes/);
    expect(createTokenCodec({}).signed).toBe(false);
  });

  it('round-trips MySQL positions signed', () => {
    const mysqlPos = mysqlPosition(
      (parsePosition('mysql', `${UUID}:1-9:blue:3`) as { ok: true; value: { gtidSet: MySqlGtidSet } }).value
        .gtidSet,
    );
    expect(signed.decode(signed.encode(mysqlPos))).toEqual(mysqlPos);
  });
});
