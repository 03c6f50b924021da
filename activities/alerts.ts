import { log } from '@temporalio/activity';
import { SyncError } from '../contracts/errors';
import type { StateStore } from '../state/types';

/**
 * Alerts to a chat webhook (Slack-compatible: `{text, blocks}`): a failed sync, a quarantine
 * that grows past a threshold, a run that reads nothing where its pipeline usually reads many,
 * an approval that waits too long. Rules come from config/alerts.json (workers/alerts-config.ts);
 * the webhook URL is a secret from the environment and never leaves this module (not in inputs,
 * history, logs or errors).
 */
export interface AlertRules {
  failedSync: boolean;
  /** Alert when a pipeline's open quarantine entries grow past this many (once per crossing). */
  quarantineAbove: number | null;
  /** Alert when a completed run reads 0 records while the median of its last runs is at least `usualAtLeast`. */
  zeroRead: { usualAtLeast: number; lastRuns: number } | null;
  /** Alert when an approval has waited longer than this. */
  approvalWaitingMs: number | null;
}

export interface AlertSettings {
  rules: AlertRules;
  webhookUrl: string;
  /** Where the config came from, for messages. */
  file: string;
}

export interface Alert {
  kind: 'failed-sync' | 'quarantine-growing' | 'zero-read' | 'approval-waiting';
  pipeline: string;
  syncId: string;
  title: string;
  detail: string;
}

/** The webhook body: `text` for plain receivers and notifications, `blocks` for Slack's layout. */
export function alertBody(a: Alert): { text: string; blocks: unknown[] } {
  return {
    text: `${a.title}: ${a.detail}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: a.title } },
      { type: 'section', text: { type: 'mrkdwn', text: a.detail } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `*${a.kind}* · pipeline \`${a.pipeline}\` · sync \`${a.syncId}\`` }] },
    ],
  };
}

/** POST one alert; a refused or unreachable webhook is Transient (the activity is retried). */
export async function postAlert(url: string, a: Alert): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alertBody(a)), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new SyncError('Transient', `alert webhook unreachable (${code}); will retry`);
  }
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) throw new SyncError(res.status >= 500 || res.status === 429 ? 'Transient' : 'ConfigError', `alert webhook answered HTTP ${res.status}`);
}

/** Records a run read: `read`, or the sum of a pair's per-side `<side>.read`. */
const readOf = (totals: Record<string, number>): number =>
  totals.read ?? Object.entries(totals).reduce((n, [k, v]) => (k.endsWith('.read') ? n + v : n), 0);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function createAlertActivities({ store, alerts }: { store: StateStore; alerts?: AlertSettings | null }) {
  /** Send each alert once per sync and kind (a retry after a partial send skips the ones sent). */
  const sendOnce = async (list: Alert[]): Promise<string[]> => {
    const sent: string[] = [];
    for (const a of list) {
      const key = `alert-sent:${a.kind}:${a.syncId}`;
      if (await store.getMeta(key)) continue;
      await postAlert(alerts!.webhookUrl, a);
      await store.setMeta(key, new Date().toISOString());
      log.info('alert sent', { kind: a.kind, pipeline: a.pipeline, syncId: a.syncId });
      sent.push(a.kind);
    }
    return sent;
  };

  return {
    /** After a sync's run report is saved: evaluate the rules and send what they raise. */
    async checkAlerts(input: { pipeline: string; syncId: string; status: string; totals: Record<string, number> }): Promise<{ sent: string[] }> {
      if (!alerts) return { sent: [] };
      const { rules } = alerts;
      const raised: Alert[] = [];
      const base = { pipeline: input.pipeline, syncId: input.syncId };
      if (rules.failedSync && input.status === 'failed') {
        raised.push({ ...base, kind: 'failed-sync', title: `Sync of ${input.pipeline} failed`, detail: `Sync ${input.syncId} failed after reading ${readOf(input.totals)} records. See: crm-erp-sync report ${input.syncId}` });
      }
      if (rules.quarantineAbove !== null) {
        const open = (await store.listQuarantine(input.pipeline, rules.quarantineAbove + 1)).length;
        const flag = `alert-quarantine-over:${input.pipeline}`;
        const wasOver = (await store.getMeta(flag)) === '1';
        const over = open > rules.quarantineAbove;
        if (over && !wasOver) {
          raised.push({
            ...base,
            kind: 'quarantine-growing',
            title: `Quarantine of ${input.pipeline} grew past ${rules.quarantineAbove}`,
            detail: `More than ${rules.quarantineAbove} records of ${input.pipeline} are held back in quarantine. See: crm-erp-sync quarantine list -p ${input.pipeline}`,
          });
        }
        if (over !== wasOver) await store.setMeta(flag, over ? '1' : '0');
      }
      if (rules.zeroRead && input.status === 'completed' && readOf(input.totals) === 0) {
        const earlier = (await store.listRunReports(input.pipeline, rules.zeroRead.lastRuns + 1))
          .filter((r) => r.syncId !== input.syncId && r.status === 'completed')
          .slice(0, rules.zeroRead.lastRuns)
          .map((r) => readOf(r.totals));
        if (earlier.length > 0 && median(earlier) >= rules.zeroRead.usualAtLeast) {
          raised.push({
            ...base,
            kind: 'zero-read',
            title: `${input.pipeline} read no records`,
            detail: `Sync ${input.syncId} read 0 records; its last ${earlier.length} completed runs read ${median(earlier)} (median). Is the source reachable and its cursor right?`,
          });
        }
      }
      return { sent: await sendOnce(raised) };
    },

    /** An approval waiting longer than the rule allows (started by the worker's approvals watch). */
    async alertApprovalWaiting(input: { pipeline: string; syncId: string; gate: string; requestedAt: string; summary: string; approvers: string[] }): Promise<{ sent: string[] }> {
      if (!alerts) return { sent: [] };
      return {
        sent: await sendOnce([
          {
            pipeline: input.pipeline,
            syncId: `${input.syncId}#${input.gate}`,
            kind: 'approval-waiting',
            title: `Approval waiting: ${input.gate}`,
            detail: `${input.summary} has waited since ${input.requestedAt} for a decision by ${input.approvers.join(', ')}.`,
          },
        ]),
      };
    },
  };
}
