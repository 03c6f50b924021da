import { defaultPayloadConverter } from '@temporalio/common';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AesGcmCodec, codecFromEnv, dataConverterFromEnv, ENCODING_ENCRYPTED, METADATA_KEY_ID, parseCodecKeys } from '../../workers/codec';
import { startCodecServer } from '../../workers/codec-server';

const K0 = Buffer.alloc(32, 7).toString('base64');
const K1 = Buffer.alloc(32, 9).toString('base64');
const SECRET = 'Zyxwvut Quernhall <quernhall@example.test>';
const plain = () => [defaultPayloadConverter.toPayload({ name: SECRET, n: 42 })];
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

test('payloads are encrypted under the current key id, without plaintext, and decode back', async () => {
  const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1},k0:${K0}`, 'test'));
  const [enc] = await codec.encode(plain());
  expect(text(enc!.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
  expect(text(enc!.metadata![METADATA_KEY_ID])).toBe('k1');
  expect(Buffer.from(enc!.data!).includes(Buffer.from('Quernhall'))).toBe(false);
  expect(Object.keys(enc!.metadata!).sort()).toEqual(['encoding', METADATA_KEY_ID]); // json/plain is inside the ciphertext
  const [dec] = await codec.decode([enc!]);
  expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ name: SECRET, n: 42 });
  // Fresh IV each time: the same value never gives the same bytes.
  const [again] = await codec.encode(plain());
  expect(Buffer.from(again!.data!).equals(Buffer.from(enc!.data!))).toBe(false);
});

test('rotation: payloads written under an old key decode once a new current key is added; a removed key is named, not guessed', async () => {
  const old = new AesGcmCodec(parseCodecKeys(`k0:${K0}`, 'test'));
  const [underK0] = await old.encode(plain());
  const rotated = new AesGcmCodec(parseCodecKeys(`k1:${K1},k0:${K0}`, 'test'));
  expect(defaultPayloadConverter.fromPayload((await rotated.decode([underK0!]))[0]!)).toEqual({ name: SECRET, n: 42 });
  expect(text((await rotated.encode(plain()))[0]!.metadata![METADATA_KEY_ID])).toBe('k1');
  const onlyNew = new AesGcmCodec(parseCodecKeys(`k1:${K1}`, 'test'));
  await expect(onlyNew.decode([underK0!])).rejects.toThrow('encrypted with key "k0", which is not configured (have k1)');
});

test('altered ciphertext, a swapped key id or a wrong key fail authentication; plain payloads pass through', async () => {
  const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1},k0:${K0}`, 'test'));
  const [enc] = await codec.encode(plain());
  const flipped = Buffer.from(enc!.data!);
  flipped[20]! ^= 1;
  await expect(codec.decode([{ ...enc!, data: flipped }])).rejects.toThrow(/failed authentication/);
  const relabelled = { ...enc!, metadata: { ...enc!.metadata, [METADATA_KEY_ID]: Buffer.from('k0') } };
  await expect(codec.decode([relabelled])).rejects.toThrow(/"k0" failed authentication/);
  const wrong = new AesGcmCodec(parseCodecKeys(`k1:${K0}`, 'test'));
  await expect(wrong.decode([enc!])).rejects.toThrow(/failed authentication/);
  const p = plain();
  expect(await codec.decode(p)).toEqual(p); // histories from before encryption was turned on
});

test('keys from the environment or a file; bad keys are refused naming the id, never the key', () => {
  expect(codecFromEnv({})).toBeNull();
  expect(dataConverterFromEnv({})).toEqual({});
  expect(codecFromEnv({ SYNC_CODEC_KEYS: `k1:${K1}, k0:${K0}` })!.keyIds).toEqual(['k1', 'k0']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codec-keys-'));
  const file = path.join(dir, 'keys');
  writeFileSync(file, `# current first\nk1:${K1}\nk0:${K0}\n`);
  const fromFile = codecFromEnv({ SYNC_CODEC_KEYS_FILE: file })!;
  expect([fromFile.currentKeyId, ...fromFile.keyIds]).toEqual(['k1', 'k1', 'k0']);
  const short = Buffer.alloc(16, 1).toString('base64');
  const bad: [string, RegExp][] = [
    [`k1:${short}`, /key "k1" \(entry 1\) decodes to 16 bytes; AES-256 needs 32/],
    [`k1:${K1},k0:not base64!`, /key "k0" \(entry 2\) is not base64/],
    [K1, /entry 1 is not kid:base64key/],
    [`k1:${K1},k1:${K0}`, /key id "k1" is given twice/],
    [`bad id:${K1}`, /key id "bad id" must be/],
    [' , ', /no key/],
  ];
  for (const [spec, msg] of bad) {
    let err: Error | undefined;
    try {
      codecFromEnv({ SYNC_CODEC_KEYS: spec });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(msg);
    expect(err!.message).not.toContain(K1.slice(0, 12));
    expect(err!.message).not.toContain(short.slice(0, 12));
  }
  expect(() => codecFromEnv({ SYNC_CODEC_KEYS: `k1:${K1}`, SYNC_CODEC_KEYS_FILE: file })).toThrow(/not both/);
  expect(() => codecFromEnv({ SYNC_CODEC_KEYS_FILE: path.join(dir, 'missing') })).toThrow(/cannot read \(ENOENT\)/);
});

describe('codec server', () => {
  const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1},k0:${K0}`, 'test'));
  let server: Awaited<ReturnType<typeof startCodecServer>> | undefined;
  afterAll(async () => server?.close());

  test('speaks the remote codec protocol, with CORS for the Web UI and an optional bearer token', async () => {
    server = await startCodecServer({ codec, port: 0, token: 'a-token-of-16-chars', corsOrigins: ['http://127.0.0.1:8233'] });
    const [p] = plain();
    const asJson = { payloads: [{ metadata: { encoding: Buffer.from(p!.metadata!.encoding!).toString('base64') }, data: Buffer.from(p!.data!).toString('base64') }] };
    const post = (route: string, body: unknown, headers: Record<string, string> = { Authorization: 'Bearer a-token-of-16-chars' }) =>
      fetch(`${server!.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body) });

    const enc = await post('/encode', asJson);
    expect(enc.status).toBe(200);
    const encBody = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(encBody.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCODING_ENCRYPTED);
    expect(Buffer.from(encBody.payloads[0]!.data, 'base64').toString('latin1')).not.toContain('Quernhall');
    const dec = await post('/decode', encBody);
    expect(await dec.json()).toEqual(asJson);

    expect((await post('/decode', encBody, {})).status).toBe(401);
    expect((await post('/decode', encBody, { Authorization: 'Bearer wrong-token-of-16-c' })).status).toBe(401);
    expect((await post('/decode', { nope: 1 })).status).toBe(400);

    const pre = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:8233', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    const other = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.test' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
