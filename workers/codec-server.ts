/**
 * Codec server: `npm run codec-server`. Decodes (and encodes) payloads for the Temporal CLI
 * (`temporal workflow show --codec-endpoint http://127.0.0.1:8888`) and the Web UI
 * (`temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888`, or the UI's "Codec Server"
 * setting), using the same keys as the workers (SYNC_CODEC_KEYS or SYNC_CODEC_KEYS_FILE).
 *
 * Temporal's remote codec protocol: `POST /encode` and `POST /decode` with a JSON body
 * `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`, answered in the same form.
 *
 * Settings (environment): SYNC_CODEC_SERVER_PORT (8888), SYNC_CODEC_SERVER_HOST (127.0.0.1: it
 * hands out plaintext, so loopback unless you put it behind your own TLS and auth),
 * SYNC_CODEC_SERVER_TOKEN (optional: requests must carry `Authorization: Bearer <token>`),
 * SYNC_CODEC_CORS_ORIGINS (origins of the Web UI allowed to call it; default
 * http://localhost:8233,http://127.0.0.1:8233).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { codecFromEnv } from './codec';
import { loadEnvFile } from './env-file';

const MAX_BODY = 64 * 1024 * 1024;

const PayloadJsonSchema = z.object({
  metadata: z.record(z.string(), z.string()).nullish(),
  data: z.string().nullish(),
});
const BodySchema = z.object({ payloads: z.array(PayloadJsonSchema) });

export interface CodecServerOptions {
  codec: PayloadCodec;
  port?: number;
  host?: string;
  /** When set, every /encode and /decode needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Origins allowed by CORS (the Web UI's). */
  corsOrigins?: string[];
}

export interface CodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const fromJson = (p: z.infer<typeof PayloadJsonSchema>): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function sameSecret(given: string, expected: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(expected));
}

export function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set(opts.corsOrigins ?? ['http://localhost:8233', 'http://127.0.0.1:8233']);
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    }
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(origin && origins.has(origin) ? 204 : 403);
      res.end();
      return;
    }
    const route = (req.url ?? '').split('?')[0]!.replace(/\/+$/, '');
    if (req.method !== 'POST' || !route.endsWith('/encode') && !route.endsWith('/decode')) return reply(404, { error: 'POST /encode or /decode' });
    if (opts.token !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice(7), opts.token)) return reply(401, { error: 'missing or wrong bearer token' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply(413, { error: `body over ${MAX_BODY} bytes` });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: z.infer<typeof BodySchema>;
      try {
        const parsed = BodySchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        if (!parsed.success) return reply(400, { error: `expected {"payloads":[{"metadata":{…},"data":"<base64>"}]}: ${parsed.error.issues[0]?.path.join('.')}` });
        body = parsed.data;
      } catch {
        return reply(400, { error: 'body is not JSON' });
      }
      const payloads = body.payloads.map(fromJson);
      const work = route.endsWith('/encode') ? opts.codec.encode(payloads) : opts.codec.decode(payloads);
      work.then(
        (out) => reply(200, { payloads: out.map(toJson) }),
        (err: unknown) => reply(400, { error: err instanceof Error ? err.message : 'codec error' }), // codec errors name key ids, never keys
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, opts.host ?? '127.0.0.1', () => {
      const { port, address } = server.address() as AddressInfo;
      resolve({
        url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
        port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

const ServerEnvSchema = z.object({
  SYNC_CODEC_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8888),
  SYNC_CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  SYNC_CODEC_SERVER_TOKEN: z.string().min(16, 'use a token of at least 16 characters').optional(),
  SYNC_CODEC_CORS_ORIGINS: z
    .string()
    .default('http://localhost:8233,http://127.0.0.1:8233')
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
});

async function main(): Promise<void> {
  loadEnvFile();
  const r = ServerEnvSchema.safeParse(process.env);
  if (!r.success) throw new Error(`invalid codec server environment:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  const codec = codecFromEnv(process.env);
  if (!codec) throw new Error('no keys: set SYNC_CODEC_KEYS=kid:base64key[,…] or SYNC_CODEC_KEYS_FILE (the workers\' keys)');
  const s = await startCodecServer({
    codec,
    port: r.data.SYNC_CODEC_SERVER_PORT,
    host: r.data.SYNC_CODEC_SERVER_HOST,
    ...(r.data.SYNC_CODEC_SERVER_TOKEN ? { token: r.data.SYNC_CODEC_SERVER_TOKEN } : {}),
    corsOrigins: r.data.SYNC_CODEC_CORS_ORIGINS,
  });
  console.log(`codec server on ${s.url} (keys ${codec.keyIds.join(', ')}; current ${codec.currentKeyId}${r.data.SYNC_CODEC_SERVER_TOKEN ? '; bearer token required' : ''})`);
  console.log(`  CLI: temporal workflow show -w <id> --codec-endpoint ${s.url}${r.data.SYNC_CODEC_SERVER_TOKEN ? ' --codec-auth "Bearer $SYNC_CODEC_SERVER_TOKEN"' : ''}`);
  console.log(`  UI:  temporal server start-dev --ui-codec-endpoint ${s.url}   (CORS origins: ${r.data.SYNC_CODEC_CORS_ORIGINS.join(', ')})`);
  const stop = () => void s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
