import type { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_FLAGS } from '../contracts/search-attributes';

/**
 * Which of the project's search attributes the namespace lacks. Workflows upsert them as they
 * run; on a namespace without them every workflow task would fail, so the worker checks first.
 */
export async function missingSearchAttributes(connection: NativeConnection, namespace: string): Promise<string[]> {
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(res.customAttributes ?? {}));
  return SEARCH_ATTRIBUTE_FLAGS.map((f) => f.split('=') as [string, string]).filter(([name]) => !known.has(name)).map(([name, type]) => `${name}=${type}`);
}

/** The commands an operator runs to register them. */
export function registerCommands(missing: string[], namespace: string): string {
  return missing
    .map((m) => {
      const [name, type] = m.split('=');
      return `  temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`;
    })
    .join('\n');
}
