import { InvalidOptionError } from '../errors.js';

/**
 * The checks every component's option resolver uses: each names the option's path in its error, so a
 * bad value is reported as `pool.max` or `replicas[1].port`, never as "invalid options".
 */

export type Bag = Readonly<Record<string, unknown>>;

export function isBag(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** An options object (`{}` when absent). */
export function bag(value: unknown, path: string): Bag {
  if (value === undefined) return {};
  if (!isBag(value)) throw new InvalidOptionError(path, `expected an object, got ${describe(value)}`);
  return value;
}

export function rejectUnknown(value: Bag, known: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new InvalidOptionError(prefixed(path, key), `unknown option (known: ${[...known].join(', ')})`);
    }
  }
}

export function prefixed(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function integer(value: unknown, path: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(path, `expected an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  fallback: T | undefined,
): T | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(
      path,
      `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
    );
  }
  return value as T;
}

export function optionalString(value: unknown, path: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new InvalidOptionError(path, `expected a string, got ${describe(value)}`);
  }
  return value;
}

export function hasMethods(value: unknown, path: string, methods: readonly string[]): void {
  if (value === undefined) return;
  const ok = isBag(value) && methods.every((m) => typeof value[m] === 'function');
  if (!ok)
    throw new InvalidOptionError(
      path,
      `expected an object with ${methods.join(', ')}(), got ${describe(value)}`,
    );
}
