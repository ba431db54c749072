import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A self-signed certificate a test made for itself: no CA of the cluster's knows it. */
export interface SelfSigned {
  readonly certificateFile: string;
  readonly keyFile: string;
  /** The certificate (PEM): pass it as `ca` to trust exactly this one. */
  readonly certificatePem: string;
}

/**
 * A fresh P-256 certificate for `name`, valid a day, written to `dir` as `<name>.crt`/`<name>.key`;
 * `ip` adds it as the subjectAltName a client checks.
 */
export function selfSigned(dir: string, name: string, ip?: string): Promise<SelfSigned> {
  const keyFile = join(dir, `${name}.key`);
  const certificateFile = join(dir, `${name}.crt`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-days', '1', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certificateFile);
  if (ip !== undefined) args.push('-addext', `subjectAltName=IP:${ip}`);
  return new Promise((resolve, reject) =>
    execFile('openssl', args, (error) =>
      error
        ? reject(error)
        : resolve({ certificateFile, keyFile, certificatePem: readFileSync(certificateFile, 'utf8') }),
    ),
  );
}
