import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AlertSettings } from '../activities/alerts';
import { DurationSchema, durationMs } from '../contracts/approval';
import { ConfigFileError } from '../pipelines/load';

/** config/alerts.json: which alerts go to the webhook. The URL itself is a secret in the environment. */
export const AlertsFileSchema = z
  .object({
    /** The environment variable holding the webhook URL (Slack incoming webhook or compatible). */
    webhookUrlEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name, e.g. SYNC_ALERT_WEBHOOK_URL').default('SYNC_ALERT_WEBHOOK_URL'),
    rules: z
      .object({
        failedSync: z.boolean().default(true),
        quarantineAbove: z.number().int().min(0).nullable().default(null),
        zeroRead: z.object({ usualAtLeast: z.number().int().min(1), lastRuns: z.number().int().min(1).max(100).default(5) }).strict().nullable().default(null),
        approvalWaitingLongerThan: DurationSchema.nullable().default(null),
      })
      .strict(),
  })
  .strict();

const pathOf = (p: PropertyKey[]): string => p.map((k) => (typeof k === 'number' ? `[${k}]` : String(k))).join('.').replace(/\.\[/g, '[');

/**
 * Alerts from `file`. Off (settings null, with a note why) when the file does not exist or its
 * webhook variable is unset. A malformed file, or a variable that does not hold an http(s) URL,
 * stops the worker naming the file, the path or the variable (never the URL).
 */
export function loadAlertSettings(file: string, env: NodeJS.ProcessEnv): { settings: AlertSettings | null; note: string | null } {
  if (!existsSync(file)) return { settings: null, note: null };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigFileError(file, '', `not valid JSON: ${(err as Error).message}`);
  }
  const r = AlertsFileSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigFileError(file, pathOf(issue.path), issue.message);
  }
  const url = env[r.data.webhookUrlEnv];
  if (!url) return { settings: null, note: `alerts off: ${r.data.webhookUrlEnv} is not set (${file} names it as the webhook URL)` };
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
    throw new ConfigFileError(file, 'webhookUrlEnv', `environment variable ${r.data.webhookUrlEnv} does not hold an http(s) URL`);
  }
  const rules = r.data.rules;
  return {
    note: null,
    settings: {
    file,
    webhookUrl: url,
    rules: {
      failedSync: rules.failedSync,
      quarantineAbove: rules.quarantineAbove,
      zeroRead: rules.zeroRead,
      approvalWaitingMs: rules.approvalWaitingLongerThan ? durationMs(rules.approvalWaitingLongerThan) : null,
    },
    },
  };
}
