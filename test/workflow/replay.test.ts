import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AesGcmCodec, ENCODING_ENCRYPTED } from '../../workers/codec';
import { installTestRuntime } from '../helpers/env';
import { encodeHistory, historyPayloads } from '../helpers/history-payloads';

jest.setTimeout(120_000);

const DIR = path.resolve(__dirname, '../fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));
const workflowsPath = require.resolve('../../workflows');
const read = (file: string) => temporal.api.history.v1.History.decode(readFileSync(path.join(DIR, file)));
// Test keys only: the old one wrote the history, the new current one was added later (rotation).
const oldKey = { id: 'replay-old', key: Buffer.alloc(32, 3) };
const newKey = { id: 'replay-new', key: Buffer.alloc(32, 5) };

beforeAll(() => installTestRuntime());

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

// A change to workflow code that would break running workflows (non-determinism) fails here.
test.each(files)('replays %s with the current workflow code', async (file) => {
  await expect(Worker.runReplayHistory({ workflowsPath }, read(file))).resolves.toBeUndefined();
});

// The same histories, every payload encrypted under an old key, replayed by a worker whose codec
// has a newer current key too: what a worker sees after encryption was turned on and rotated.
test.each(files)('replays %s encrypted, with the codec on (after a key rotation)', async (file) => {
  const encrypted = await encodeHistory(read(file), new AesGcmCodec([oldKey]));
  const payloads = historyPayloads(encrypted);
  expect(payloads.length).toBeGreaterThan(0);
  for (const p of payloads) expect(Buffer.from(p.metadata!.encoding!).toString()).toBe(ENCODING_ENCRYPTED);
  await expect(
    Worker.runReplayHistory({ workflowsPath, dataConverter: { payloadCodecs: [new AesGcmCodec([newKey, oldKey])] } }, encrypted),
  ).resolves.toBeUndefined();
});

// The control: without the codec (or with the old key gone) the same encrypted history does not
// replay, so the passes above are the codec's doing.
test('an encrypted history does not replay without its key', async () => {
  const encrypted = await encodeHistory(read(files[0]!), new AesGcmCodec([oldKey]));
  await expect(Worker.runReplayHistory({ workflowsPath, dataConverter: { payloadCodecs: [new AesGcmCodec([newKey])] } }, encrypted)).rejects.toThrow();
  await expect(Worker.runReplayHistory({ workflowsPath }, encrypted)).rejects.toThrow();
});
