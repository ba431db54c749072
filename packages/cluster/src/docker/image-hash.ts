import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { ContextFile, ImageName } from './image-recipes.js';

/** Everything an image's contents depend on: its tag is a hash of this. */
export interface ImageInputs {
  readonly name: ImageName;
  /** Context files by their path in the context, with the sha256 of their bytes. */
  readonly files: readonly { readonly path: string; readonly sha256: string }[];
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The base image's id (`sha256:...`): a rebuilt base rebuilds every image on it. */
  readonly baseImageId: string;
}

// Bumped when the way images are built changes in a way the inputs do not show.
const IMAGE_FORMAT = 1;

/**
 * `rwsplit/<name>:<hash>` for these inputs. Order-independent (files by path, arguments by name), so
 * only contents change the tag: the Dockerfile's text, every context file's bytes, the build arguments
 * and the base.
 */
export function imageTag(inputs: ImageInputs): string {
  const canonical = {
    format: IMAGE_FORMAT,
    name: inputs.name,
    files: [...inputs.files]
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((file) => [file.path, file.sha256]),
    buildArgs: Object.entries(inputs.buildArgs).sort(([a], [b]) => a.localeCompare(b)),
    base: inputs.baseImageId,
  };
  const hash = createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
  return `rwsplit/${inputs.name}:${hash.slice(0, 16)}`;
}

// The node binary is ~100 MB: a big file is hashed once per process unless it changes (size, times,
// inode). Small files (Dockerfiles) are always read: file times are only as fine as the kernel's clock
// tick, and an edit a few ms after the last hash must not go unseen.
const MEMO_MIN_BYTES = 1 << 20;
const hashed = new Map<string, { readonly key: string; readonly sha256: string }>();

/** The sha256 of a file's bytes. */
export async function fileSha256(path: string): Promise<string> {
  const stat = statSync(path);
  const key = `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`;
  const known = stat.size >= MEMO_MIN_BYTES ? hashed.get(path) : undefined;
  if (known?.key === key) return known.sha256;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  if (stat.size >= MEMO_MIN_BYTES) hashed.set(path, { key, sha256 });
  return sha256;
}

/** The hashes of a recipe's context files. */
export async function contextHashes(files: readonly ContextFile[]): Promise<ImageInputs['files']> {
  return Promise.all(files.map(async (file) => ({ path: file.path, sha256: await fileSha256(file.source) })));
}
