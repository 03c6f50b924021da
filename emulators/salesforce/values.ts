import { RecordProblem } from './errors';
import { normalizeDateTime, normalizeId } from './ids';
import { fieldOf } from './schema';
import type { FieldDef, SObjectDef } from './schema';

/** Field values as a client sends them → the stored, typed form; refusals as Salesforce words them. */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function coerce(f: FieldDef, v: unknown): unknown {
  if (v === null || v === undefined) {
    if (f.required) throw new RecordProblem('REQUIRED_FIELD_MISSING', `Required fields are missing: [${f.name}]`, [f.name]);
    return null;
  }
  const wrongType = (): RecordProblem =>
    new RecordProblem('INVALID_TYPE_ON_FIELD_IN_RECORD', `${f.name}: value not of required type: ${String(v)}`, [f.name]);
  switch (f.type) {
    case 'double': case 'currency': case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) throw wrongType();
      return n;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw wrongType();
    case 'date':
      if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v))) return v;
      throw wrongType();
    case 'datetime': {
      const d = typeof v === 'string' ? normalizeDateTime(v) : undefined;
      if (d === undefined) throw wrongType();
      return d;
    }
    case 'reference': case 'id': {
      const id = typeof v === 'string' ? normalizeId(v) : undefined;
      if (id === undefined) throw new RecordProblem('MALFORMED_ID', `${f.name}: id value of incorrect type: ${String(v)}`, [f.name]);
      return id;
    }
    default: {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw wrongType();
      const s = String(v);
      if (f.length !== undefined && s.length > f.length) {
        throw new RecordProblem('STRING_TOO_LONG', `${f.name}: data value too large: ${s.slice(0, 40)} (max length=${f.length})`, [f.name]);
      }
      if (f.type === 'email' && s !== '' && !EMAIL.test(s)) throw new RecordProblem('INVALID_EMAIL_ADDRESS', `${f.name}: invalid email address: ${s}`, [f.name]);
      if (f.picklist && !f.picklist.includes(s)) {
        throw new RecordProblem('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${f.name}: bad value for restricted picklist field: ${s}`, [f.name]);
      }
      if (f.required && s === '') throw new RecordProblem('REQUIRED_FIELD_MISSING', `Required fields are missing: [${f.name}]`, [f.name]);
      return s;
    }
  }
}

/**
 * Client values → stored values (canonical field names). `create` also checks required fields.
 * Throws {@link RecordProblem} for the first refusal, as Salesforce reports one error per record.
 */
export function cleanValues(o: SObjectDef, values: Record<string, unknown>, mode: 'create' | 'update'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const systemFields: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (name === 'attributes') continue;
    const f = fieldOf(o, name);
    if (!f) throw new RecordProblem('INVALID_FIELD', `No such column '${name}' on sobject of type ${o.name}`, [name]);
    if (f.system || (f.createOnly && mode === 'update')) {
      if (f.name === 'Id') continue; // the record's own Id in an update/upsert body is allowed
      systemFields.push(f.name);
      continue;
    }
    out[f.name] = coerce(f, v);
  }
  if (systemFields.length > 0) {
    throw new RecordProblem(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${systemFields.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      systemFields,
    );
  }
  if (mode === 'create') {
    const missing = o.fields.filter((f) => f.required && (out[f.name] === undefined || out[f.name] === null)).map((f) => f.name);
    if (missing.length > 0) throw new RecordProblem('REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
  }
  return out;
}
