import type { SyncProgress, SyncResult } from '../../contracts/sync';

const WIDTH = 30;

/** One progress line for a pipeline, from its `progress` query. */
export function progressLine(p: SyncProgress): string {
  const t = p.totals;
  const total = p.estimatedTotal;
  const frac = total && total > 0 ? Math.min(1, t.read / total) : p.status === 'completed' ? 1 : 0;
  const filled = Math.round(frac * WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
  const of = total !== null ? `/${total}` : '';
  return `${p.pipeline.padEnd(16)} ${bar} ${String(t.read).padStart(6)}${of} read  +${t.created} ~${t.updated} =${t.unchanged} !${t.quarantined}  ${p.status}${p.status === 'running' ? ` (${p.step})` : ''}`;
}

export function summaryTable(results: SyncResult[]): string {
  const head = ['pipeline', 'read', 'created', 'updated', 'unchanged', 'quarantined', 'pages', 'runs', 'seconds'];
  const rows = results.map((r) => [
    r.pipeline,
    r.totals.read,
    r.totals.created,
    r.totals.updated,
    r.totals.unchanged,
    r.totals.quarantined,
    r.totals.pages,
    r.runs,
    (r.durationMs / 1000).toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (cells: (string | number)[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}
