/**
 * When a connection to Temporal fails, say which setting to fix. The SDK's own errors are terse
 * ("Failed to connect before the deadline" from the client, a Rust transport error from the
 * worker), so a failed connect is followed by one TLS handshake of our own with the same settings
 * (node:tls), whose error codes tell a wrong CA, a wrong server name, a missing or refused client
 * certificate and a TLS/plain-text mismatch apart. Never prints a certificate, key or API key.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { TemporalConnectionConfig } from './temporal-connection';

export class TemporalConnectError extends Error {
  constructor(
    message: string,
    /** The setting to fix, when the probe found one. */
    readonly setting?: string,
  ) {
    super(message);
  }
}

function hostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw new Error(`not host:port: ${address}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

const CA_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

interface Finding {
  setting: string;
  hint: string;
}

/** One handshake with the settings of `cfg`; resolves with what is wrong, or null when nothing TLS-related is. */
export function probeTls(cfg: TemporalConnectionConfig, timeoutMs = 5000): Promise<Finding | null> {
  const { host, port } = hostPort(cfg.address);
  const t = cfg.tls;
  const serverName = t === false ? undefined : (t.serverName ?? (isIP(host) ? undefined : host));
  return new Promise((resolve) => {
    let settled = false;
    const done = (f: Finding | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(f);
    };
    const sock = tls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(serverName ? { servername: serverName } : {}),
      // With TLS off we only ask "does this server speak TLS at all?".
      rejectUnauthorized: t !== false,
      ...(t !== false && t.ca ? { ca: t.ca } : {}),
      ...(t !== false && t.clientCert && t.clientKey ? { cert: t.clientCert, key: t.clientKey.reveal() } : {}),
      // An IP address as the target: check it against the certificate's IP SANs.
      ...(serverName === undefined && t !== false ? { checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) } : {}),
    });
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.once('secureConnect', () => {
      if (t === false) {
        done({ setting: 'TEMPORAL_TLS', hint: 'the server speaks TLS but TLS is off: set TEMPORAL_TLS_CA_FILE (and TEMPORAL_TLS_CERT_FILE / TEMPORAL_TLS_KEY_FILE if it requires client certificates), or TEMPORAL_TLS=true' });
        return;
      }
      // TLS 1.3 checks the client certificate after our side finished: the server's first bytes
      // (HTTP/2 SETTINGS) mean it accepted us, an alert or a close means it did not.
      sock.once('data', () => done(null));
    });
    sock.once('close', () => {
      if (t !== false && !t.clientCert) done({ setting: 'TEMPORAL_TLS_CERT_FILE', hint: 'the server closed the connection after the handshake: it requires a client certificate; set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE' });
      else done(null);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      const msg = err.message ?? '';
      if (t === false) return done(null); // neither plain text nor TLS: not a TLS setting's fault
      if (CA_CODES.has(code)) {
        return done(
          t.ca
            ? { setting: 'TEMPORAL_TLS_CA_FILE', hint: `the server's certificate is not signed by the CA in TEMPORAL_TLS_CA(_FILE) (${code}): set it to the CA that issued the server certificate` }
            : { setting: 'TEMPORAL_TLS_CA_FILE', hint: `the server's certificate is not signed by a CA the system trusts (${code}): set TEMPORAL_TLS_CA_FILE to the CA that issued it` },
        );
      }
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
        return done({ setting: 'TEMPORAL_TLS_SERVER_NAME', hint: `the server's certificate is not valid for ${serverName ?? host}: set TEMPORAL_TLS_SERVER_NAME to a name the certificate lists` });
      }
      if (/CERTIFICATE_REQUIRED|certificate required|HANDSHAKE_FAILURE/i.test(code + msg) && !t.clientCert) {
        return done({ setting: 'TEMPORAL_TLS_CERT_FILE', hint: 'the server requires a client certificate: set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE' });
      }
      if (/UNKNOWN_CA|BAD_CERTIFICATE|unknown ca|bad certificate|CERTIFICATE_UNKNOWN/i.test(code + msg)) {
        return done(
          t.clientCert
            ? { setting: 'TEMPORAL_TLS_CERT_FILE', hint: "the server refused the client certificate in TEMPORAL_TLS_CERT(_FILE): it is not issued by a CA the server trusts for clients (the server's clientCaFiles)" }
            : { setting: 'TEMPORAL_TLS_CERT_FILE', hint: 'the server requires a client certificate: set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE' },
        );
      }
      if (/WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(code + msg)) {
        return done({ setting: 'TEMPORAL_TLS', hint: 'the server does not speak TLS on this port: set TEMPORAL_TLS=false and remove the TEMPORAL_TLS_* settings, or check TEMPORAL_ADDRESS' });
      }
      done(null);
    });
  });
}

/** The error to throw after a failed connect: the SDK's message plus the setting to fix when the probe finds one. */
export async function explainConnectError(cfg: TemporalConnectionConfig, err: unknown): Promise<TemporalConnectError> {
  const inner = (err as { cause?: { code?: number; details?: string } })?.cause;
  const cause = [String((err as Error)?.message ?? err), inner?.details].filter(Boolean).join(': ').split('\n')[0]!.slice(0, 400);
  // gRPC PERMISSION_DENIED (7) / UNAUTHENTICATED (16): the connection worked, the credentials did not.
  if (inner?.code === 7 || inner?.code === 16 || /PermissionDenied|Unauthenticated|Request unauthorized/i.test(cause)) {
    const what = cfg.apiKey ? 'the API key in TEMPORAL_API_KEY(_FILE) was refused (expired, from another issuer, or without rights on this namespace)' : 'the server requires credentials: set TEMPORAL_API_KEY_FILE';
    return new TemporalConnectError(`cannot connect to Temporal at ${cfg.describe()}: ${what} (TEMPORAL_API_KEY; see .env.example). SDK error: ${cause}`, 'TEMPORAL_API_KEY');
  }
  const finding = await probeTls(cfg).catch(() => null);
  const base = `cannot connect to Temporal at ${cfg.describe()}`;
  if (finding) return new TemporalConnectError(`${base}: ${finding.hint} (${finding.setting}; see .env.example). SDK error: ${cause}`, finding.setting);
  return new TemporalConnectError(`${base}: ${cause} (check TEMPORAL_ADDRESS and the TEMPORAL_TLS_* settings in .env.example)`);
}
