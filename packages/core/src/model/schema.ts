import { z } from 'zod';
import { PATH_SEGMENT } from '../path.ts';

// The plant model file's schema. Structure only: references between parts (types,
// stations, signals, units) are checked by the loader, which knows positions.

const id = z
  .string()
  .regex(PATH_SEGMENT, 'an id is letters, digits, "_" or "-", starting with a letter or digit');
const finite = z.number().finite();

/** Roles a signal plays; derived facts (states, counts, OEE) are computed from them. */
export const SIGNAL_ROLES = [
  'state',
  'state_reason',
  'fault_code',
  'part_counter',
  'good_counter',
  'scrap_counter',
  'process_value',
  'setpoint',
  'buffer_level',
  'energy',
  'power',
  'status',
] as const;
export type SignalRole = (typeof SIGNAL_ROLES)[number];

export const DATA_TYPES = ['bool', 'int', 'uint', 'float', 'string'] as const;
export type DataType = (typeof DATA_TYPES)[number];

const range = z.strictObject({ min: finite.optional(), max: finite.optional() });

/** Alarm limits, ISA-18.2 style: low-low, low, high, high-high. */
const limits = z.strictObject({
  lolo: finite.optional(),
  lo: finite.optional(),
  hi: finite.optional(),
  hihi: finite.optional(),
  /** Deadband for clearing a limit alarm, in the signal's unit. */
  deadband: finite.nonnegative().optional(),
  /** How long a limit must be violated before the alarm raises, ms. */
  onDelayMs: z.number().int().nonnegative().optional(),
  /** How long a signal must be back in limits before the alarm clears, ms. */
  offDelayMs: z.number().int().nonnegative().optional(),
  priority: z.enum(['low', 'medium', 'high', 'urgent']).optional(),
});

const minutes = z.number().finite().positive();

/**
 * The maintenance plan's job that renews what a condition signal monitors (replacing the bearing
 * whose vibration it measures): how long it takes, in minutes, as one planned figure or a
 * three-point estimate. The simulation's calibration uses it for a wear failure until it has seen
 * such a repair in the history.
 */
const renewal = z.strictObject({
  job: z.string().optional(),
  durationMin: z.union([
    minutes,
    z
      .strictObject({ min: minutes, likely: minutes, max: minutes })
      .refine((d) => d.min <= d.likely && d.likely <= d.max, {
        message: 'a three-point estimate needs min <= likely <= max',
      }),
  ]),
});

/** One signal of an equipment type (or an override on an instance). */
export const signalDefSchema = z.strictObject({
  description: z.string().optional(),
  dataType: z.enum(DATA_TYPES).default('float'),
  unit: z.string().optional(),
  role: z.enum(SIGNAL_ROLES).default('process_value'),
  /** Normal operating range. */
  normal: range.optional(),
  /** Engineering (instrument) range. */
  range: range.optional(),
  limits: limits.optional(),
  writable: z.boolean().default(false),
  /** Named code table: `packml` or a map from code to name. */
  enum: z.union([z.literal('packml'), z.record(z.string(), z.string())]).optional(),
  /** Expected update period, ms; a value older than a few periods is stale. */
  periodMs: z.number().int().positive().optional(),
  /** For a condition signal: the maintenance job that renews what it monitors. */
  renewal: renewal.optional(),
});
export type SignalDefInput = z.input<typeof signalDefSchema>;
export type SignalDef = z.output<typeof signalDefSchema>;

const signalOverrideSchema = signalDefSchema.partial();
/** A signal override on an instance: any field of a signal definition. */
export type SignalOverride = z.output<typeof signalOverrideSchema>;

export const equipmentTypeSchema = z.strictObject({
  description: z.string().optional(),
  extends: id.optional(),
  signals: z.record(id, signalDefSchema).default({}),
});

const equipmentSchema: z.ZodType<EquipmentInput> = z.lazy(() =>
  z.strictObject({
    id,
    name: z.string().optional(),
    type: id,
    signals: z.record(id, signalOverrideSchema).optional(),
    equipment: z.array(equipmentSchema).optional(),
  }),
);
export interface EquipmentInput {
  id: string;
  name?: string | undefined;
  type: string;
  signals?: Record<string, z.input<typeof signalOverrideSchema>> | undefined;
  equipment?: EquipmentInput[] | undefined;
}

