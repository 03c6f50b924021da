/**
 * The demo CRM and ERP by hand (`$DEMO_DATA_DIR`, default .data/demo):
 *   npm run demo:seed                  create and fill the demo CRM and an empty demo ERP (what `npm start` does first;
 *                                      with DEMO_DB=postgres://… in PostgreSQL)
 *   npm run demo:deals -- [count]      add `count` deals (default 100, ids 1..count) for order to cash; prints the won ones
 *   npm run demo:touch -- [count]      change `count` CRM accounts (default 100: city and credit limit) without syncing
 *                                      them, as `npm start -- --touch` does before its syncs: for a dry run to show
 */
import { seedDeals } from '../demo/deals';
import { DEMO_SIZE, demoPaths, isDemoSeeded, touchAccounts } from '../demo/seed';
import { demoDatabase } from '../workers/demo/database';
import { parseWorkerEnv } from '../workers/config';
import { loadEnvFile } from '../workers/env-file';

async function main(command: string | undefined, args: string[]): Promise<number> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  const dir = env.DEMO_DATA_DIR;
  const { crm } = demoPaths(dir);
  switch (command) {
    case 'seed': {
      // DEMO_DB=postgres://…: the same rows in PostgreSQL (workers/demo/database.ts).
      const db = demoDatabase(process.env, dir, env.SYNC_CONFIG_DIR);
      const seeded = await db.seed();
      console.log(
        seeded
          ? `Seeded demo CRM and ERP in ${db.where} (${DEMO_SIZE.accounts} accounts, ${DEMO_SIZE.contacts} contacts, ${DEMO_SIZE.products} products, with defects)`
          : `Demo CRM in ${db.where} is already seeded; left as it is`,
      );
      if (db.configDir) console.log(`Workers for it: SYNC_CONFIG_DIR=${db.configDir} (and DEMO_DB) npm run worker`);
      return 0;
    }
    case 'deals': {
      const count = Number(args[0] ?? 100);
      if (!Number.isInteger(count) || count < 1 || count > 10_000) {
        console.error(`expected a number of deals, 1 to 10000; got ${args[0]}`);
        return 2;
      }
      if (!isDemoSeeded(crm)) {
        console.error(`the demo CRM ${crm} is not seeded yet: run \`npm run demo:seed\` (or \`npm start\`) first`);
        return 1;
      }
      const won = seedDeals(crm, count);
      console.log(`Wrote deals 1..${count} into ${crm} (EUR, lines of EUR products); ${won.length} won: ${won.join(', ')}`);
      return 0;
    }
    case 'touch': {
      const count = Number(args[0] ?? 100);
      if (!Number.isInteger(count) || count < 1 || count > DEMO_SIZE.accounts) {
        console.error(`expected a number of accounts, 1 to ${DEMO_SIZE.accounts}; got ${args[0]}`);
        return 2;
      }
      if (process.env.DEMO_DB) {
        console.error('demo:touch edits the SQLite demo only; on PostgreSQL, UPDATE demo_crm.accounts SET …, updated_at = now() by hand');
        return 2;
      }
      if (!isDemoSeeded(crm)) {
        console.error(`the demo CRM ${crm} is not seeded yet: run \`npm run demo:seed\` (or \`npm start\`) first`);
        return 1;
      }
      const ids = touchAccounts(dir, count);
      console.log(`Changed ${ids.length} CRM accounts in ${crm} (city and credit limit): ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}; nothing was synced`);
      return 0;
    }
    default:
      console.error('usage: npm run demo:seed | npm run demo:deals -- [count] | npm run demo:touch -- [count]');
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
