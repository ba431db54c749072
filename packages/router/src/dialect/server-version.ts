import type { Flavor } from '../consistency/position.js';

/** A server version string split up: `10.11.6-MariaDB-log` → mariadb 10.11.6. */
export interface ServerVersion {
  readonly flavor: Flavor;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/**
 * Reads `VERSION()` or the handshake's server version. MariaDB says so in the string; its handshake may
 * carry a `5.5.5-` prefix for old clients, skipped here. Anything else is MySQL (Percona included); an
 * unreadable number is taken as 0.0.0.
 */
export function parseServerVersion(version: string): ServerVersion {
  const flavor: Flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const text = flavor === 'mariadb' ? version.replace(/^5\.5\.5-/, '') : version;
  const match = /^\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return { flavor, major: 0, minor: 0, patch: 0 };
  return { flavor, major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

/** True when `version` is at least `major.minor.patch`. */
export function atLeast(version: ServerVersion, major: number, minor: number, patch: number): boolean {
  if (version.major !== major) return version.major > major;
  if (version.minor !== minor) return version.minor > minor;
  return version.patch >= patch;
}
