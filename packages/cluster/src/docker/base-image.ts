import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import {
  type AptSource,
  DEFAULT_MIRRORS,
  type DebianMirrors,
  debianMirrors,
  parseOsRelease,
  readHostAptSources,
  renderImageSources,
} from './apt-sources.js';
import { dockerBinary, dockerEnv, runLogged } from './docker-cli.js';
import type { DockerEngine } from './engine.js';
import { IMAGE_BUILD_FAILED } from './error-codes.js';

/** A file the base image gets on top of what debootstrap installs. */
export interface BaseFile {
  readonly content: string;
  readonly mode: number;
}

/** Everything that decides the base image's contents: its tag is a hash of this. */
export interface BaseImageSpec {
  readonly codename: string;
  /** Debian's name for the architecture (`amd64`, `arm64`). */
  readonly arch: string;
  readonly variant: 'minbase';
  readonly mirrors: DebianMirrors;
  /** Written into the tree after debootstrap, by absolute path inside the image. */
  readonly files: Readonly<Record<string, BaseFile>>;
  /** Removed from the tree (globs not supported: directories are emptied, files deleted). */
  readonly removes: readonly string[];
}

// Bumped when the way a base is made changes in a way the spec does not show.
const BASE_FORMAT = 1;
const FALLBACK_CODENAME = 'bookworm';

// Images are built once and never upgraded in place: no recommends, and no package caches kept in layers
// (the rule Debian's own docker images carry as docker-clean).
const APT_CONF = `APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`;

// No package installed in an image may start its service during the build: the runtime gives each
// container its command.
const POLICY_RC_D = '#!/bin/sh\nexit 101\n';

/**
 * The base for this machine: its Debian release, architecture and mirrors (so image packages have the
 * host's versions). A machine that is not Debian gets bookworm from deb.debian.org.
 */
export function baseImageSpec(osRelease: string, sources: readonly AptSource[], arch: string): BaseImageSpec {
  const release = parseOsRelease(osRelease);
  const onDebian = release.id === 'debian' && release.codename !== undefined;
  const codename = onDebian ? (release.codename ?? FALLBACK_CODENAME) : FALLBACK_CODENAME;
  const mirrors = onDebian ? debianMirrors(sources, codename) : DEFAULT_MIRRORS;
  return {
    codename,
    arch,
    variant: 'minbase',
    mirrors,
    files: {
      '/etc/apt/sources.list.d/debian.sources': {
        content: renderImageSources(mirrors, codename),
        mode: 0o644,
      },
      '/etc/apt/apt.conf.d/90rwsplit-image': { content: APT_CONF, mode: 0o644 },
      '/usr/sbin/policy-rc.d': { content: POLICY_RC_D, mode: 0o755 },
    },
    removes: ['/etc/apt/sources.list', '/var/lib/apt/lists', '/var/cache/apt/archives'],
  };
}

/** Debian's architecture name for Node's. */
export function debianArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'armhf',
    ia32: 'i386',
    ppc64: 'ppc64el',
    s390x: 's390x',
  };
  return names[nodeArch] ?? nodeArch;
}

export function hostBaseImageSpec(): BaseImageSpec {
  let osRelease = '';
  try {
    osRelease = readFileSync('/etc/os-release', 'utf8');
  } catch {
    // not Linux as we know it: the fallback release
  }
  return baseImageSpec(osRelease, readHostAptSources(), debianArch());
}

/** `rwsplit/base:<hash of the spec>`: a changed mirror, release or file makes a new base. */
export function baseImageTag(spec: BaseImageSpec): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ format: BASE_FORMAT, ...spec }))
    .digest('hex');
  return `rwsplit/base:${hash.slice(0, 16)}`;
}

/**
 * Makes the base image without any registry: `debootstrap --variant=minbase` of the release into a
 * scratch directory, this spec's files on top, then the tree as a tar stream into `docker import`.
 */
export async function buildBaseImage(
  engine: DockerEngine,
  spec: BaseImageSpec,
  tag: string,
  buildDir: string,
  log: (line: string) => void,
): Promise<void> {
  mkdirSync(buildDir, { recursive: true });
  // On disk, not a tmpfs: debootstrap runs the tree's own binaries in a chroot (noexec /tmp would stop it)
  // and the tree is a few hundred MB.
  const work = mkdtempSync(join(buildDir, 'base-'));
  const logFile = join(buildDir, `${tag.replace(/[/:]/g, '-')}.log`);
  rmSync(logFile, { force: true });
  const tree = join(work, 'rootfs');
  try {
    log(
      `docker: debootstrap ${spec.codename} (${spec.variant}, ${spec.arch}) from ${spec.mirrors.mirror} (log: ${logFile})`,
    );
    await runLogged(
      findBinary('debootstrap'),
      [
        `--variant=${spec.variant}`,
        `--arch=${spec.arch}`,
        '--components=main',
        spec.codename,
        tree,
        spec.mirrors.mirror,
      ],
      {
        logFile,
        what: `debootstrap of ${spec.codename} from ${spec.mirrors.mirror}`,
        advice: `debootstrap needs ${spec.mirrors.mirror} (the mirror of this machine's apt sources): check that apt-get update works here, then try again.`,
        timeoutMs: 20 * 60_000,
      },
    );
    applySpec(tree, spec);
    log(`docker: importing the tree as ${tag}`);
    await importTree(engine, tree, tag, logFile);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  rmSync(logFile, { force: true });
}

function applySpec(tree: string, spec: BaseImageSpec): void {
  for (const path of spec.removes) {
    const target = join(tree, path);
    rmSync(target, { recursive: true, force: true });
  }
  // apt expects these to exist (it makes `partial/` itself, not its parents).
  mkdirSync(join(tree, 'var/lib/apt/lists/partial'), { recursive: true });
  mkdirSync(join(tree, 'var/cache/apt/archives/partial'), { recursive: true });
  for (const [path, file] of Object.entries(spec.files)) {
    const target = join(tree, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
  }
}

/** `tar -C tree -c . | docker import - tag`, with both sides' failures reported. */
async function importTree(engine: DockerEngine, tree: string, tag: string, logFile: string): Promise<void> {
  const tarLog = openSync(logFile, 'a');
  // Numeric owners: the tree's accounts are the image's, not this machine's names for those numbers.
  const tar = spawn(findBinary('tar'), ['--numeric-owner', '-C', tree, '-c', '.'], {
    stdio: ['ignore', 'pipe', tarLog],
  });
  closeSync(tarLog);
  const tarExit = once(tar, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await runLogged(
      dockerBinary(),
      ['import', '--change', 'CMD ["/bin/bash"]', '--change', 'LABEL io.rwsplit.image=base', '-', tag],
      {
        logFile,
        what: `docker import of the debootstrapped tree as ${tag}`,
        advice: `the engine at ${engine.socketPath} refused the import; check its log and free disk space, then try again.`,
        timeoutMs: 10 * 60_000,
        env: dockerEnv(engine),
        stdin: tar.stdout!, // stdio[1] is 'pipe'
      },
    );
  } catch (error) {
    tar.kill('SIGKILL');
    throw error;
  }
  const [code, signal] = await tarExit;
  if (code !== 0) {
    throw new ClusterError(
      `tar of the debootstrapped tree failed (${signal ?? `exit code ${code}`}); see ${logFile}`,
      IMAGE_BUILD_FAILED,
    );
  }
}
