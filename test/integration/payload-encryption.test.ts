import { Client } from '@temporalio/client';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { ensureTemporalCli } from '../../scripts/toolchain';
import { codecFromEnv, ENCODING_ENCRYPTED, METADATA_KEY_ID } from '../../workers/codec';
import { startCodecServer, type CodecServer } from '../../workers/codec-server';
import { syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { historyPayloads } from '../helpers/history-payloads';

jest.setTimeout(180_000);

// Test keys (random per run); the old one writes the first history, then a new current key is added.
const OLD = `k-old:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
const NEW = `k-new:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
const TOKEN = 'codec-test-token-0123456789';
// The distinctive plaintext: the pipeline name, in the workflow input, the activities' inputs and the result.
const PIPELINE = 'demo-products';

let env: DevEnv;
let codecServer: CodecServer | undefined;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await codecServer?.close();
  await env?.teardown();
});

const execFileP = promisify(execFile);
const cli = (args: string[]) => execFileP(ensureTemporalCli(), [...args, '--address', env.server.address], { maxBuffer: 64 * 1024 * 1024 }).then((r) => r.stdout);

/** Run one products sync with a worker and a client on these keys; returns its workflow id. */
async function syncUnder(keys: string, workflowId: string, dir: string): Promise<SyncResult> {
  const workers = await syncWorkersFor(env, dir, ['sql'], { SYNC_CODEC_KEYS: keys });
  const running = workers.run();
  try {
    const client = new Client({ connection: env.connection, dataConverter: { payloadCodecs: [codecFromEnv({ SYNC_CODEC_KEYS: keys })!] } });
    return (await client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId, args: [{ pipeline: PIPELINE, pageSize: 100 }] })) as SyncResult;
  } finally {
    workers.shutdown();
    await running;
  }
}

async function rawPayloads(workflowId: string) {
  // env.client has no codec: this is what anyone with read access to the cluster sees.
  return historyPayloads(await env.client.workflow.getHandle(workflowId).fetchHistory());
}

test('with SYNC_CODEC_KEYS set, history holds ciphertext only; the codec server shows the plaintext to the CLI, across a key rotation', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 300 });

  // 1. A sync under the old key.
  const first = await syncUnder(OLD, 'enc-old', dir);
  expect(first.status).toBe('completed');
  const payloads = await rawPayloads('enc-old');
  expect(payloads.length).toBeGreaterThan(5); // input, activity inputs and results, the result
  for (const p of payloads) {
    expect(Buffer.from(p.metadata!.encoding!).toString()).toBe(ENCODING_ENCRYPTED);
    expect(Buffer.from(p.metadata![METADATA_KEY_ID]!).toString()).toBe('k-old');
    const bytes = Buffer.from(p.data!);
    expect(bytes.includes(Buffer.from(PIPELINE))).toBe(false);
    expect(bytes.includes(Buffer.from('"pipeline"'))).toBe(false);
  }
  // The control: decoded, the same payloads do hold the value the scan looked for.
  const decoded = await codecFromEnv({ SYNC_CODEC_KEYS: OLD })!.decode(payloads);
  expect(decoded.filter((p) => Buffer.from(p.data!).includes(Buffer.from(PIPELINE))).length).toBeGreaterThan(0);

  // 2. Rotation: a new current key; the worker, client and codec server keep the old one to decrypt.
  const second = await syncUnder(`${NEW},${OLD}`, 'enc-new', dir);
  expect(second.status).toBe('completed');
  const kids = new Set((await rawPayloads('enc-new')).map((p) => Buffer.from(p.metadata![METADATA_KEY_ID]!).toString()));
  expect([...kids]).toEqual(['k-new']);

  // 3. The CLI: without the codec server, ciphertext; through it (bearer token), plaintext of both histories.
  codecServer = await startCodecServer({ codec: codecFromEnv({ SYNC_CODEC_KEYS: `${NEW},${OLD}` })!, port: 0, token: TOKEN });
  const plainShow = await cli(['workflow', 'show', '-w', 'enc-old', '--detailed']);
  expect(plainShow).not.toContain(PIPELINE);
  for (const id of ['enc-old', 'enc-new']) {
    const shown = await cli(['workflow', 'show', '-w', id, '--detailed', '--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${TOKEN}`]);
    expect(shown).toContain(PIPELINE);
    expect(shown).not.toContain(ENCODING_ENCRYPTED);
  }
  // The token is enforced: without it the CLI gets no plaintext.
  const refused = await cli(['workflow', 'show', '-w', 'enc-old', '--detailed', '--codec-endpoint', codecServer.url]).catch((e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  expect(refused).not.toContain(PIPELINE);
});
