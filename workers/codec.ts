/**
 * Payload encryption: an AES-256-GCM `PayloadCodec` with key ids and rotation.
 *
 * Every payload the SDK sends to the server (workflow and activity inputs and results, signals,
 * queries, updates, memos, failure details) is serialised whole (metadata and data), encrypted
 * with the current key and replaced by a payload with `encoding: binary/encrypted` and
 * `encryption-key-id: <kid>`. Decoding picks the key by that id, so history written under an
 * older key still decodes after a new current key is added. Payloads that are not encrypted
 * (histories from before encryption was turned on) pass through unchanged.
 *
 * Keys come from the environment (`SYNC_CODEC_KEYS=kid1:base64,kid0:base64`, first = current) or
 * a file (`SYNC_CODEC_KEYS_FILE`, the same entries one a line). They are never logged: errors name
 * a key's id or position, never its bytes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID = /^[A-Za-z0-9._-]{1,64}$/;

export interface CodecKey {
  id: string;
  key: Buffer;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('utf8') : '');

export class AesGcmCodec implements PayloadCodec {
  readonly currentKeyId: string;
  private readonly keys: Map<string, Buffer>;

  /** `keys[0]` encrypts; every key decrypts the payloads written under its id. */
  constructor(keys: CodecKey[]) {
    if (keys.length === 0) throw new Error('payload codec: no key');
    this.keys = new Map();
    for (const k of keys) {
      if (!KID.test(k.id)) throw new Error(`payload codec: key id "${k.id.slice(0, 64)}" must be 1-64 of A-Z a-z 0-9 . _ -`);
      if (k.key.length !== 32) throw new Error(`payload codec: key "${k.id}" must be 32 bytes (AES-256), got ${k.key.length}`);
      if (this.keys.has(k.id)) throw new Error(`payload codec: key id "${k.id}" is given twice`);
      this.keys.set(k.id, k.key);
    }
    this.currentKeyId = keys[0]!.id;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(this.currentKeyId, 'utf8')); // a payload cannot be re-labelled with another key id
      const body = Buffer.concat([cipher.update(temporal.api.common.v1.Payload.encode(p).finish()), cipher.final()]);
      return {
        metadata: { encoding: utf8(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8(this.currentKeyId) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCODING_ENCRYPTED) return p;
      const kid = text(p.metadata?.[METADATA_KEY_ID]);
      const key = this.keys.get(kid);
      if (!key) throw new Error(`payload codec: payload encrypted with key "${kid}", which is not configured (have ${this.keyIds.join(', ')})`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error(`payload codec: encrypted payload too short (${data.length} bytes)`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(kid, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new Error(`payload codec: payload under key "${kid}" failed authentication (wrong key or altered data)`);
      }
      const d = temporal.api.common.v1.Payload.decode(plain);
      return { metadata: d.metadata ?? {}, data: d.data ?? new Uint8Array() };
    });
  }
}

/** Parse `kid:base64key` entries (comma- or newline-separated); `where` names the source in errors. */
export function parseCodecKeys(spec: string, where: string): CodecKey[] {
  const entries = spec
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'));
  if (entries.length === 0) throw new Error(`${where}: no key; expected kid:base64key[,kid:base64key…] (first = current)`);
  return entries.map((e, i) => {
    const colon = e.indexOf(':');
    if (colon <= 0) throw new Error(`${where}: entry ${i + 1} is not kid:base64key`);
    const id = e.slice(0, colon);
    const b64 = e.slice(colon + 1);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`${where}: key "${id.slice(0, 64)}" (entry ${i + 1}) is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new Error(`${where}: key "${id.slice(0, 64)}" (entry ${i + 1}) decodes to ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`);
    return { id, key };
  });
}

/**
 * The codec this environment asks for: `SYNC_CODEC_KEYS` or `SYNC_CODEC_KEYS_FILE` (not both);
 * null when neither is set (payloads stay plain).
 */
export function codecFromEnv(env: NodeJS.ProcessEnv): AesGcmCodec | null {
  const inline = env.SYNC_CODEC_KEYS?.trim();
  const file = env.SYNC_CODEC_KEYS_FILE?.trim();
  if (inline && file) throw new Error('set SYNC_CODEC_KEYS or SYNC_CODEC_KEYS_FILE, not both');
  if (inline) return new AesGcmCodec(parseCodecKeys(inline, 'SYNC_CODEC_KEYS'));
  if (file) {
    let spec: string;
    try {
      spec = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`SYNC_CODEC_KEYS_FILE=${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return new AesGcmCodec(parseCodecKeys(spec, `SYNC_CODEC_KEYS_FILE=${file}`));
  }
  return null;
}

/** The data converter for every client and worker: `{}` (the SDK default) when no key is set. */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv): DataConverter {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : {};
}

/** A fresh random key in the `kid:base64` form (for `npm run codec-server -- --new-key`). */
export function newKeyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
