/**
 * The byte layer of consistency tokens: unsigned LEB128 varints (bigint, at most 64 bits) over a growing
 * buffer, and a strict reader that refuses anything a writer would not have produced.
 */

const MAX_VARINT_BYTES = 10;
const MAX_UINT64 = (1n << 64n) - 1n;

/** Thrown by `ByteReader` on truncated or non-canonical input; the token decoder turns it into `undefined`. */
export class MalformedBytes extends Error {
  override name = 'MalformedBytes';
}

export class ByteWriter {
  private bytes: number[] = [];

  byte(value: number): this {
    this.bytes.push(value & 0xff);
    return this;
  }

  raw(data: Uint8Array): this {
    for (const b of data) this.bytes.push(b);
    return this;
  }

  /** Unsigned varint; `value` must be 0 .. 2^64-1. */
  uint(value: bigint | number): this {
    let rest = BigInt(value);
    if (rest < 0n || rest > MAX_UINT64) throw new RangeError(`varint out of range: ${rest}`);
    while (rest >= 0x80n) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.bytes.push(Number(rest));
    return this;
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export class ByteReader {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  get done(): boolean {
    return this.offset === this.data.length;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  byte(): number {
    const value = this.data[this.offset];
    if (value === undefined) throw new MalformedBytes('truncated');
    this.offset++;
    return value;
  }

  raw(length: number): Uint8Array {
    if (length > this.remaining) throw new MalformedBytes('truncated');
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** A minimal-length varint no larger than `max`. */
  uint(max: bigint = MAX_UINT64): bigint {
    let value = 0n;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte();
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        // A last byte of 0 after others is padding a writer never emits: one value, one encoding.
        if (b === 0 && i > 0) throw new MalformedBytes('non-minimal varint');
        if (value > max) throw new MalformedBytes('number out of range');
        return value;
      }
    }
    throw new MalformedBytes('varint too long');
  }

  /** A varint that must fit a JS number below `max`. */
  count(max: number): number {
    return Number(this.uint(BigInt(max)));
  }
}
