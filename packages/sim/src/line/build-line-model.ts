import { GembaError, type Model, type ProductDef } from '@gemba/core';
import type {
  LineConfig,
  OvenConfig,
  OvenZoneConfig,
  PlannedStop,
  StationConfig,
  WearConfig,
} from './line-config.ts';

/**
 * A station's wear as calibrated: the condition level known at some times (`levels`, ms since
 * epoch; `renewal` right after a renewal of the part), moved to the run's start along the
 * growth at the station's running share of wall time from the nearest known level.
 */
export type WearParameters = Omit<WearConfig, 'level'> & {
  levels: { atMs: number; level: number; renewal?: boolean }[];
  runningShare: number;
};

/**
 * Calibrated (or assumed) parameters layered over what the plant model says. Everything is
 * optional: without parameters a station works its product's ideal cycle time without
 * failures, micro-stops or scrap. `calibrate()` returns this shape.
 */
export interface LineParameters {
  /** Per station id. */
  stations?: Record<string, Partial<Omit<StationConfig, 'id'>>>;
  /** Buffer capacity per buffer id. */
  buffers?: Record<string, number>;
  /** Oven physics; zones per zone id. */
  oven?: Partial<Omit<OvenConfig, 'zones' | 'station'>> & {
    zones?: Record<string, Partial<Omit<OvenZoneConfig, 'id'>>>;
  };
  /** Replaces the planned stops derived from the model's shifts. */
  plannedStops?: PlannedStop[];
  /** Wear failure modes per station id (see {@link WearParameters}). */
  wear?: Record<string, WearParameters>;
}

/** Which line and product to build, and when the simulated time starts. */
export interface BuildLineOptions {
  /** Line path (default: the model's first line). */
  line?: string;
  /** Product id (default: the model's first product with cycle times for the line). */
  product?: string;
  /** Wall-clock start of simulated time, ms since epoch, to place shift breaks (default: now). */
  startMs?: number;
}

const DAY_S = 86_400;

/** Seconds since local midnight of `ms` in `timeZone`. */
function localSecondOfDay(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 3600 + get('minute') * 60 + get('second');
}

const hhmmS = (s: string): number => {
  const [h, m] = s.split(':').map(Number) as [number, number];
  return h * 3600 + m * 60;
};

/**
 * Daily planned stops from the model's shifts: every break, and every time of day no shift
 * covers. Shifts are treated as daily (their `days` are not modelled).
 */
export function plannedStopsFromShifts(model: Model, startMs: number): PlannedStop[] {
  if (model.shifts.length === 0) return [];
  const t0 = localSecondOfDay(startMs, model.timezone);
  const offset = (sod: number): number => (((sod - t0) % DAY_S) + DAY_S) % DAY_S;
  const stops: PlannedStop[] = [];
  const covered = new Uint8Array(1440);
  for (const sh of model.shifts) {
    const a = hhmmS(sh.start) / 60;
    let b = hhmmS(sh.end) / 60;
    if (b <= a) b += 1440;
    for (let m = a; m < b; m++) covered[m % 1440] = 1;
    for (const br of sh.breaks) {
      stops.push({
        id: `${sh.id}/break@${br.start}`,
        periodS: DAY_S,
        offsetS: offset(hhmmS(br.start)),
        durationS: br.durationMin * 60,
      });
    }
  }
  // Uncovered minutes form gaps (a gap may wrap past midnight).
  const start = covered.indexOf(1);
  if (start < 0) return stops;
  let m = 0;
  while (m < 1440) {
    const i = (start + m) % 1440;
    if (covered[i] === 0) {
      let len = 0;
      while (len < 1440 && covered[(i + len) % 1440] === 0) len++;
      stops.push({ id: `no-shift@${i}`, periodS: DAY_S, offsetS: offset(i * 60), durationS: len * 60 });
      m += len;
    } else m++;
  }
  return stops;
}

function pickProduct(model: Model, stationIds: string[], id: string | undefined): ProductDef {
  const fits = (p: ProductDef): boolean => stationIds.every((s) => p.idealCycleTimeS[s] !== undefined);
  const p = id === undefined ? model.products.find(fits) : model.products.find((x) => x.id === id);
  if (p === undefined) {
    throw new GembaError(
      'GEMBA_SIM_MODEL',
      id === undefined
        ? `${model.fileName}: no product has ideal cycle times for every station (${stationIds.join(', ')})`
        : `${model.fileName}: no product '${id}'`,
    );
  }
  const missing = stationIds.filter((s) => p.idealCycleTimeS[s] === undefined);
  if (missing.length > 0) {
    throw new GembaError(
      'GEMBA_SIM_MODEL',
      `${model.fileName}: product '${p.id}' has no ideal cycle time for ${missing.join(', ')}`,
    );
  }
  return p;
}

/**
 * Builds the simulated line from the plant model (stations in flow order, buffers with their
 * capacities, the product's ideal cycle times, shifts as planned stops, the oven's zones and
 * its cure-temperature quality spec) plus `params` (calibrated distributions and physics).
 *
 * Buffers must join consecutive stations; a missing buffer between two stations becomes a
 * direct hand-over (capacity 0).
 *
 * @example
 * const cfg = buildLineModel(await loadModelFile('plant.yaml'), calibration.parameters);
 * @throws GembaError GEMBA_SIM_MODEL when the model lacks a line, a product or cycle times
 */
