import { readFile } from 'node:fs/promises';
import { GembaError } from '@gemba/core';
import { parseDocument } from 'yaml';
import { z } from 'zod';

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

/** A lognormal distribution given by its mean and coefficient of variation. */
const lognormalSchema = z.strictObject({ meanS: positive, cv: nonNegative.default(0.3) });

const stationSchema = z.strictObject({
  /** Cycle time at 100 % speed: lognormal mean (s) and cv. Speed s% divides the mean by s/100. */
  cycle: z.strictObject({ meanS: positive, cv: nonNegative.default(0.08) }),
  /** Random breakdowns: Weibull time to failure in operating hours, lognormal repair. */
  failures: z
    .strictObject({
      weibullShape: positive.default(1.5),
      weibullScaleH: positive,
      repair: lognormalSchema,
      faultCodes: z.array(z.number().int().positive()).min(1),
    })
    .optional(),
  /** Micro-stops: exponential inter-arrival in operating time, lognormal duration. */
  microStops: z.strictObject({ perHour: nonNegative, duration: lognormalSchema }).optional(),
  /** Probability that a part is scrapped at this station for reasons of its own. */
  scrapRate: z.number().min(0).max(1).default(0),
  /** Motor current while executing at 100 % speed, while idle, and its noise (A). */
  current: z
    .strictObject({
      runA: nonNegative.default(9),
      idleA: nonNegative.default(1.5),
      noiseA: nonNegative.default(0.2),
    })
    .default({ runA: 9, idleA: 1.5, noiseA: 0.2 }),
  /** Electrical power while executing at 100 % speed and while not (kW). */
  power: z
    .strictObject({ runKw: nonNegative.default(5), idleKw: nonNegative.default(1) })
    .default({ runKw: 5, idleKw: 1 }),
  /** Initial speed setpoint (%). */
  speedPercent: z.number().min(50).max(150).default(100),
});

const zoneSchema = z.strictObject({
  /** Initial temperature setpoint (°C). */
  setpointC: z.number(),
  /** Open-loop thermal time constant of the zone (s). */
  thermalTimeConstantS: positive.default(600),
  /** Closed-loop setpoint response time constant the zone controller is tuned for (s). */
  responseTimeConstantS: positive.default(120),
  /** Steady temperature rise over ambient at 100 % heater output (°C). */
  gainC: positive.default(300),
  /** Heater electrical power at 100 % (kW). */
  heaterKw: positive.default(12),
  /** Ornstein-Uhlenbeck disturbance on the heat balance: sd (°C-equivalent) and correlation time (s). */
  disturbance: z
    .strictObject({ sdC: nonNegative.default(1), correlationS: positive.default(300) })
    .default({ sdC: 1, correlationS: 300 }),
  /** Temperature sensor noise sd (°C). */
  noiseC: nonNegative.default(0.1),
  /** Episodes where the heater loses part of its power (a failing element). */
  heaterDegradation: z
    .strictObject({
      perHour: nonNegative,
      powerFactor: z.strictObject({ min: z.number().min(0).max(1), max: z.number().min(0).max(1) }),
      duration: lognormalSchema,
    })
    .optional(),
});

const emulatorFileSchema = z.strictObject({
  emulator: z.literal(1),
  /** The physics time step (ms). */
  stepMs: z.number().int().positive().default(100),
  ambientC: z.number().default(22),
  stations: z.record(z.string(), stationSchema),
  oven: z.strictObject({
    station: z.string(),
    zones: z.record(z.string(), zoneSchema),
  }),
  /** Scrap at the test station as a logistic function of the cure deviation. */
  cureScrap: z.strictObject({
    station: z.string(),
    zone: z.string(),
    targetC: z.number(),
    baseProbability: z.number().min(0).max(1),
    maxProbability: z.number().min(0).max(1),
    /** |mean deviation| (°C) at which the probability is halfway from base to max. */
    halfwayC: positive,
    /** Logistic slope (°C). */
    slopeC: positive,
  }),
  /** The press main bearing: vibration grows exponentially with operating hours until failure. */
  bearing: z.strictObject({
    station: z.string(),
    /** Vibration of a new bearing (mm/s RMS). */
    newMmS: positive,
    /** Exponential growth rate per operating hour. */
    growthPerHour: nonNegative,
    /** Operating hours the bearing already has at start. */
    initialAgeH: nonNegative.default(0),
    noiseMmS: nonNegative.default(0.1),
    /** Vibration at which the bearing fails: normal mean and sd (mm/s). */
    failAtMmS: z.strictObject({ mean: positive, sd: nonNegative }),
    faultCode: z.number().int().positive(),
    repair: lognormalSchema,
  }),
});

/** The emulator's hidden parameters, as read from `emulator.yaml` (never read by Gemba). */
export type EmulatorConfig = z.output<typeof emulatorFileSchema>;
/** One station's hidden parameters. */
export type StationParams = z.output<typeof stationSchema>;
/** One oven zone's hidden parameters. */
export type ZoneParams = z.output<typeof zoneSchema>;

/**
 * Parses and validates emulator parameters from YAML text.
 * @throws GembaError GEMBA_CONFIG_INVALID naming the file, YAML path and line of each problem.
 */
export function parseEmulatorConfig(text: string, fileName = 'emulator.yaml'): EmulatorConfig {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new GembaError('GEMBA_CONFIG_INVALID', `${fileName}: ${e?.message ?? 'invalid YAML'}`);
  }
  const result = emulatorFileSchema.safeParse(doc.toJS());
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const node = doc.getIn(issue.path as (string | number)[], true) as
        | { range?: [number, number] }
        | undefined;
      const offset = node?.range?.[0];
      const where = offset === undefined ? '' : `:${lineOf(text, offset)}`;
      return `${fileName}${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`;
    });
    throw new GembaError('GEMBA_CONFIG_INVALID', `invalid emulator file:\n${lines.join('\n')}`, {
      details: { issues: lines },
    });
  }
  return Object.freeze(result.data);
}

/**
 * Reads and validates an emulator file.
 * @throws GembaError GEMBA_CONFIG_INVALID when it cannot be read or is invalid.
 */
export async function loadEmulatorFile(file: string): Promise<EmulatorConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_CONFIG_INVALID',
      `cannot read emulator file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return parseEmulatorConfig(text, file);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
