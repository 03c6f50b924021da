/**
 * The run report of one sync for a person: as text (`crm-erp-sync report <syncId>`) and as one
 * self-contained HTML file (`--html <file>`: inline CSS and an inline SVG chart, no external
 * assets, no script). Built from the state store only: the run report, the sync's run events
 * (page timings, change samples, retries, approvals, conflicts) and its quarantine entries.
 * The HTML file holds field values of changed and quarantined records: it is for the operator's
 * machine, like the state store, and is never sent anywhere by the project.
 */
import type { QuarantineRow, RunEvent, RunReport, StateStore } from '../state/types';
import { clip, duration, showValue, table, when } from './format';

export interface PageTiming {
  seq: number;
  side: string | null;
  /** Records the page's fetch read. */
  read: number;
  /** When its first step started and its last step ended (ms since the epoch). */
  startMs: number;
  endMs: number;
  /** Sum of its steps' durations, and each step's. */
  ms: number;
  steps: { step: string; ms: number; count: number | null; attempt: number }[];
}

export interface ChangeSample {
  sourceKey: string;
  op: string;
  fields: { field: string; before: unknown; after: unknown; currency?: string }[];
}

export interface ReportView {
  report: RunReport;
  quarantined: QuarantineRow[];
  pages: PageTiming[];
  changes: ChangeSample[];
  approvals: Record<string, unknown>[];
  conflicts: Record<string, unknown>[];
  retries: { step: string; seq: number; attempt: number; system: string | null; at: string }[];
}

/** Everything the report shows of one sync (by sync id, or workflow id for its newest sync); null when unknown. */
export async function loadReportView(store: StateStore, id: string): Promise<ReportView | null> {
  const report = await store.getRunReport(id);
  if (!report) return null;
  const quarantined = (await store.listQuarantine(report.pipeline, 100_000)).filter((q) => q.syncId === report.syncId);
  return buildReportView(report, quarantined, await store.listRunEvents(report.syncId));
}

export function buildReportView(report: RunReport, quarantined: QuarantineRow[], events: RunEvent[]): ReportView {
  const pages = new Map<string, PageTiming>();
  const changes: ChangeSample[] = [];
  const approvals: Record<string, unknown>[] = [];
  const conflicts: Record<string, unknown>[] = [];
  const retries: ReportView['retries'] = [];
  for (const e of events) {
    const d = e.data;
    if (e.kind === 'page') {
      const seq = Number(d.seq);
      const side = typeof d.side === 'string' ? d.side : null;
      const k = `${seq}/${side ?? ''}`;
      const start = Date.parse(String(d.startedAt));
      const ms = Number(d.ms);
      const p = pages.get(k) ?? { seq, side, read: 0, startMs: start, endMs: start + ms, ms: 0, steps: [] };
      const step = String(d.step);
      const count = typeof d.count === 'number' ? d.count : null;
      if (step.startsWith('fetch') || step === 'preparePage') p.read = count ?? 0;
      p.startMs = Math.min(p.startMs, start);
      p.endMs = Math.max(p.endMs, start + ms);
      p.ms += ms;
      p.steps.push({ step, ms, count, attempt: Number(d.attempt ?? 1) });
      pages.set(k, p);
    } else if (e.kind === 'change') {
      // a pair's samples name the side they were written to: erp:17
      changes.push({ sourceKey: typeof d.side === 'string' ? `${d.side}:${String(d.sourceKey)}` : String(d.sourceKey), op: String(d.op ?? 'update'), fields: (d.fields as ChangeSample['fields']) ?? [] });
    } else if (e.kind === 'approval') approvals.push(d);
    else if (e.kind === 'conflict') conflicts.push(d);
    else if (e.kind === 'retry') retries.push({ step: String(d.step), seq: Number(d.seq), attempt: Number(d.attempt), system: typeof d.system === 'string' ? d.system : null, at: e.at });
  }
  return {
    report,
    quarantined,
    pages: [...pages.values()].sort((a, b) => a.seq - b.seq || (a.side ?? '').localeCompare(b.side ?? '')),
    changes,
    approvals,
    conflicts,
    retries,
  };
}

