/**
 * Certificates for mTLS tests, made at test time with the machine's openssl: a CA per role, a
 * server certificate (SAN: the server name and 127.0.0.1) and client certificates, as PEM files
 * (keys PKCS#8, EC P-256, v3 extensions as rustls and Go require: CA:TRUE only on the CAs,
 * serverAuth / clientAuth on the leaves).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CertPair {
  cert: string;
  key: string;
}

/** A self-signed CA: `<dir>/<name>.pem` and `<name>-key.pem`. */
export function makeCa(dir: string, name: string): CertPair {
  mkdirSync(dir, { recursive: true });
  const pair = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pair.key], dir);
  openssl(
    ['req', '-x509', '-new', '-key', pair.key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', pair.cert],
    dir,
  );
  return pair;
}

/** A leaf certificate signed by `ca`: for a server (SANs) or a client (clientAuth). */
export function makeLeaf(dir: string, name: string, ca: CertPair, opts: { server?: { dnsName: string } }): CertPair {
  const pair = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pair.key], dir);
  openssl(['req', '-new', '-key', pair.key, '-subj', `/CN=${opts.server?.dnsName ?? name}`, '-out', csr], dir);
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      opts.server ? 'extendedKeyUsage=serverAuth,clientAuth' : 'extendedKeyUsage=clientAuth',
      ...(opts.server ? [`subjectAltName=DNS:${opts.server.dnsName},IP:127.0.0.1`] : []),
      '',
    ].join('\n'),
  );
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', pair.cert], dir);
  return pair;
}
