// `rwsplit-cluster render`'s side effect: the rendering on disk, each file with its mode. The directories
// that will hold secrets are made 0700, so even a skeleton is never readable by others.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ClusterError } from '../errors.js';
import type { Rendering } from './render-hosts.js';

/** Writes every file of `rendering` under `dir`; `privateDirs` (relative, e.g. `db-1/etc/rwsplit/secrets`) get 0700. */
export function writeRendering(
  dir: string,
  rendering: Rendering,
  privateDirs: readonly string[] = [],
): string[] {
  const written: string[] = [];
  for (const [relative, file] of rendering) {
    const path = normalize(relative);
    if (isAbsolute(path) || path.split(sep).includes('..')) {
      throw new ClusterError(`refusing to write ${relative}: outside ${dir}`, 'CLUSTER_INVALID_OPTION');
    }
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content, { mode: file.mode });
    // The mode of writeFileSync applies only to a file it creates (and through the umask): set it exactly.
    chmodSync(target, file.mode);
    written.push(target);
  }
  for (const privateDir of privateDirs) {
    const target = join(dir, normalize(privateDir));
    mkdirSync(target, { recursive: true });
    chmodSync(target, 0o700);
  }
  return written;
}

/** The secrets directory of each host in a host rendering (`<host>/<secretsDir>`). */
export function secretDirs(hosts: readonly string[], secretsDir: string): string[] {
  return hosts.map((host) => `${host}/${secretsDir.replace(/^\/+/, '')}`);
}
