import type { Client } from '@temporalio/client';
import { applySchedules, loadScheduleEntries, type ApplyReport } from '../schedules';

/** The demo's own schedules: its pipelines' and pair's (`pipeline:demo-*`, `pair:demo-*`) from the config. */
export function demoScheduleEntries(configDir: string) {
  return loadScheduleEntries(configDir).filter((e) => /^(pipeline|pair):demo-/.test(e.scheduleId));
}

/**
 * Register the demo's schedules as `npm run schedules` would (idempotent: created when missing,
 * updated when changed, an operator's pause kept) and say where to see them.
 */
export async function registerDemoSchedules(client: Client, configDir: string, uiUrl: string, namespace: string): Promise<{ report: ApplyReport; lines: string[] }> {
  const entries = demoScheduleEntries(configDir);
  const report = await applySchedules(client, entries);
  const paused = entries.filter((e) => e.schedule.paused).map((e) => e.scheduleId);
  const parts = [
    report.created.length ? `created ${report.created.join(', ')}` : '',
    report.updated.length ? `updated ${report.updated.join(', ')}` : '',
    report.unchanged.length ? `unchanged ${report.unchanged.join(', ')}` : '',
  ].filter(Boolean);
  const lines = [
    `Schedules: ${parts.join('; ')}${paused.length === entries.length ? ' (all paused: unpause one with npm run temporal:cli -- schedule toggle -s <id> --unpause)' : ''}`,
    `  see them: ${uiUrl}/namespaces/${namespace}/schedules`,
  ];
  return { report, lines };
}
