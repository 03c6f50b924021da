import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { startSalesforceEmulator } from './server';

/**
 * CLI: `npm run salesforce-emulator -- [--port 8085] [--db .data/salesforce-emulator.db]
 * [--token T] [--client-id ID --client-secret S] [--daily 100000] [--concurrency 25]`.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const dbPath = arg('db') ?? process.env.SALESFORCE_EMULATOR_DB ?? '.data/salesforce-emulator.db';
  if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
  const clientId = arg('client-id') ?? process.env.SALESFORCE_EMULATOR_CLIENT_ID;
  const emulator = await startSalesforceEmulator({
    port: Number(arg('port') ?? process.env.SALESFORCE_EMULATOR_PORT ?? '8085'),
    dbPath,
    token: arg('token') ?? process.env.SALESFORCE_EMULATOR_TOKEN ?? '00DEm0000000001!emulator',
    ...(clientId ? { clientId, clientSecret: arg('client-secret') ?? process.env.SALESFORCE_EMULATOR_CLIENT_SECRET ?? '' } : {}),
    dailyLimit: Number(arg('daily') ?? process.env.SALESFORCE_EMULATOR_DAILY ?? '100000'),
    concurrencyLimit: Number(arg('concurrency') ?? process.env.SALESFORCE_EMULATOR_CONCURRENCY ?? '25'),
  });
  process.stdout.write(`Salesforce emulator (API v62.0) listening on ${emulator.baseUrl}\n`);
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
