import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { installTestRuntime } from '../helpers/env';

jest.setTimeout(120_000);

const DIR = path.resolve(__dirname, '../fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));

beforeAll(() => installTestRuntime());

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

// A change to workflow code that would break running workflows (non-determinism) fails here.
test.each(files)('replays %s with the current workflow code', async (file) => {
  const history = temporal.api.history.v1.History.decode(readFileSync(path.join(DIR, file)));
  await expect(
    Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history),
  ).resolves.toBeUndefined();
});
