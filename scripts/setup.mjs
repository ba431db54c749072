#!/usr/bin/env node
// One-time set-up shared by `npm start`, `npm test` and `npm run bench`: installs whatever a fresh
// Debian/Ubuntu machine lacks, and nothing when everything is already there (it runs on every call).
// Plain Node with no dependencies, because it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// binary → Debian package that provides it. The file ships in @rwsplit/cluster, whose harness reads it to
// name the package to install; plain fs, as this runs before node_modules exists.
const SYSTEM_BINARIES = JSON.parse(
  readFileSync(join(root, 'packages', 'cluster', 'system-packages.json'), 'utf8'),
);
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

function fail(message) {
  console.error(`rwsplit setup: ${message}`);
  process.exit(1);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`Node ${process.versions.node} is too old; install Node >= 20.19 and run this command again.`);
  }
}

function onPath(binary) {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SBIN_DIRS].filter(Boolean);
  return dirs.some((dir) => existsSync(join(dir, binary)));
}

function canRun(command, args) {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

function installSystemPackages(packages) {
  const isRoot = process.getuid?.() === 0;
  const viaSudo = !isRoot && canRun('sudo', ['-n', 'true']);
  const aptCommand = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (!isRoot && !viaSudo) {
    fail(`missing system packages; run: sudo sh -c '${aptCommand}'`);
  }
  // A policy-rc.d that answers 101 keeps the packages' own services (system MariaDB on :3306, nginx on
  // :80) from being started on our behalf; the harness starts its own instances. An existing policy
  // file is the machine owner's and is left untouched.
  const policy = '/usr/sbin/policy-rc.d';
  const script = [
    'set -e',
    `created=0; if [ ! -e ${policy} ]; then printf '#!/bin/sh\\nexit 101\\n' > ${policy}; chmod 755 ${policy}; created=1; fi`,
    `trap 'if [ "$created" = 1 ]; then rm -f ${policy}; fi' EXIT`,
    'export DEBIAN_FRONTEND=noninteractive',
    aptCommand,
  ].join('\n');
  console.error(`rwsplit setup: installing ${packages.join(' ')} with apt-get (one-time)`);
  const result = viaSudo
    ? spawnSync('sudo', ['-n', 'sh', '-c', script], { stdio: 'inherit' })
    : spawnSync('sh', ['-c', script], { stdio: 'inherit' });
  if (result.status !== 0) fail(`apt-get failed; run it yourself: sudo sh -c '${aptCommand}'`);
}

function checkSystemBinaries() {
  const missing = Object.entries(SYSTEM_BINARIES).filter(([binary]) => !onPath(binary));
  if (missing.length === 0) return;
  installSystemPackages([...new Set(missing.map(([, pkg]) => pkg))]);
  const still = Object.keys(SYSTEM_BINARIES).filter((binary) => !onPath(binary));
  if (still.length > 0) fail(`still missing after install: ${still.join(', ')}`);
}

// node_modules is stale when the lockfile changed since the last `npm ci` that this script ran.
function checkNodeModules() {
  const lockfile = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.rwsplit-setup-stamp');
  const wanted = existsSync(lockfile)
    ? createHash('sha256').update(readFileSync(lockfile)).digest('hex')
    : 'no-lockfile';
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  console.error('rwsplit setup: installing npm packages (npm ci)');
  try {
    execFileSync('npm', [existsSync(lockfile) ? 'ci' : 'install', '--no-audit', '--no-fund'], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    rmSync(stamp, { force: true });
    fail('npm ci failed; see the output above, then run this command again.');
  }
  writeFileSync(stamp, wanted);
}

checkNode();
// --system-only: used while another process owns node_modules (npm ci would replace it under them).
if (!process.argv.includes('--system-only')) checkNodeModules();
checkSystemBinaries();
