import type { TrytonClient } from '../../connectors/tryton/client';
import { TrytonDate, TrytonDecimal } from '../../connectors/tryton/codec';
import { COMPANY_CURRENCY, COMPANY_NAME, SYNC_LOGIN } from './settings';

/**
 * Business setup that sales orders and invoices need on a fresh database (reference/tryton.md
 * §4): currencies, a few countries, the company with the admin in it and an employee, the
 * minimal English chart of accounts with default receivable/payable, fiscal years with
 * sequences and periods, a product account category, a cash payment method, and the connector's
 * least-privilege user. Runs once per pristine database, as admin.
 */

type Ids = number[];
/**
 * Countries of the test bed: every country the demo CRM's accounts map to (demo/seed.ts: DE, FR,
 * GB, US, NL, CH, JP, ES) and a few neighbours. Tryton's country module ships none by itself.
 */
export const COUNTRIES: Array<[string, string]> = [
  ['DE', 'Germany'], ['FR', 'France'], ['GB', 'United Kingdom'], ['NL', 'Netherlands'],
  ['US', 'United States'], ['ES', 'Spain'], ['IT', 'Italy'], ['CH', 'Switzerland'],
  ['JP', 'Japan'], ['AT', 'Austria'], ['BE', 'Belgium'],
];

/** Create the COUNTRIES the database lacks (a test-bed database built before one was added). Returns the codes created. */
export async function ensureCountries(admin: TrytonClient): Promise<string[]> {
  const have = await admin.model<Array<{ code: string }>>('country.country', 'search_read', [[['code', 'in', COUNTRIES.map(([c]) => c)]], 0, null, null, ['code']], { active_test: false });
  const known = new Set(have.map((r) => r.code));
  const missing = COUNTRIES.filter(([code]) => !known.has(code));
  if (missing.length) await create(admin, 'country.country', missing.map(([code, name]) => ({ code, name })));
  return missing.map(([code]) => code);
}
/**
 * Groups of the connector user: parties, products, sales (quote/confirm), invoice reads. 8.0 lets
 * only "Account Product Administration" write a product's account category.
 */
export const SYNC_USER_GROUPS = ['Sales', 'Product Administration', 'Account Product Administration'];

async function one(c: TrytonClient, model: string, domain: unknown[]): Promise<number> {
  const ids = await c.model<Ids>(model, 'search', [domain, 0, 2, null]);
  if (ids.length !== 1 || ids[0] === undefined) throw new Error(`bootstrap: expected one ${model} for ${JSON.stringify(domain)}, got ${ids.length}`);
  return ids[0];
}

async function create(c: TrytonClient, model: string, values: Record<string, unknown>[]): Promise<Ids> {
  return c.model<Ids>(model, 'create', [values]);
}

async function currencies(c: TrytonClient): Promise<number> {
  const [eur, usd] = await create(c, 'currency.currency', [
    { name: 'Euro', code: 'EUR', symbol: '€', rounding: new TrytonDecimal('0.01'), digits: 2 },
    { name: 'US Dollar', code: 'USD', symbol: '$', rounding: new TrytonDecimal('0.01'), digits: 2 },
  ]);
  const since = new TrytonDate('2000-01-01');
  await create(c, 'currency.currency.rate', [
    { currency: eur, date: since, rate: new TrytonDecimal('1') },
    { currency: usd, date: since, rate: new TrytonDecimal('1.1') },
  ]);
  const byCode: Record<string, number | undefined> = { EUR: eur, USD: usd };
  const id = byCode[COMPANY_CURRENCY];
  if (id === undefined) throw new Error(`bootstrap: unsupported company currency ${COMPANY_CURRENCY}`);
  return id;
}

/** Codes of the accounts the test bed uses in Tryton 8.0's "Universal Chart of Accounts" (English). */
const ACCOUNT_CODES = {
  receivable: '1.2.1', // Accounts, Notes And Loans Receivable (party required)
  payable: '2.1.1', // Trade Payables (party required)
  revenue: '4.1.1', // Goods
  expense: '5.1.1', // Merchandise, Material, Parts And Supplies
  cash: '1.1.1', // Cash and Cash Equivalents
} as const;
type ChartAccounts = Record<keyof typeof ACCOUNT_CODES, number>;

/**
 * Creates the company's chart from the universal template (8.0 ships no "Minimal Account Chart";
 * the universal one has several receivable and payable accounts, so the wizard proposes no
 * default: they are picked by code) and sets the default receivable and payable accounts.
 */
