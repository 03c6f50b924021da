import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { startHubSpotEmulator } from './server';

/** CLI: `npx tsx emulators/hubspot/main.ts [--port 4010] [--db .data/hubspot.db] [--token T] [--limit 100|190]`. */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const limit = Number(arg('limit') ?? process.env.HUBSPOT_EMULATOR_LIMIT ?? '190');
  const dbPath = arg('db') ?? process.env.HUBSPOT_EMULATOR_DB ?? '.data/hubspot-emulator.db';
  if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
  const emulator = await startHubSpotEmulator({
    port: Number(arg('port') ?? process.env.HUBSPOT_EMULATOR_PORT ?? '4010'),
    dbPath,
    token: arg('token') ?? process.env.HUBSPOT_EMULATOR_TOKEN ?? 'pat-emulator',
    rateLimitPer10s: limit === 100 ? 100 : 190,
  });
  process.stdout.write(`HubSpot emulator listening on ${emulator.baseUrl}\n`);
  const shutdown = (): void => {
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