const took = (r: RunReport) => duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt));
const ms = (n: number) => `${Math.round(n)} ms`;
const show = (v: unknown, currency?: string): string => showValue(v, currency);
const pageName = (p: PageTiming) => `${p.seq + 1}${p.side ? ` (${p.side})` : ''}`;

/** The slowest pages first (at most `n`). */
export const slowest = (pages: PageTiming[], n = 5): PageTiming[] => [...pages].sort((a, b) => b.ms - a.ms).slice(0, n);

/** Quarantine entries grouped by field and rule, largest group first. */
function byRule(quarantined: QuarantineRow[]): { field: string; rule: string; rows: QuarantineRow[] }[] {
  const groups = new Map<string, { field: string; rule: string; rows: QuarantineRow[] }>();
  for (const q of quarantined) {
    const k = `${q.field ?? '-'}\t${q.rule}`;
    const g = groups.get(k) ?? { field: q.field ?? '-', rule: q.rule, rows: [] };
    g.rows.push(q);
    groups.set(k, g);
  }
  return [...groups.values()].sort((a, b) => b.rows.length - a.rows.length);
}

const approvalLine = (a: Record<string, unknown>) =>
  `${when(String(a.at ?? ''))}  ${String(a.decision ?? '?')}${a.accepted === false ? ' (refused)' : ''} by ${show(a.approver ?? null)} via ${String(a.via ?? '?')}  ${String(a.gate ?? '')}` +
  (a.comment ? `  "${String(a.comment)}"` : '') + (a.refusal ? `  refusal: ${String(a.refusal)}` : '');

