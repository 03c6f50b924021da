/** Tables of the demo CRM (source) and demo ERP (target), both SQLite files. */
export const CRM_SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY, company_name TEXT, email TEXT, phone TEXT, website TEXT, vat_id TEXT,
  street TEXT, city TEXT, zip TEXT, country TEXT, credit_limit TEXT, currency TEXT, tier TEXT, status TEXT,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS accounts_cursor ON accounts (updated_at, id);
CREATE TABLE IF NOT EXISTS contacts (
  id INTEGER PRIMARY KEY, account_id INTEGER, full_name TEXT, email TEXT, phone TEXT, title TEXT,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_cursor ON contacts (updated_at, id);
CREATE TABLE IF NOT EXISTS products (
  id INTEGER PRIMARY KEY, sku TEXT, name TEXT, description TEXT, price TEXT, currency TEXT, unit TEXT, active TEXT,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS products_cursor ON products (updated_at, id);
CREATE TABLE IF NOT EXISTS erp_invoices (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_key TEXT UNIQUE NOT NULL, number TEXT, customer_external_key TEXT,
  invoice_date TEXT, total_minor INTEGER, amount_due_minor INTEGER, currency TEXT, state TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deals (
  id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, name TEXT NOT NULL, stage TEXT NOT NULL, amount TEXT, currency TEXT,
  discount TEXT, close_date TEXT, erp_order_number TEXT, erp_order_status TEXT, erp_invoice_number TEXT,
  erp_invoice_amount TEXT, erp_payment_status TEXT, last_sync_error TEXT, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deals_cursor ON deals (updated_at, id);
CREATE TABLE IF NOT EXISTS deal_lines (
  deal_id INTEGER NOT NULL, line_no INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity REAL NOT NULL,
  unit_price TEXT NOT NULL, discount TEXT, PRIMARY KEY (deal_id, line_no));
`;

export const ERP_SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, email TEXT, phone TEXT,
  website TEXT, vat_number TEXT, street TEXT, city TEXT, postal_code TEXT, country_code TEXT,
  credit_limit_minor INTEGER, credit_currency TEXT, segment TEXT, active INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_key TEXT NOT NULL UNIQUE, customer_external_key TEXT NOT NULL,
  first_name TEXT, last_name TEXT NOT NULL, email TEXT, phone TEXT, job_title TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_key TEXT NOT NULL UNIQUE, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  description TEXT, list_price_minor INTEGER NOT NULL, currency TEXT NOT NULL, unit TEXT, active INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL);
`;
