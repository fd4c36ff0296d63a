/**
 * A self-signed certificate for `localhost` and 127.0.0.1, valid for a day, made by openssl (which
 * `.ci/run` installs) in a temporary folder: for wss:// servers in tests, and for the CLI's --ca,
 * --tls-cert and --tls-key, which take files.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scaled } from './time.js';

export interface Certificate {
  key: Buffer;
  cert: Buffer;
  /** The files, until `remove()`. */
  keyPath: string;
  certPath: string;
  remove(): void;
}

export function selfSignedCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'fullduplex-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: scaled(30_000) },
    );
    return {
      key: readFileSync(keyPath),
      cert: readFileSync(certPath),
      keyPath,
      certPath,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
