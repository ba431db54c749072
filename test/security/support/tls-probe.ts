import { execFile } from 'node:child_process';

/** What `openssl s_client` got from one handshake. */
export interface Handshake {
  readonly established: boolean;
  /** `TLSv1.2`, `TLSv1.3` ... when established. */
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  readonly output: string;
}

/**
 * One handshake with `openssl s_client`, the certificate verified against `caFile`. `args` pick the
 * protocol and suites (`-tls1_2 -cipher ...`); `@SECLEVEL=0` in a cipher list lets the client offer old
 * protocols and suites, so a refusal is the server's, not the client's own policy.
 */
export function handshake(address: string, caFile: string, args: readonly string[]): Promise<Handshake> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', address, '-CAfile', caFile, '-verify_return_error', '-brief', ...args],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(output)?.[1]?.trim();
        resolve({
          established: error === null && output.includes('CONNECTION ESTABLISHED'),
          protocol: field('Protocol version'),
          cipher: field('Ciphersuite'),
          output,
        });
      },
    );
    child.stdin?.end();
  });
}

/** Each protocol and suite a scanner tries, with what the edge must answer. */
export const TLS_CASES: readonly { name: string; args: string[]; accepted: boolean }[] = [
  { name: 'TLS 1.0', args: ['-tls1', '-cipher', 'ALL:@SECLEVEL=0'], accepted: false },
  { name: 'TLS 1.1', args: ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0'], accepted: false },
  {
    name: 'TLS 1.2 CBC (ECDHE-ECDSA-AES128-SHA)',
    args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0'],
    accepted: false,
  },
  {
    name: 'TLS 1.2 CBC (ECDHE-ECDSA-AES256-SHA384)',
    args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0'],
    accepted: false,
  },
  {
    name: 'TLS 1.2 CBC (ECDHE-ECDSA-AES128-SHA256)',
    args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0'],
    accepted: false,
  },
  { name: 'TLS 1.2 AES-GCM', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], accepted: true },
  {
    name: 'TLS 1.2 ChaCha20-Poly1305',
    args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
    accepted: true,
  },
  { name: 'TLS 1.3', args: ['-tls1_3'], accepted: true },
];
