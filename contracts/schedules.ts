import { z } from 'zod';
import { DurationSchema } from './approval';

const field = z.union([z.number().int(), z.string(), z.array(z.union([z.number().int(), z.string()]))]);

/**
 * When a pipeline (or another configured workflow) runs on its own: exactly one of `interval`,
 * `cron` or `calendar`, applied to a Temporal Schedule by `npm run schedules`.
 */
export const PipelineScheduleSchema = z
  .object({
    /** Every this long, e.g. "15 minutes", "1 hour". */
    interval: DurationSchema.optional(),
    /** A cron expression, e.g. "30 2 * * *". */
    cron: z
      .string()
      .min(9)
      .refine((c) => c.trim().startsWith('@') || [5, 6, 7].includes(c.trim().split(/\s+/).length), {
        message: 'expected 5 fields (minute hour day-of-month month day-of-week), 6 (+ year) or 7 (second first), e.g. "30 2 * * *"',
      })
      .optional(),
    /** A calendar spec, e.g. {"dayOfWeek":"FRIDAY","hour":3,"minute":30}. */
    calendar: z.object({ second: field, minute: field, hour: field, dayOfMonth: field, month: field, year: field, dayOfWeek: field, comment: z.string() }).partial().strict().optional(),
    /** IANA time zone for cron and calendar, e.g. "Europe/Berlin". @default UTC */
    timeZone: z.string().min(1).optional(),
    /** What a trigger does while the previous run is still going. @default "skip" */
    overlap: z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']).default('skip'),
    /** Missed runs (server down) younger than this are still taken. @default "1 minute" */
    catchupWindow: DurationSchema.default('1 minute'),
    /** Pause the schedule when a run fails. @default false */
    pauseOnFailure: z.boolean().default(false),
    /** Create the schedule paused. @default false */
    paused: z.boolean().default(false),
  })
  .strict()
  .refine((s) => [s.interval, s.cron, s.calendar].filter((x) => x !== undefined).length === 1, {
    message: 'expected exactly one of "interval", "cron" or "calendar"',
  });
export type PipelineSchedule = z.infer<typeof PipelineScheduleSchema>;
