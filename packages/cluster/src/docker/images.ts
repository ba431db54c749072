import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClusterError } from '../errors.js';
import { DockerApi, DockerApiError } from '../runtime/docker-api.js';
import { type BaseImageSpec, baseImageTag, buildBaseImage, hostBaseImageSpec } from './base-image.js';
import { dockerBinary, dockerEnv, runLogged } from './docker-cli.js';
import type { DockerEngine } from './engine.js';
import { IMAGE_BUILD_FAILED } from './error-codes.js';
import { contextHashes, imageTag } from './image-hash.js';
import { type ImageName, type ImageRecipe, imageRecipe } from './image-recipes.js';
import { withNamedLock } from './named-lock.js';

export { IMAGE_NAMES, type ImageName } from './image-recipes.js';

/** One image this process actually built (a cached one is not reported). */
export interface ImageBuild {
  readonly name: ImageName | 'base';
  readonly tag: string;
  readonly ms: number;
}

export interface EnsureImagesOptions {
  /** Progress lines (what is built, where its log is). Default: none. */
  readonly log?: ((line: string) => void) | undefined;
  /** Told of every image built by this call, base included: none when everything was cached. */
  readonly onBuild?: ((build: ImageBuild) => void) | undefined;
}

/**
 * Scratch space for builds: debootstrap trees, build contexts (the node binary is copied in) and the
 * log of a build in progress, kept when it fails. On disk, not in a tmpfs.
 */
export const BUILD_DIR = '/var/tmp/rwsplit-docker-build';

const BUILD_LOCK = 'docker-images';
// Several builds in a row may be ahead of a waiter (a first run debootstraps, then builds five images).
const BUILD_LOCK_TIMEOUT_MS = 60 * 60_000;
const BUILD_TIMEOUT_MS = 30 * 60_000;

/**
 * The images `names` on `engine`, built if missing, as tags for the runtime to run. Each tag is a hash
 * of what goes into the image (its Dockerfile, every file of its context, its build arguments, the
 * base image's id), so an unchanged image is found and nothing is built; builds are serialised across
 * processes by a lock. The base image is this machine's Debian release, made locally with debootstrap
 * (no registry is asked for anything).
 */
export async function ensureImages<N extends ImageName>(
  engine: DockerEngine,
  names: readonly N[],
  options: EnsureImagesOptions = {},
): Promise<Readonly<Record<N, string>>> {
  const log = options.log ?? (() => {});
  const api = new DockerApi(engine.socketPath);
  const base = hostBaseImageSpec();
  const baseTag = baseImageTag(base);
  const recipes = [...new Set(names)].map((name) => imageRecipe(name));
  const inputs = await Promise.all(
    recipes.map(async (recipe) => ({ recipe, files: await contextHashes(recipe.files) })),
  );

  const planned = async () => {
    const baseId = await imageId(api, baseTag);
    const tags = inputs.map(({ recipe, files }) =>
      baseId === undefined
        ? undefined
        : imageTag({ name: recipe.name, files, buildArgs: recipe.buildArgs, baseImageId: baseId }),
    );
    const present = await Promise.all(
      tags.map(async (tag) => tag !== undefined && (await imageId(api, tag)) !== undefined),
    );
    return { baseId, tags, complete: present.every(Boolean) };
  };

  const first = await planned();
  if (first.complete) return tagsByName(recipes, first.tags);
  return withNamedLock(BUILD_LOCK, 'building the rwsplit docker images', BUILD_LOCK_TIMEOUT_MS, async () => {
    // Another process may have built them while this one waited.
    let plan = await planned();
    if (plan.baseId === undefined) {
      await timed('base', baseTag, options, () => buildBaseImage(engine, base, baseTag, BUILD_DIR, log));
      plan = await planned();
      if (plan.baseId === undefined) throw missingAfterBuild(baseTag, engine);
    }
    for (const [index, { recipe }] of inputs.entries()) {
      const tag = plan.tags[index];
      if (tag === undefined || (await imageId(api, tag)) !== undefined) continue;
      await timed(recipe.name, tag, options, () => buildImage(engine, recipe, base, baseTag, tag, log));
      await pruneRepository(api, tag, log);
    }
    // Last: an outdated base goes once no image on it is left.
    await pruneRepository(api, baseTag, log);
    return tagsByName(recipes, plan.tags);
  });
}

