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
  if (named === '') return null;
  const file = named ?? '.env';
  if (!existsSync(file)) {
    if (named) throw new Error(`ENV_FILE=${named} does not exist`);
    return null;
  }
  for (const [k, v] of Object.entries(parseEnvFile(readFileSync(file, 'utf8'), file))) if (env[k] === undefined) env[k] = v;
  return file;
}