const stationSchema = z.strictObject({
  id,
  name: z.string().optional(),
  type: id,
  signals: z.record(id, signalOverrideSchema).optional(),
  equipment: z.array(equipmentSchema).optional(),
});

const bufferSchema = z.strictObject({
  id,
  from: id,
  to: id,
  capacity: z.number().int().positive(),
  type: id.optional(),
  signals: z.record(id, signalOverrideSchema).optional(),
});

const lineSchema = z.strictObject({
  id,
  name: z.string().optional(),
  /** Stations in flow order. */
  stations: z.array(stationSchema).min(1),
  buffers: z.array(bufferSchema).default([]),
  equipment: z.array(equipmentSchema).default([]),
});

const areaSchema = z.strictObject({
  id,
  name: z.string().optional(),
  lines: z.array(lineSchema).default([]),
});
const siteSchema = z.strictObject({
  id,
  name: z.string().optional(),
  timezone: z.string().optional(),
  areas: z.array(areaSchema).default([]),
});

const edgeSchema = z.strictObject({
  /** Linear scaling: `value * gain + offset`, applied first. */
  gain: finite.optional(),
  offset: finite.optional(),
  /** Convert from this unit to the signal's unit. */
  fromUnit: z.string().optional(),
  deadband: z
    .strictObject({ absolute: finite.nonnegative().optional(), percent: finite.nonnegative().optional() })
    .optional(),
  changeOnly: z.boolean().optional(),
  minIntervalMs: z.number().int().nonnegative().optional(),
});
export type EdgeOptions = z.output<typeof edgeSchema>;

const bindingBase = { signal: z.string().min(1), edge: edgeSchema.optional() };

