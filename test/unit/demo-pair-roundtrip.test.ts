import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { planRecord } from '../../mappings/two-way/planner';
import { compilePairPolicy } from '../../mappings/two-way/policy';
import { matchRecords } from '../../mappings/two-way/match';

/**
 * No phantom changes: a CRM account written into the ERP by the one-way `demo-accounts`
 * pipeline reads back, through the ERP side's mapping of the `demo-customers` pair, as the very
 * canonical record the CRM side's mapping makes of the account.
 */
test('demo CRM accounts written into the ERP map back to equal canonical records', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'demo-pair-'));
  seedDemo(dir, { accounts: 400, contacts: 0, products: 0 });
  const env = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env });
  const connectors = new ConnectorPool(registry, env);
  try {
    const pipeline = registry.pipelines.get('demo-accounts')!;
    const pair = registry.pairs.get('demo-customers')!;
    const crmSide = pair.sides.crm!;
    const erpSide = pair.sides.erp!;
    expect([pipeline.source, pipeline.target, pipeline.mapping]).toEqual([
      { system: crmSide.system, entity: crmSide.entity },
      { system: erpSide.system, entity: erpSide.entity },
      crmSide.mapping,
    ]);
    const crm = connectors.get(crmSide.system);
    const erp = connectors.get(erpSide.system);
    const toCanonical = registry.mappings.get(crmSide.mapping)!;
    const fromErp = registry.mappings.get(erpSide.mapping)!;

    // what the one-way pipeline writes: the canonical record, keyed by the CRM key (no prefix)
    const accounts = (await crm.fetchChanges(crmSide.entity, { after: null, limit: 10_000 })).records;
    const mapped = accounts.flatMap((r) => {
      const m = toCanonical.apply(r.data);
      return m.ok ? [{ key: r.key, modifiedAt: r.modifiedAt, fields: m.value }] : [];
    });
    expect(mapped.length).toBeGreaterThan(300);
    const outcomes = await erp.upsert(erpSide.entity, mapped.map((m) => ({ externalKey: m.key, fields: m.fields })));
    expect(outcomes.every((o) => o.ok)).toBe(true);

    const rows = (await erp.fetchChanges(erpSide.entity, { after: null, limit: 10_000 })).records;
    const back = rows.map((r) => {
      const m = fromErp.apply(r.data);
      if (!m.ok) throw new Error(`ERP row ${r.key} does not map: ${JSON.stringify(m.issues)}`);
      return { key: r.key, modifiedAt: r.modifiedAt, fields: m.value };
    });
    const byExternalKey = new Map(back.map((b) => [b.fields.externalKey as string, b]));
    for (const m of mapped) expect(byExternalKey.get(m.key)?.fields).toEqual(m.fields);

    // the pair's first link finds every pair by external key and plans no write at all
    const policy = compilePairPolicy(pair);
    const match = matchRecords(pair.match, policy.sides, mapped, back);
    expect(match.linked).toHaveLength(mapped.length);
    expect(match.ambiguous).toEqual([]);
    const erpByKey = new Map(back.map((b) => [b.key, b]));
    const crmByKey = new Map(mapped.map((m) => [m.key, m]));
    const plans = match.linked.map((l) => planRecord(policy, { sides: { crm: crmByKey.get(l.a)!, erp: erpByKey.get(l.b)! }, link: null }));
    expect(plans.filter((p) => Object.keys(p.patches).length > 0 || p.create || p.deleteOn)).toEqual([]);
    expect(plans.filter((p) => p.conflicts.length || p.rejected.length)).toEqual([]);
    // churned accounts are archived on both sides already: remembered, not written
    const archived = mapped.filter((m) => m.fields.active === false).length;
    expect(archived).toBeGreaterThan(0);
    expect(plans.filter((p) => p.outcome === 'skip' && p.skipped === 'archived')).toHaveLength(archived);
    expect(plans.filter((p) => p.outcome === 'unchanged')).toHaveLength(mapped.length - archived);
  } finally {
    await connectors.closeAll();
  }
});