async function chartOfAccounts(c: TrytonClient, company: number): Promise<ChartAccounts> {
  const [template] = await c.model<Ids>('account.account.template', 'search', [[['name', '=', 'Universal Chart of Accounts'], ['parent', '=', null]], 0, 1, [['id', 'ASC']]]);
  if (template === undefined) throw new Error('bootstrap: no "Universal Chart of Accounts" template (is the account module activated?)');
  const [session] = await c.wizard<[number, string, string]>('account.create_chart', 'create', []);
  await c.wizard('account.create_chart', 'execute', [session, { account: { company, account_template: template } }, 'create_account']);
  const accounts = {} as ChartAccounts;
  for (const [key, code] of Object.entries(ACCOUNT_CODES) as Array<[keyof ChartAccounts, string]>) {
    accounts[key] = await one(c, 'account.account', [['code', '=', code], ['company', '=', company]]);
  }
  await c.wizard('account.create_chart', 'execute', [session, {
    properties: { company, account_receivable: accounts.receivable, account_payable: accounts.payable },
  }, 'create_properties']);
  await c.wizard('account.create_chart', 'delete', [session]);
  return accounts;
}

async function fiscalYears(c: TrytonClient, company: number, years: number[]): Promise<void> {
  const moveType = await one(c, 'ir.sequence.type', [['name', '=', 'Account Move']]);
  const invoiceType = await one(c, 'ir.sequence.type', [['name', '=', 'Invoice']]);
  for (const year of years) {
    // 8.0: the fiscal year's `move_sequence` (was post_move_sequence) is a strict sequence.
    const [moveSeq] = await create(c, 'ir.sequence.strict', [{ name: `Account Move ${year}`, sequence_type: moveType, company }]);
    const [invSeq] = await create(c, 'ir.sequence.strict', [
      { name: `Invoice ${year}`, sequence_type: invoiceType, company, prefix: `INV${year}-` },
    ]);
    const [fy] = await create(c, 'account.fiscalyear', [{
      name: String(year), company, move_sequence: moveSeq,
      start_date: new TrytonDate(`${year}-01-01`), end_date: new TrytonDate(`${year}-12-31`),
      invoice_sequences: [['create', [{
        company, out_invoice_sequence: invSeq, out_credit_note_sequence: invSeq,
        in_invoice_sequence: invSeq, in_credit_note_sequence: invSeq,
      }]]],
    }]);
    await c.model('account.fiscalyear', 'create_period', [[fy]]);
  }
}

/** Runs the whole setup as admin. */
export async function bootstrapBusiness(admin: TrytonClient, syncPassword: string): Promise<void> {
  const currency = await currencies(admin);
  await create(admin, 'country.country', COUNTRIES.map(([code, name]) => ({ code, name })));
  const [companyParty, employeeParty] = await create(admin, 'party.party', [{ name: COMPANY_NAME }, { name: 'Sync Lab Employee' }]);
  const [company] = await create(admin, 'company.company', [{ party: companyParty, currency }]);
  if (company === undefined) throw new Error('bootstrap: company not created');
  const [employee] = await create(admin, 'company.employee', [{ party: employeeParty, company }]);
  const adminId = await one(admin, 'res.user', [['login', '=', 'admin']]);
  await admin.model('res.user', 'write', [[adminId], {
    companies: [['add', [company]]], company, employees: [['add', [employee]]], employee,
  }]);
  // Record rules read the stored company: log in again so the context carries it.
  await admin.logout();
  const accounts = await chartOfAccounts(admin, company);
  const year = new Date().getUTCFullYear();
  await fiscalYears(admin, company, [year - 1, year, year + 1]);
  await create(admin, 'product.category', [{
    name: 'Goods', accounting: true, account_revenue: accounts.revenue, account_expense: accounts.expense,
  }]);
  const cashJournal = await one(admin, 'account.journal', [['type', '=', 'cash']]);
  await create(admin, 'account.invoice.payment.method', [{
    company, name: 'Cash', journal: cashJournal, credit_account: accounts.cash, debit_account: accounts.cash,
  }]);
  const groups = await admin.model<Ids>('res.group', 'search', [[['name', 'in', SYNC_USER_GROUPS]], 0, null, null]);
  if (groups.length !== SYNC_USER_GROUPS.length) throw new Error('bootstrap: connector user groups not found');
  await create(admin, 'res.user', [{
    name: 'CRM Sync (connector)', login: SYNC_LOGIN, password: syncPassword,
    groups: [['add', groups]], companies: [['add', [company]]], company,
  }]);
}
