import { z } from 'zod';
import { CANONICAL_ENTITY_NAMES } from '../canonical';

/** Transforms that take no options, written as plain strings: `"trim"`. */
export const SIMPLE_TRANSFORMS = [
  'trim',
  'lower',
  'upper',
  'title',
  'toString',
  'toNumber',
  'toInteger',
  'toBoolean',
  'emptyToNull',
  'countryCode',
  'phoneE164',
  /** A canonical Money object → its decimal amount as text ("1234.50"), for writing back. */
  'moneyToDecimal',
] as const;

const DATE_FORMATS = ['iso', 'YYYY-MM-DD', 'DD.MM.YYYY', 'MM/DD/YYYY', 'DD/MM/YYYY', 'epochMillis', 'epochSeconds'] as const;

const ParamTransformSchema = z.union([
  z.object({ phoneE164: z.object({ defaultCountry: z.string().length(2).optional(), defaultCountryFrom: z.string().optional() }).strict() }).strict(),
  z.object({ split: z.object({ separator: z.string().min(1), index: z.number().int() }).strict() }).strict(),
  z.object({ splitName: z.enum(['first', 'last']) }).strict(),
  z.object({ join: z.string() }).strict(),
  z.object({ truncate: z.number().int().min(1) }).strict(),
  z
    .object({
      money: z
        .object({
          currency: z.string().length(3).optional(),
          currencyFrom: z.string().optional(),
          /** Read amounts as written in this locale ("de-DE": "1.234,56 €"); currency symbols and spaces are ignored. */
          locale: z.string().refine((l) => { try { return Intl.NumberFormat.supportedLocalesOf([l]).length === 1; } catch { return false; } }, 'expected a locale such as "de-DE", "en-US" or "ja-JP"').optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ date: z.object({ format: z.enum(DATE_FORMATS), output: z.enum(['date', 'datetime']).default('date') }).strict() }).strict(),
  z
    .object({
      valueMap: z
        .object({
          map: z.record(z.string(), z.unknown()),
          /** Value for inputs not in `map`; without it an unknown input is an error. */
          default: z.unknown().optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ lookup: z.string().min(1) }).strict(),
]);

export const TransformSchema = z.union([z.enum(SIMPLE_TRANSFORMS), ParamTransformSchema], {
  error: (iss) => `expected one of ${SIMPLE_TRANSFORMS.join(', ')} or an object such as {"phoneE164":{…}}, {"split":{…}}, {"splitName":"first"}, {"join":" "}, {"truncate":n}, {"money":{…}}, {"date":{…}}, {"valueMap":{…}}, {"lookup":"table"}; got ${JSON.stringify(iss.input)}`,
});
export type Transform = z.infer<typeof TransformSchema>;

/**
 * Where a field's value comes from when its own source is blank, e.g. a HubSpot company's ERP
 * key (`erp_customer_id`), else its own record id with the system's key prefix.
 */
export const FallbackRuleSchema = z
  .object({
    from: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    transform: z.array(TransformSchema).default([]),
    /** The fallback value is a key of the source system: written with its `keyPrefix`. */
    sourceKey: z.boolean().default(false),
  })
  .strict();
export type FallbackRule = z.infer<typeof FallbackRuleSchema>;

export const FieldRuleSchema = z
  .object({
    /** Source field name (dotted for nested), or several to combine with `join`. */
    from: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** A constant value instead of `from`. */
    const: z.unknown().optional(),
    /** Applied in order. */
    transform: z.array(TransformSchema).default([]),
    /** Used when the source value is missing or empty. */
    default: z.unknown().optional(),
    /** A missing value quarantines the record. */
    required: z.boolean().default(false),
    /** What a failing transform does: quarantine the record (default) or drop the field. */
    onError: z.enum(['quarantine', 'omit']).default('quarantine'),
    /**
     * The value is a key of the source system (the record's own key, or the key of a record it
     * refers to, such as a contact's company). It is written with the source system's
     * `keyPrefix` (config/systems.json), exactly like the external key of the record itself, so
     * references stay consistent and two sources never share a key space in one target.
     */
    sourceKey: z.boolean().default(false),
    /** Used when `from` gives a blank value (before `default`); its own `sourceKey` decides the prefix. */
    fallback: FallbackRuleSchema.optional(),
  })
  .strict()
  .refine((r) => r.from !== undefined || r.const !== undefined, {
    message: 'a field rule needs "from" (a source field) or "const" (a fixed value)',
  });
export type FieldRule = z.infer<typeof FieldRuleSchema>;

/** One native field written from the canonical record (the way back: canonical → native). */
export const WriteRuleSchema = z
  .object({
    /** Canonical field path the value comes from, e.g. `creditLimit` or `address.city`. */
    from: z.string().min(1),
    /** Applied in order (the same transforms as reading, plus `moneyToDecimal`). */
    transform: z.array(TransformSchema).default([]),
  })
  .strict();
export type WriteRule = z.infer<typeof WriteRuleSchema>;

/** A mapping file (mappings/definitions/*.json): data, validated when the worker starts. */
export const MappingSpecSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes'),
    description: z.string().optional(),
    /** The canonical entity this mapping produces. */
    target: z.enum(CANONICAL_ENTITY_NAMES as [string, ...string[]]),
    /** Named value tables for the `lookup` transform. */
    lookups: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /** Canonical field path (dotted, e.g. `address.countryCode`) → rule. */
    fields: z.record(z.string(), FieldRuleSchema),
    /**
     * The way back, for sides of a two-way pair: native field → the canonical field it is
     * written from. Only rules whose canonical field changed are written (partial updates).
     */
    write: z.record(z.string(), WriteRuleSchema).optional(),
  })
  .strict();
export type MappingSpec = z.infer<typeof MappingSpecSchema>;
