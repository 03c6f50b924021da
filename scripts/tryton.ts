/**
 * Local Tryton test bed: `npx tsx scripts/tryton.ts <install|start|stop|status> [--port N] [--fresh]`.
 *
 * - install: pip-install Tryton 8.0 (the exact pins of toolchain.json) into a venv under .tools/
 *   (no-op when present; PostgreSQL comes from scripts/postgres.ts, apt-get when missing) and
 *   build the cached pristine PostgreSQL cluster under .data/tryton/.
 * - start:   run PostgreSQL and trytond on 127.0.0.1:8000 (or --port N) with the cluster in
 *   .data/tryton/dev/pg (kept across starts; `--fresh` copies the pristine one again). Prints URL,
 *   database and the connector user.
 * - stop / status: trytond and its PostgreSQL, by the PIDs recorded in .data/tryton/dev (trytond.pid,
 *   pg/postmaster.pid), never by process name.
 * - invoice <post|pay|show> <dealId>: as the Tryton admin (an accountant's part, which the
 *   least-privilege connector user cannot do), post or pay the invoice of the sale made for a CRM
 *   deal (reference DEAL-<id>), so an order-to-cash saga can be followed by hand.
 *
 * Importable API: ensureTrytonInstalled(), ensurePristineDatabase(), startTryton().
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTrytonInstalled } from './tryton/install';
import { postmasterPid, startTryton } from './tryton/instance';
import { stopPostgresPid } from './postgres';
import { ensurePristineDatabase } from './tryton/pristine';
import { isAlive, readPidFile, stopPid } from './tryton/process';
import { adminClient, dealInvoices, payInvoice, postInvoices } from './tryton/admin-helpers';
import { ADMIN_LOGIN, TRYTON_DATA_ROOT, adminPassword, instancePaths } from './tryton/settings';

export { ensureTrytonInstalled } from './tryton/install';
export { startTryton, type StartTrytonOptions, type TrytonInstance } from './tryton/instance';
export { ensurePristineDatabase } from './tryton/pristine';

const DEV_DIR = join(TRYTON_DATA_ROOT, 'dev');
/** Where `start` serves when no --port is given. */
const DEFAULT_PORT = 8000;
const log = (msg: string): void => console.error(`[tryton] ${msg}`);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(command: string | undefined): Promise<number> {
  const p = instancePaths(DEV_DIR);
  const pid = readPidFile(p);
  const running = pid !== null && isAlive(pid);
  switch (command) {
    case 'install': {
      const t0 = Date.now();
      await ensureTrytonInstalled(log);
      await ensurePristineDatabase(log);
      log(`installed and initialised in ${Date.now() - t0} ms`);
      return 0;
    }
    case 'start': {
      if (running) {
        log(`already running (pid ${pid})`);
        console.log(readFileSync(p.stateFile, 'utf8'));
        return 0;
      }
      const t0 = Date.now();
      const portArg = arg('--port');
      const inst = await startTryton({
        dataDir: DEV_DIR,
        reuseDatabase: !process.argv.includes('--fresh'),
        removeOnStop: false,
        log,
        // The README's and config/systems.json's default (TRYTON_URL http://127.0.0.1:8000); tests pick free ports.
        port: portArg ? Number(portArg) : DEFAULT_PORT,
      });
      log(`started in ${Date.now() - t0} ms (pid ${inst.pid}, log ${inst.logFile})`);
      console.log(JSON.stringify({ url: inst.url, database: inst.database, pid: inst.pid, user: inst.user }, null, 2));
      return 0;
    }
    case 'stop': {
      const pgPid = postmasterPid(p.pgDir);
      if ((pid === null || !running) && pgPid === null) {
        log('not running');
        return 0;
      }
      if (pid !== null && running) {
        await stopPid(pid);
        log(`stopped trytond pid ${pid}`);
      }
      if (pgPid !== null) {
        await stopPostgresPid(pgPid);
        log(`stopped postgres pid ${pgPid}`);
      }
      return 0;
    }
    case 'status': {
      if (!running) {
        log('not running');
        return 3;
      }
      console.log(existsSync(p.stateFile) ? readFileSync(p.stateFile, 'utf8') : JSON.stringify({ pid }));
      return 0;
    }
    case 'invoice': {
      if (!running || !existsSync(p.stateFile)) {
        log('not running: start it with `npx tsx scripts/tryton.ts start`');
        return 3;
      }
      return invoiceCommand(JSON.parse(readFileSync(p.stateFile, 'utf8')) as { url: string; database: string }, process.argv[3], process.argv[4]);
    }
    default:
      console.error('usage: npx tsx scripts/tryton.ts <install|start|stop|status> [--port N] [--fresh]\n       npx tsx scripts/tryton.ts invoice <post|pay|show> <dealId>');
      return 2;
  }
}

async function invoiceCommand(state: { url: string; database: string }, action: string | undefined, dealId: string | undefined): Promise<number> {
  if (!action || !['post', 'pay', 'show'].includes(action) || !dealId || !/^\d+$/.test(dealId)) {
    console.error('usage: npx tsx scripts/tryton.ts invoice <post|pay|show> <dealId>   (npm run tryton:invoice -- post 42)');
    return 2;
  }
  const admin = adminClient({ url: state.url, database: state.database, admin: { user: ADMIN_LOGIN, password: adminPassword() } });
  try {
    const { sale, invoices } = await dealInvoices(admin, dealId);
    if (!sale) {
      log(`no Tryton sale with reference DEAL-${dealId}: start the orderToCash workflow for deal ${dealId} first`);
      return 1;
    }
    if (!invoices.length) {
      log(`sale ${sale.number ?? sale.id} (${sale.state}) has no invoice yet: Tryton invoices a sale once it is confirmed (processing)`);
      return 1;
    }
    const inv = invoices[0]!;
    if (action === 'post') {
      if (inv.state === 'draft' || inv.state === 'validated') await postInvoices(admin, [inv.id]);
      else log(`invoice ${inv.number ?? inv.id} is already ${inv.state}`);
    } else if (action === 'pay') {
      if (inv.state === 'posted') await payInvoice(admin, inv.id);
      else if (inv.state === 'paid') log(`invoice ${inv.number ?? inv.id} is already paid`);
      else {
        log(`invoice ${inv.id} is ${inv.state}: post it first (invoice post ${dealId})`);
        return 1;
      }
    }
    const after = (await dealInvoices(admin, dealId)).invoices[0]!;
    console.log(JSON.stringify({ sale: sale.number, invoice: after.number, state: after.state, total: after.total, amountToPay: after.amountToPay }));
    return 0;
  } finally {
    await admin.logout().catch(() => undefined);
  }
}

if (require.main === module) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`[tryton] ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