/** The text form of a run report. */
export function formatReport(v: ReportView): string {
  const r = v.report;
  const counts = Object.entries(r.totals)
    .filter(([, n]) => typeof n === 'number')
    .map(([k, n]) => `${k} ${n}`)
    .join('  ');
  const lines = [
    `sync      ${r.syncId}`,
    `pipeline  ${r.pipeline}`,
    `status    ${r.status}`,
    `started   ${when(r.startedAt)}`,
    `finished  ${when(r.finishedAt)}  (${took(r)})`,
    `totals    ${counts || '-'}`,
  ];
  if (v.pages.length) {
    lines.push('', `slowest pages (of ${v.pages.length})`);
    lines.push(
      table(
        ['page', 'read', 'took', 'steps'],
        slowest(v.pages).map((p) => [pageName(p), p.read, ms(p.ms), p.steps.map((s) => `${s.step} ${ms(s.ms)}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`).join(', ')]),
      ),
    );
  }
  if (v.quarantined.length) {
    lines.push('', `still quarantined from this sync: ${v.quarantined.length}`);
    lines.push(
      table(
        ['field', 'rule', 'records', 'example'],
        byRule(v.quarantined).map((g) => [g.field, g.rule, g.rows.length, clip(`#${g.rows[0]!.sourceKey}: ${g.rows[0]!.reason}`, 80)]),
      ),
    );
  }
  if (v.changes.length) {
    lines.push('', `updates, before → after (first ${v.changes.length} sampled)`);
    for (const c of v.changes) for (const f of c.fields) lines.push(`  #${c.sourceKey}  ${f.field}: ${clip(show(f.before, f.currency), 40)} → ${clip(show(f.after, f.currency), 40)}`);
  }
  if (v.conflicts.length) {
    lines.push('', `conflicts: ${v.conflicts.length}`);
    for (const c of v.conflicts) lines.push(`  ${show(c.keys)}  ${String(c.field)}: ${clip(show(c.values), 60)} → ${String(c.resolution)} (${String(c.policy ?? '')})`);
  }
  if (v.approvals.length) {
    lines.push('', 'approvals');
    for (const a of v.approvals) lines.push(`  ${approvalLine(a)}`);
  }
  if (v.retries.length) {
    lines.push('', `retries: ${v.retries.length}`);
    for (const t of v.retries) lines.push(`  ${when(t.at)}  page ${t.seq + 1} ${t.step} attempt ${t.attempt}${t.system ? ` (${t.system})` : ''}`);
  }
  return lines.join('\n');
}

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Records read over time: one point per page at the end of its last step, as an inline SVG. */
export function pagesChart(v: ReportView): string {
  const W = 640;
  const H = 200;
  const pad = { l: 56, r: 12, t: 12, b: 32 };
  const t0 = Date.parse(v.report.startedAt);
  const t1 = Math.max(Date.parse(v.report.finishedAt), ...v.pages.map((p) => p.endMs));
  const pages = [...v.pages].sort((a, b) => a.endMs - b.endMs);
  let acc = 0;
  const pts = pages.map((p) => ({ t: p.endMs - t0, y: (acc += p.read), p }));
  const maxT = Math.max(1, t1 - t0);
  const maxY = Math.max(1, acc);
  const x = (t: number) => pad.l + ((W - pad.l - pad.r) * Math.max(0, t)) / maxT;
  const y = (n: number) => H - pad.b - ((H - pad.t - pad.b) * n) / maxY;
  const line = [`${x(0)},${y(0)}`, ...pts.map((q) => `${x(q.t).toFixed(1)},${y(q.y).toFixed(1)}`)].join(' ');
  const dots = pts
    .map((q) => `<circle class="page" cx="${x(q.t).toFixed(1)}" cy="${y(q.y).toFixed(1)}" r="3"><title>page ${esc(pageName(q.p))}: ${q.p.read} read, ${esc(ms(q.p.ms))}</title></circle>`)
    .join('');
  return (
    `<svg id="pages-chart" role="img" aria-label="records read over time, one dot per page" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" class="axis"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" class="axis"/>` +
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end">${maxY}</text><text x="${pad.l - 6}" y="${H - pad.b}" text-anchor="end">0</text>` +
    `<text x="${W - pad.r}" y="${H - 8}" text-anchor="end">${esc(duration(maxT))}</text><text x="${pad.l}" y="${H - 8}">0 s</text>` +
    `<polyline points="${line}" class="read"/>${dots}</svg>`
  );
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.meta{color:#57606a}.status{display:inline-block;padding:.05rem .5rem;border-radius:1rem;background:#ddf4ff}
.status.failed,.status.rejected{background:#ffebe9}.status.completed{background:#dafbe1}
.counts{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}.count{border:1px solid #d0d7de;border-radius:.4rem;padding:.4rem .8rem;min-width:6rem}
.count b{display:block;font-size:1.3rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.9em}.before{color:#cf222e}.after{color:#1a7f37}
svg text{font-size:11px;fill:#57606a}svg .axis{stroke:#8c959f}svg .read{fill:none;stroke:#0969da;stroke-width:2}svg .page{fill:#0969da}
.none{color:#57606a;font-style:italic}`;

/** One self-contained HTML page (inline CSS and SVG, no scripts, no external assets). */
export function renderReportHtml(v: ReportView): string {
  const r = v.report;
  const rows = (cells: unknown[][], numeric: number[] = []) =>
    cells.map((c) => `<tr>${c.map((x, i) => `<td${numeric.includes(i) ? ' class="n"' : ''}>${esc(x ?? '-')}</td>`).join('')}</tr>`).join('');
  const section = (id: string, title: string, body: string, empty: string, has: boolean) =>
    `<section id="${id}"><h2>${esc(title)}</h2>${has ? body : `<p class="none">${esc(empty)}</p>`}</section>`;
  const counts = Object.entries(r.totals)
    .filter(([, n]) => typeof n === 'number')
    .map(([k, n]) => `<div class="count" data-count="${esc(k)}"><b>${esc(n)}</b>${esc(k)}</div>`)
    .join('');
  const slow = slowest(v.pages, 10);
  const html = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(`${r.pipeline} ${r.status}: ${r.syncId}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>${esc(r.pipeline)} <span class="status ${esc(r.status)}">${esc(r.status)}</span></h1>`,
    `<div class="meta">sync <code>${esc(r.syncId)}</code><br>started ${esc(when(r.startedAt))}, finished ${esc(when(r.finishedAt))}, took <span id="duration">${esc(took(r))}</span></div></header>`,
    `<section id="counts"><div class="counts">${counts}</div></section>`,
    section('pages', `Pages over time (${v.pages.length} pages)`, pagesChart(v), 'no page timings recorded for this sync', v.pages.length > 0),
    section(
      'slowest',
      'Slowest pages',
      `<table><thead><tr><th>page</th><th>read</th><th>took</th><th>steps</th></tr></thead><tbody>${rows(
        slow.map((p) => [pageName(p), p.read, ms(p.ms), p.steps.map((s) => `${s.step} ${ms(s.ms)}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`).join(', ')]),
        [1, 2],
      )}</tbody></table>`,
      'no page timings recorded',
      slow.length > 0,
    ),
    section(
      'quarantine',
      `Quarantined (${v.quarantined.length} still open from this sync)`,
      `<table><thead><tr><th>key</th><th>stage</th><th>field</th><th>rule</th><th>reason</th></tr></thead><tbody>${rows(
        byRule(v.quarantined).flatMap((g) => g.rows.slice(0, 50)).map((q) => [q.sourceKey, q.stage, q.field, q.rule, q.reason]),
      )}</tbody></table>`,
      'nothing quarantined',
      v.quarantined.length > 0,
    ),
    section(
      'changes',
      'Updates: before → after (sampled)',
      `<table><thead><tr><th>key</th><th>field</th><th>before</th><th>after</th></tr></thead><tbody>${v.changes
        .flatMap((c) => c.fields.map((f) => `<tr><td>${esc(c.sourceKey)}</td><td>${esc(f.field)}</td><td class="before">${esc(show(f.before, f.currency))}</td><td class="after">${esc(show(f.after, f.currency))}</td></tr>`))
        .join('')}</tbody></table>`,
      'no field-level samples (kept for pipelines whose bindings keep the fields they wrote: approval watchFields)',
      v.changes.length > 0,
    ),
    section(
      'conflicts',
      `Conflicts (${v.conflicts.length})`,
      `<table><thead><tr><th>keys</th><th>field</th><th>values</th><th>resolution</th></tr></thead><tbody>${rows(
        v.conflicts.map((c) => [show(c.keys), c.field, show(c.values), `${String(c.resolution)} (${String(c.policy ?? '')})`]),
      )}</tbody></table>`,
      'no conflicts',
      v.conflicts.length > 0,
    ),
    section(
      'approvals',
      'Approvals',
      `<table><thead><tr><th>when</th><th>decision</th><th>who</th><th>via</th><th>gate</th><th>comment</th></tr></thead><tbody>${rows(
        v.approvals.map((a) => [when(String(a.at ?? '')), `${String(a.decision)}${a.accepted === false ? ' (refused)' : ''}`, a.approver ?? '-', a.via, a.gate, a.comment ?? a.refusal ?? '-']),
      )}</tbody></table>`,
      'no approval needed',
      v.approvals.length > 0,
    ),
    section(
      'retries',
      `Retries (${v.retries.length})`,
      `<table><thead><tr><th>when</th><th>page</th><th>step</th><th>attempt</th><th>system</th></tr></thead><tbody>${rows(
        v.retries.map((t) => [when(t.at), t.seq + 1, t.step, t.attempt, t.system]),
        [1, 3],
      )}</tbody></table>`,
      'no retried steps',
      v.retries.length > 0,
    ),
    `<footer class="meta"><p>Generated ${esc(when(new Date()))} by crm-erp-sync report. Holds record values: keep it on the operator's machine.</p></footer>`,
    '</body></html>',
  ];
  return html.join('\n');
}
