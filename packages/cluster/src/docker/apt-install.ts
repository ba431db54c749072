import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { runCommand } from '../managed-process.js';

/** Whether a system binary is installed (on PATH or in an sbin directory). */
export function hasBinary(name: string): boolean {
  try {
    findBinary(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs Debian packages with apt-get, as root, without starting their services: the technique of
 * scripts/setup.mjs `installSystemPackages` (which cannot be imported: it runs before node_modules exists).
 * A policy-rc.d answering 101 stops docker.io's and containerd's postinst from starting the system
 * daemons on /var/run/docker.sock; an existing policy file is the machine owner's and stays as it is.
 */
export async function installDebianPackages(
  packages: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  const aptCommand = `apt-get update && apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 ${packages.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new ClusterError(
      `${packages.join(', ')} missing and this process is not root; install them: sudo sh -c '${aptCommand}'`,
      'CLUSTER_MISSING_BINARY',
    );
  }
  const policy = '/usr/sbin/policy-rc.d';
  const script = [
    'set -e',
    `created=0; if [ ! -e ${policy} ]; then printf '#!/bin/sh\\nexit 101\\n' > ${policy}; chmod 755 ${policy}; created=1; fi`,
    `trap 'if [ "$created" = 1 ]; then rm -f ${policy}; fi' EXIT`,
    'export DEBIAN_FRONTEND=noninteractive',
    aptCommand,
  ].join('\n');
  log(`docker: installing ${packages.join(' ')} with apt-get (one-time)`);
  try {
    await runCommand('sh', ['-c', script], { timeoutMs: 15 * 60_000 });
  } catch (error) {
    throw new ClusterError(
      `apt-get could not install ${packages.join(' ')} (${error instanceof Error ? error.message : String(error)}); run it yourself: sh -c '${aptCommand}'`,
      'CLUSTER_MISSING_BINARY',
      { cause: error },
    );
  }
}
