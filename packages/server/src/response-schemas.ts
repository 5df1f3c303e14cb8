import { MACHINE_STATES, type MachineState } from '@gemba/core';
import { z } from 'zod';

// Response shapes for the OpenAPI document (documentation only: responses are not validated
// at run time). They mirror the types in runtime/runtime.ts and the core historian contract.

const value = z.union([z.number(), z.boolean(), z.string()]);
const quality = z.enum(['good', 'uncertain', 'bad']);
const machineState = z.enum(MACHINE_STATES as readonly MachineState[] as [MachineState, ...MachineState[]]);
const priority = z.enum(['low', 'medium', 'high', 'urgent']);

/** A KPI set (ratios 0..1; NaN is sent as null). */
export const kpiSchema = z.object({
  path: z.string(),
  fromMs: z.number(),
  toMs: z.number(),
  availability: z.number().nullable(),
  performance: z.number().nullable(),
  quality: z.number().nullable(),
  oee: z.number().nullable(),
  totalCount: z.number(),
  goodCount: z.number(),
  scrapCount: z.number(),
  throughputPerHour: z.number().nullable(),
  targetPerHour: z.number().optional(),
});

/** An alarm. */
export const alarmSchema = z.object({
  id: z.string(),
  source: z.string(),
  area: z.string().optional(),
  priority,
  message: z.string(),
  active: z.boolean(),
  acknowledged: z.boolean(),
  raisedAt: z.number(),
  clearedAt: z.number().optional(),
  ackedAt: z.number().optional(),
  ackedBy: z.string().optional(),
  shelvedUntil: z.number().optional(),
  shelvedBy: z.string().optional(),
});

/** One live twin entry. */
export const twinEntrySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('value'), path: z.string(), value: value.nullable(), quality, ts: z.number() }),
  z.object({
    kind: z.literal('state'),
    path: z.string(),
    state: machineState,
    sinceMs: z.number(),
    reason: z.string().optional(),
    faultCode: z.number().optional(),
  }),
  z.object({ kind: z.literal('kpi'), path: z.string(), kpi: kpiSchema }),
  z.object({
    kind: z.literal('bottleneck'),
    path: z.string(),
    station: z.string().nullable(),
    sinceMs: z.number(),
  }),
  z.object({ kind: z.literal('alarm'), path: z.string(), alarm: alarmSchema }),
]);

/** `GET /api/twin`. */
export const twinSnapshotSchema = z.object({
  seq: z.number(),
  epoch: z.string(),
  now: z.number(),
  entries: z.array(twinEntrySchema),
});

const sampleSchema = z.object({ signal: z.string(), ts: z.number(), value, quality });
const bucketSchema = z.object({
  signal: z.string(),
  bucketMs: z.number(),
  count: z.number(),
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  first: z.number(),
  last: z.number(),
  stddev: z.number(),
});
const eventSchema = z.object({
  id: z.string(),
  kind: z.enum(['state', 'alarm', 'audit', 'order', 'system']),
  source: z.string(),
  ts: z.number(),
  data: z.record(z.string(), z.unknown()),
});
const range = { fromMs: z.number(), toMs: z.number() };

/** `GET /api/history/raw`. */
export const rawSchema = z.object({ ...range, samples: z.array(sampleSchema) });
/** `GET /api/history/buckets`. */
export const bucketsSchema = z.object({ ...range, bucketMs: z.number(), rows: z.array(bucketSchema) });
/** `GET /api/history/last`. */
export const lastSchema = z.array(sampleSchema);
/** Event lists (states, events, journal, audit). */
export const eventsSchema = z.object({ ...range, events: z.array(eventSchema) });

const estimate = z.object({
  mean: z.number().nullable(),
  lo: z.number().nullable(),
  hi: z.number().nullable(),
});
const scenarioResult = z.object({
  name: z.string(),
  throughputPerHour: estimate,
  scrapRate: estimate.optional(),
  bottleneck: z.object({ station: z.string(), share: z.number() }),
  throughputDiffPerHour: estimate.optional(),
  warnings: z.array(z.string()).optional(),
});

/** A what-if job. */
export const simJobSchema = z.object({
  id: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  progress: z.number(),
  createdAt: z.number(),
  createdBy: z.string(),
  request: z.unknown(),
  result: z
    .object({
      baseline: scenarioResult,
      scenarios: z.array(scenarioResult),
      calibration: z
        .object({
          fromMs: z.number(),
          toMs: z.number(),
          throughputErrorPct: z.number().nullable(),
          note: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
  error: z.string().optional(),
});
