import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { ClusterError } from './errors.js';
import { runCommand } from './managed-process.js';

/** The cluster's own certificate authority: made at start, trusted by every client of the cluster. */
export interface ClusterCa {
  /** The CA certificate (PEM): what clients pass as `ca`. */
  readonly certificatePem: string;
  readonly certificateFile: string;
  /** The CA's private key (0600); it signs the certificates below and nothing else. */
  readonly keyFile: string;
}

/** A certificate the cluster CA issued for one service. */
export interface IssuedCertificate {
  readonly certificateFile: string;
  /** Private key, 0600. */
  readonly keyFile: string;
  /** Certificate then key in one file (0600), as HAProxy's `crt` wants it. */
  readonly bundleFile: string;
}

/** Valid for a week: long enough for any run, short enough that a leaked file soon stops mattering. */
export const CERTIFICATE_DAYS = 7;
const DAYS = String(CERTIFICATE_DAYS);

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A fresh P-256 CA in `dir` (`ca.crt`, `ca.key`). */
export async function createClusterCa(dir: string, name: string): Promise<ClusterCa> {
  const keyFile = join(dir, 'ca.key');
  const certificateFile = join(dir, 'ca.crt');
  await runCommand(findBinary('openssl'), [
    'req',
    '-x509',
    ...P256,
    '-days',
    DAYS,
    '-subj',
    `/CN=${name} CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    keyFile,
    '-out',
    certificateFile,
  ]);
  chmodSync(keyFile, 0o600);
  chmodSync(certificateFile, 0o644);
  return { certificatePem: readFileSync(certificateFile, 'utf8'), certificateFile, keyFile };
}

/**
 * A server certificate signed by `ca` for `names` (IP addresses become IP SANs, anything else DNS
 * SANs: clients check the address they dialled against them), written to `dir` as `<file>.crt/.key/.pem`,
 * valid for `days` whole days (default a week; 1 makes one about to expire, for the expiry alert).
 */
export async function issueCertificate(
  ca: ClusterCa,
  dir: string,
  file: string,
  commonName: string,
  names: readonly string[],
  days: number = CERTIFICATE_DAYS,
): Promise<IssuedCertificate> {
  if (!Number.isInteger(days) || days < 1 || days > CERTIFICATE_DAYS) {
    throw new ClusterError(
      `a certificate is valid for 1 to ${CERTIFICATE_DAYS} whole days (the CA's own lifetime), got ${days}`,
      'CLUSTER_INVALID_OPTION',
    );
  }
  const keyFile = join(dir, `${file}.key`);
  const requestFile = join(dir, `${file}.csr`);
  const certificateFile = join(dir, `${file}.crt`);
  const extensionsFile = join(dir, `${file}.ext`);
  const openssl = findBinary('openssl');
  await runCommand(openssl, [
    'req',
    ...P256,
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    keyFile,
    '-out',
    requestFile,
  ]);
  chmodSync(keyFile, 0o600);
  const sans = [...new Set(names)].map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  writeFileSync(
    extensionsFile,
    `subjectAltName=${sans}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  await runCommand(openssl, [
    'x509',
    '-req',
    '-in',
    requestFile,
    '-CA',
    ca.certificateFile,
    '-CAkey',
    ca.keyFile,
    // A random serial per certificate: issuing several at once then shares no serial file.
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    String(days),
    '-extfile',
    extensionsFile,
    '-out',
    certificateFile,
  ]);
  const bundleFile = join(dir, `${file}.pem`);
  writeFileSync(bundleFile, readFileSync(certificateFile, 'utf8') + readFileSync(keyFile, 'utf8'), {
    mode: 0o600,
  });
  return { certificateFile, keyFile, bundleFile };
}
