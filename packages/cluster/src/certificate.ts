import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { runCommand } from './managed-process.js';

export interface Certificate {
  /** PEM with certificate and key, as HAProxy's `crt` wants it. */
  readonly bundlePath: string;
  /** The self-signed certificate alone: clients pass it as their trusted CA. */
  readonly certificatePem: string;
}

/** A fresh self-signed P-256 certificate for the LB's address, valid for a week. */
export async function createCertificate(dir: string, address: string): Promise<Certificate> {
  const key = join(dir, 'lb.key');
  const cert = join(dir, 'lb.crt');
  await runCommand(findBinary('openssl'), [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '7',
    '-subj',
    '/CN=rwsplit-lb',
    '-addext',
    `subjectAltName=IP:${address},DNS:localhost`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const certificatePem = readFileSync(cert, 'utf8');
  const bundlePath = join(dir, 'lb.pem');
  writeFileSync(bundlePath, certificatePem + readFileSync(key, 'utf8'), { mode: 0o600 });
  return { bundlePath, certificatePem };
}