export function buildLineModel(
  model: Model,
  params: LineParameters = {},
  options: BuildLineOptions = {},
): LineConfig {
  const line = options.line === undefined ? model.lines[0] : model.line(options.line);
  if (line === undefined) {
    throw new GembaError(
      'GEMBA_SIM_MODEL',
      `${model.fileName}: no line ${options.line ?? '(the model has none)'}`,
    );
  }
  const ids = line.stations.map((s) => s.id);
  const product = pickProduct(model, ids, options.product);
  const stations: StationConfig[] = line.stations.map((s) => {
    const p = params.stations?.[s.id] ?? {};
    const cfg: StationConfig = {
      id: s.id,
      cycleTime: p.cycleTime ?? { family: 'deterministic', value: product.idealCycleTimeS[s.id] as number },
      speed: p.speed ?? 1,
      scrapProbability: p.scrapProbability ?? 0,
    };
    if (p.failures !== undefined) cfg.failures = p.failures;
    const w = params.wear?.[s.id];
    const level = w === undefined ? undefined : wearLevelAt(w, options.startMs ?? Date.now());
    if (w !== undefined && level !== undefined) {
      const { levels: _levels, runningShare: _share, ...rest } = w;
      cfg.wear = { ...rest, level };
    } else if (p.wear !== undefined) cfg.wear = p.wear;
    if (p.microStops !== undefined) cfg.microStops = p.microStops;
    return cfg;
  });
  const buffers = line.stations.slice(0, -1).map((s, i) => {
    const next = line.stations[i + 1]?.path;
    const b =
      line.buffers.find((x) => x.from === s.path && x.to === next) ??
      line.buffers.find((x) => x.from === s.id);
    const id = b?.id ?? `${s.id}-${line.stations[i + 1]?.id}`;
    return { id, capacity: params.buffers?.[id] ?? b?.capacity ?? 0 };
  });
  const cfg: LineConfig = {
    line: line.path,
    stations,
    buffers,
    plannedStops: params.plannedStops ?? plannedStopsFromShifts(model, options.startMs ?? Date.now()),
  };
  const oven = ovenFromModel(model, line.stations, product, params);
  if (oven !== undefined) cfg.oven = oven;
  return cfg;
}

/**
 * The wear level at `ms`, moved along the growth from the nearest known level: the latest at or
 * before `ms`, or the next after it unless that is a renewal (the level before a renewal is not
 * the one after it).
 */
function wearLevelAt(w: WearParameters, ms: number): number | undefined {
  const known = [...w.levels].filter((l) => Number.isFinite(l.level)).sort((a, b) => a.atMs - b.atMs);
  const before = known.filter((l) => l.atMs <= ms).pop();
  const after = known.find((l) => l.atMs > ms);
  const from =
    after !== undefined &&
    after.renewal !== true &&
    (before === undefined || after.atMs - ms < ms - before.atMs)
      ? after
      : before;
  if (from === undefined) return undefined;
  return from.level * Math.exp(w.growthPerS * w.runningShare * ((ms - from.atMs) / 1000));
}

/** The oven: a station with equipment that has temperature and setpoint signals. */
function ovenFromModel(
  model: Model,
  stations: readonly { path: string; id: string }[],
  product: ProductDef,
  params: LineParameters,
): OvenConfig | undefined {
  for (const s of stations) {
    const zones = model
      .children(s.path)
      .filter(
        (c) =>
          c.kind === 'equipment' &&
          model.signalByRole(c.path, 'setpoint') !== undefined &&
          c.signals.some((p) => p.endsWith('/temperature')),
      );
    if (zones.length === 0) continue;
    const spec = product.quality.find((q) => zones.some((z) => q.signal.startsWith(`${z.path}/`)));
    const qzone =
      zones.find((z) => spec?.signal.startsWith(`${z.path}/`)) ?? zones[Math.floor(zones.length / 2)];
    const targetC = params.oven?.targetC ?? spec?.target ?? 180;
    const zoneCfgs: OvenZoneConfig[] = zones.map((z) => {
      const p = params.oven?.zones?.[z.id] ?? {};
      const zc: OvenZoneConfig = {
        id: z.id,
        setpointC: p.setpointC ?? targetC,
        timeConstantS: p.timeConstantS ?? 600,
        ambientC: p.ambientC ?? 20,
        maxRiseC: p.maxRiseC ?? 230,
      };
      if (p.initialC !== undefined) zc.initialC = p.initialC;
      return zc;
    });
    const oven: OvenConfig = {
      station: s.id,
      zones: zoneCfgs,
      qualityZone: qzone?.id ?? (zoneCfgs[0] as OvenZoneConfig).id,
      targetC,
      cureNoiseSdC: params.oven?.cureNoiseSdC ?? 0,
      // Without calibration: the oven's scrap is its station's scrap probability, flat in deviation.
      scrapLogit: params.oven?.scrapLogit ?? {
        a: logit(params.stations?.[s.id]?.scrapProbability ?? 1e-9),
        b: 0,
      },
    };
    if (params.oven?.setpointChanges !== undefined) oven.setpointChanges = params.oven.setpointChanges;
    if (params.oven?.disturbances !== undefined) oven.disturbances = params.oven.disturbances;
    if (params.oven?.inspectAt !== undefined) oven.inspectAt = params.oven.inspectAt;
    return oven;
  }
  return undefined;
}

function logit(p: number): number {
  const q = Math.min(1 - 1e-12, Math.max(1e-12, p));
  return Math.log(q / (1 - q));
}