function tagsByName<N extends ImageName>(
  recipes: readonly ImageRecipe[],
  tags: readonly (string | undefined)[],
): Readonly<Record<N, string>> {
  const byName: Partial<Record<ImageName, string>> = {};
  for (const [index, recipe] of recipes.entries()) {
    const tag = tags[index];
    if (tag === undefined) throw new Error(`no tag for ${recipe.name}`); // planned() is complete here
    byName[recipe.name] = tag;
  }
  return Object.freeze(byName) as Readonly<Record<N, string>>;
}

async function timed(
  name: ImageName | 'base',
  tag: string,
  options: EnsureImagesOptions,
  build: () => Promise<void>,
): Promise<void> {
  const started = performance.now();
  await build();
  const ms = Math.round(performance.now() - started);
  options.log?.(`docker: built ${tag} in ${(ms / 1000).toFixed(1)} s`);
  options.onBuild?.({ name, tag, ms });
}

/** The image's id, or undefined when the engine has no image by that reference. */
async function imageId(api: DockerApi, reference: string): Promise<string | undefined> {
  try {
    return (await api.call<{ Id: string }>('GET', `/images/${reference}/json`)).Id;
  } catch (error) {
    if (error instanceof DockerApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** `docker build` of one image in a scratch context: its Dockerfile directory plus the recipe's files. */
async function buildImage(
  engine: DockerEngine,
  recipe: ImageRecipe,
  base: BaseImageSpec,
  baseTag: string,
  tag: string,
  log: (line: string) => void,
): Promise<void> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const context = mkdtempSync(join(BUILD_DIR, `${recipe.name}-`));
  const logFile = join(BUILD_DIR, `${tag.replace(/[/:]/g, '-')}.log`);
  rmSync(logFile, { force: true });
  try {
    for (const file of recipe.files) {
      const target = join(context, file.path);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(file.source, target);
    }
    const buildArgs = Object.entries({ ...recipe.buildArgs, BASE: baseTag }).flatMap(([key, value]) => [
      '--build-arg',
      `${key}=${value}`,
    ]);
    log(`docker: building ${tag} (log: ${logFile})`);
    await runLogged(
      dockerBinary(),
      [
        'build',
        '--network',
        'host',
        '--force-rm',
        '--label',
        `io.rwsplit.image=${recipe.name}`,
        ...buildArgs,
        '-t',
        tag,
        context,
      ],
      {
        logFile,
        what: `docker build of ${tag}`,
        advice: `apt-get inside the build fetches from ${base.mirrors.mirror} and ${base.mirrors.securityMirror} (this machine's apt mirrors) over the host network: check that they answer, then try again.`,
        timeoutMs: BUILD_TIMEOUT_MS,
        env: dockerEnv(engine),
      },
    );
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  rmSync(logFile, { force: true });
}

/**
 * Drops the repository's other tags once a new one is built (an older hash is never asked for again),
 * so the cache does not grow with every change. An image still in use or still a parent stays: the
 * engine refuses, and that is fine.
 */
async function pruneRepository(api: DockerApi, keep: string, log: (line: string) => void): Promise<void> {
  const repository = keep.slice(0, keep.lastIndexOf(':'));
  const filters = encodeURIComponent(JSON.stringify({ reference: [repository] }));
  const images = await api.call<{ RepoTags?: string[] | null }[]>('GET', `/images/json?filters=${filters}`);
  for (const tag of images.flatMap((image) => image.RepoTags ?? [])) {
    if (tag === keep || !tag.startsWith(`${repository}:`)) continue;
    try {
      await api.call('DELETE', `/images/${tag}`);
      log(`docker: removed the outdated ${tag}`);
    } catch {
      // in use, or a parent of another image
    }
  }
}

function missingAfterBuild(tag: string, engine: DockerEngine): ClusterError {
  return new ClusterError(
    `${tag} was built but the engine at ${engine.socketPath} does not list it; check the engine's disk space and log, then try again`,
    IMAGE_BUILD_FAILED,
  );
}
