import { existsSync, readFileSync } from 'node:fs';

/**
 * Parse a `.env` file: `NAME=value` lines, `#` comments and blank lines ignored, an optional
 * `export ` prefix, values optionally in single or double quotes (double quotes understand \n).
 * No variable expansion: `${…}` is left to config/systems.json, which expands it itself.
 */
export function parseEnvFile(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected NAME=value, got ${JSON.stringify(line.slice(0, 40))}`);
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, ''); // trailing comment after an unquoted value
    }
    out[m[1]!] = value;
  });
  return out;
}

/**
 * Load `.env` (or the file named by ENV_FILE; ENV_FILE= empty loads none) into `env`, without
 * overriding variables already set: the shell always wins. Returns the file loaded, if any.
 * Called by the entry points (worker, demo, schedules, dev server) before they read the environment.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const named = env.ENV_FILE;
  let file: string | null = named === '' ? null : (named ?? '.env');
  if (file !== null && !existsSync(file)) {
    if (named) throw new Error(`ENV_FILE=${named} does not exist`);
    file = null;
  }
  if (file !== null) for (const [k, v] of Object.entries(parseEnvFile(readFileSync(file, 'utf8'), file))) if (env[k] === undefined) env[k] = v;
  resolveSecretFiles(env);
  return file;
}

/**
 * Secrets every entry point may read by name, which may come from a file instead (`NAME_FILE`,
 * e.g. a mounted Kubernetes or Docker secret): the state database URL with its password, the
 * connectors' tokens and passwords, the codec keys, the alert webhook. (The Temporal connection's
 * own `*_FILE` settings are read by workers/temporal-connection.ts.)
 */
export const SECRET_FILE_VARS = [
  'SYNC_STATE_URL',
  'DEMO_DB',
  'SYNC_CODEC_KEYS',
  'SYNC_CODEC_SERVER_TOKEN',
  'SYNC_ALERT_WEBHOOK_URL',
  'TRYTON_SYNC_PASSWORD',
  'HUBSPOT_ACCESS_TOKEN',
  'SALESFORCE_ACCESS_TOKEN',
  'SALESFORCE_CLIENT_ID',
  'SALESFORCE_CLIENT_SECRET',
  'APPROVALS_DEMO_SECRET',
] as const;

/**
 * Fill each of SECRET_FILE_VARS from `NAME_FILE` when that is set: the file's content without its
 * trailing line break. Setting both is refused, as is a file that cannot be read or is empty; the
 * messages name the variables and the file, never the content.
 */
export function resolveSecretFiles(env: NodeJS.ProcessEnv, readFile: (p: string) => Buffer = (p) => readFileSync(p)): void {
  const problems: string[] = [];
  for (const name of SECRET_FILE_VARS) {
    const r = varOrFile(env, name, readFile);
    if (r.problem) problems.push(r.problem);
    if (!r.file || !r.bytes) continue;
    const value = r.bytes.toString('utf8').replace(/\r?\n$/, '');
    if (value.trim() === '') problems.push(`${r.from}: the file is empty`);
    else env[name] = value;
  }
  if (problems.length) throw new Error(`invalid environment:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/**
 * A value that may be given as `NAME` or as a file named by `NAME_FILE`, never both: the file's
 * bytes (`file`: true) or the variable's, where it came from (for messages), or the problem
 * (both set, or a file that cannot be read, with its error code). Never the value in a message.
 */
export function varOrFile(
  env: NodeJS.ProcessEnv,
  name: string,
  readFile: (p: string) => Buffer = (p) => readFileSync(p),
): { bytes?: Buffer; from?: string; file?: boolean; problem?: string } {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== '' && file !== undefined && file !== '') return { problem: `${name} and ${name}_FILE: set one of them, not both` };
  if (file) {
    try {
      return { bytes: readFile(file), from: `${name}_FILE=${file}`, file: true };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { problem: `${name}_FILE=${file}: cannot read the file (${e.code ? `${e.code}` : String(e.message ?? err)})` };
    }
  }
  return direct ? { bytes: Buffer.from(direct), from: name } : {};
}
