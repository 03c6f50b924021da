/**
 * `${NAME}` and `${NAME:-default}` in config strings are replaced from the environment when the
 * worker loads its config (for paths and URLs; secrets are referenced by variable name instead
 * and read only inside connectors).
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, onMissing: (name: string) => never): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      return onMissing(name);
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolateEnv(v, env, onMissing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, onMissing)]));
  }
  return value;
}
