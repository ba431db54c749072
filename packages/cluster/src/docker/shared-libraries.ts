import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { IMAGE_BUILD_FAILED } from './error-codes.js';

/** What `ldd` says a binary loads: the resolved paths, and the names it could not resolve. */
export interface LddResult {
  readonly libraries: string[];
  readonly missing: string[];
}

/**
 * Parses `ldd` output: `libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)`, the loader's own
 * `/lib64/ld-linux-x86-64.so.2 (0x...)`, `libfoo.so => not found`. The vDSO (no file) is skipped.
 */
export function parseLdd(text: string): LddResult {
  const libraries: string[] = [];
  const missing: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const arrow = /^(\S+)\s+=>\s+(.*)$/.exec(line);
    if (arrow) {
      const [, name, target] = arrow;
      if (target?.startsWith('not found')) missing.push(name ?? '');
      else {
        const path = /^(\/\S+)/.exec(target ?? '')?.[1];
        if (path !== undefined) libraries.push(path);
      }
      continue;
    }
    const direct = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (direct?.[1]) libraries.push(direct[1]);
  }
  return { libraries, missing };
}

/**
 * Parses `dpkg -S path...`: `libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6` (several owners are
 * comma-separated; the first is taken, the architecture qualifier dropped). Diversion lines are skipped.
 */
export function parseDpkgSearch(text: string): Map<string, string> {
  const owners = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('diversion ')) continue;
    const match = /^(.+?): (\/.*)$/.exec(line.trim());
    if (!match?.[1] || !match[2]) continue;
    const first = match[1]
      .split(',')[0]
      ?.trim()
      .replace(/:[\w-]+$/, '');
    if (first) owners.set(match[2], first);
  }
  return owners;
}

/**
 * The Debian packages that provide the shared libraries `binary` loads, sorted, so an image can install
 * them. A library that no package owns (nor its real path, after /lib → /usr/lib merges) or that ldd
 * cannot find is an error: an image could not provide it. A static binary needs none.
 */
export function sharedLibraryPackages(binary: string): string[] {
  const ldd = spawnSync(findBinary('ldd'), [binary], { encoding: 'utf8' });
  if (ldd.status !== 0) return []; // "not a dynamic executable"
  const { libraries, missing } = parseLdd(ldd.stdout);
  if (missing.length > 0) {
    throw new ClusterError(
      `${binary} needs ${missing.join(', ')}, which ldd cannot find on this machine; reinstall Node so that it runs here first`,
      IMAGE_BUILD_FAILED,
    );
  }
  const candidates = libraries.flatMap((path) => [path, realPath(path)]);
  const search = spawnSync(findBinary('dpkg'), ['-S', ...new Set(candidates)], { encoding: 'utf8' });
  const owners = parseDpkgSearch(search.stdout ?? '');
  const packages = new Set<string>();
  for (const path of libraries) {
    const owner = owners.get(path) ?? owners.get(realPath(path));
    if (owner === undefined) {
      throw new ClusterError(
        `${binary} loads ${path}, which no Debian package provides, so the node image cannot carry it; use a Node whose libraries come from Debian packages (the nodejs.org or NodeSource builds do)`,
        IMAGE_BUILD_FAILED,
      );
    }
    packages.add(owner);
  }
  return [...packages].sort();
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