const opcuaSourceSchema = z.strictObject({
  id,
  protocol: z.literal('opcua'),
  base: z.string().optional(),
  endpoint: z.string().regex(/^opc\.tcp:\/\//, 'an OPC UA endpoint starts with opc.tcp://'),
  securityMode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
  securityPolicy: z.enum(['None', 'Basic256Sha256']).default('None'),
  username: z.string().optional(),
  /** Name of the environment variable holding the password (never the password itself). */
  passwordEnv: z.string().optional(),
  /**
   * Folder of the client's certificate store and trust list (`trusted/certs`, `rejected/` ...);
   * default `<dataDir>/pki`. A server certificate must be in `trusted/certs` for Sign and
   * SignAndEncrypt unless `acceptUnknownCertificate` is set.
   */
  pkiDir: z.string().optional(),
  /** Trusts any server certificate on first use (for commissioning; off by default). */
  acceptUnknownCertificate: z.boolean().default(false),
  samplingIntervalMs: z.number().int().nonnegative().default(250),
  bindings: z.array(
    z.strictObject({
      ...bindingBase,
      nodeId: z.string().min(1),
      samplingIntervalMs: z.number().int().nonnegative().optional(),
      queueSize: z.number().int().positive().optional(),
    }),
  ),
});

export const MODBUS_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
const modbusSourceSchema = z.strictObject({
  id,
  protocol: z.literal('modbus'),
  base: z.string().optional(),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  unitId: z.number().int().min(0).max(255).default(1),
  timeoutMs: z.number().int().positive().default(1000),
  pollIntervalMs: z.number().int().positive().default(1000),
  pollGroups: z.record(id, z.strictObject({ intervalMs: z.number().int().positive() })).default({}),
  bindings: z.array(
    z.strictObject({
      ...bindingBase,
      table: z.enum(['holding', 'input', 'coil', 'discrete']),
      address: z.number().int().min(0).max(65535),
      type: z.enum(MODBUS_TYPES).default('uint16'),
      wordOrder: z.enum(['big', 'little']).default('big'),
      byteOrder: z.enum(['big', 'little']).default('big'),
      bit: z.number().int().min(0).max(15).optional(),
      unitId: z.number().int().min(0).max(255).optional(),
      pollGroup: id.optional(),
    }),
  ),
});

const mqttCommon = {
  id,
  base: z.string().optional(),
  url: z
    .string()
    .regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'an MQTT URL starts with mqtt://, mqtts://, ws:// or wss://'),
  username: z.string().optional(),
  passwordEnv: z.string().optional(),
  mqttVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  /** TLS for `mqtts://` and `wss://` URLs: PEM files (paths) and server certificate checking. */
  tls: z
    .strictObject({
      /** CA certificate(s) to trust instead of the system's. */
      caFile: z.string().optional(),
      /** Client certificate and key for mutual TLS. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      /** Check the broker's certificate (default true; false only for commissioning). */
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
};

const mqttJsonSourceSchema = z.strictObject({
  ...mqttCommon,
  protocol: z.literal('mqtt-json'),
  bindings: z.array(
    z.strictObject({
      ...bindingBase,
      topic: z.string().min(1),
      /** Dotted path into the JSON payload, e.g. `power_kw` or `meter.readings[0].value`. */
      field: z.string().min(1),
      /** Dotted path to a timestamp (ms since epoch or ISO 8601); receive time when absent. */
      timestampField: z.string().optional(),
    }),
  ),
});

const sparkplugSourceSchema = z.strictObject({
  ...mqttCommon,
  protocol: z.literal('sparkplug'),
  groupId: z.string().min(1),
  /** The host application id for STATE messages (Sparkplug 3.0 §5.18). */
  hostId: z.string().default('gemba'),
  bindings: z.array(
    z.strictObject({
      ...bindingBase,
      edgeNode: z.string().min(1),
      device: z.string().optional(),
      metric: z.string().min(1),
    }),
  ),
});

export const sourceSchema = z.discriminatedUnion('protocol', [
  opcuaSourceSchema,
  modbusSourceSchema,
  mqttJsonSourceSchema,
  sparkplugSourceSchema,
]);
export type SourceDef = z.output<typeof sourceSchema>;
export type OpcuaSourceDef = z.output<typeof opcuaSourceSchema>;
export type ModbusSourceDef = z.output<typeof modbusSourceSchema>;
export type MqttJsonSourceDef = z.output<typeof mqttJsonSourceSchema>;
export type SparkplugSourceDef = z.output<typeof sparkplugSourceSchema>;
export type BindingDef = SourceDef['bindings'][number];

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day is HH:MM (24 h)');
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

const shiftSchema = z.strictObject({
  id,
  name: z.string().optional(),
  start: hhmm,
  end: hhmm,
  days: z.array(weekday).default(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
  /** Planned breaks: not planned production time (ISO 22400-2 §5.4). */
  breaks: z.array(z.strictObject({ start: hhmm, durationMin: z.number().positive() })).default([]),
});
export type ShiftDef = z.output<typeof shiftSchema>;

const productSchema = z.strictObject({
  id,
  name: z.string().optional(),
  /** Ideal cycle time per station id, seconds per part. */
  idealCycleTimeS: z.record(id, finite.positive()),
  quality: z
    .array(
      z.strictObject({
        id,
        description: z.string().optional(),
        signal: z.string().min(1),
        target: finite.optional(),
        lsl: finite.optional(),
        usl: finite.optional(),
      }),
    )
    .default([]),
});
export type ProductDef = z.output<typeof productSchema>;

const isoTime = z.iso.datetime({ offset: true });
const orderSchema = z.strictObject({
  id: z.string().min(1),
  product: id,
  line: z.string().min(1),
  quantity: z.number().int().positive(),
  plannedStart: isoTime.optional(),
  due: isoTime.optional(),
});
export type OrderDef = z.output<typeof orderSchema>;

/** The whole plant model file. */
export const modelFileSchema = z.strictObject({
  gemba: z.literal(1),
  enterprise: z.strictObject({ id, name: z.string().optional() }),
  timezone: z.string().default('UTC'),
  types: z.record(id, equipmentTypeSchema).default({}),
  sites: z.array(siteSchema).min(1),
  sources: z.array(sourceSchema).default([]),
  products: z.array(productSchema).default([]),
  shifts: z.array(shiftSchema).default([]),
  orders: z.array(orderSchema).default([]),
});
export type ModelFile = z.output<typeof modelFileSchema>;
export type ModelFileInput = z.input<typeof modelFileSchema>;
