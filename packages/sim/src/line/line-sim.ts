import { GembaError } from '@gemba/core';
import type { EventHandle } from '../kernel/event-calendar.ts';
import { Simulation } from '../kernel/simulation.ts';
import { compileDistribution, type Sampler, standardNormal } from '../random/distributions.ts';
import { fastExp } from '../random/fast-exp.ts';
import { Rng } from '../random/rng.ts';
import type { LineConfig, WearConfig } from './line-config.ts';

/** The states the line simulation accounts time in, named as the engine's machine states. */
export const SIM_STATES = ['running', 'starved', 'blocked', 'micro-stop', 'down', 'stopped'] as const;
/** One of {@link SIM_STATES}. */
export type SimState = (typeof SIM_STATES)[number];

const RUNNING = 0;
const STARVED = 1;
const BLOCKED = 2;
const MICRO = 3;
const DOWN = 4;
const STOPPED = 5;
const NS = SIM_STATES.length;

// Logical phases of a station (what it is doing, independent of planned stops).
const P_STARVED = 0;
const P_MICRO = 1;
const P_PROC = 2;
const P_DOWN = 3;
const P_BLOCKED = 4;

const NO_EVENT = -1;

/** Options of one simulation run. */
export interface RunOptions {
  /** Seed of this run (replication); streams are derived from it by name. */
  seed: number;
  /** Simulated seconds in total, warm-up included. */
  horizonS: number;
  /** Simulated seconds discarded before statistics start. */
  warmupS?: number;
  /** Width of the good-output series buckets, seconds (for warm-up detection); default 3600. */
  seriesIntervalS?: number;
}

/**
 * Observers of a run (this thread only): every state change of a station and every finished
 * part, in simulated seconds. Used to generate synthetic histories and for debugging.
 */
export interface LineTrace {
  state?(station: string, state: SimState, t: number): void;
  part?(station: string, t: number, scrap: boolean, cureTempC?: number): void;
}

/** Per-station results of a run (after warm-up). */
export interface StationResult {
  id: string;
  /** Parts finished (good + scrap). */
  parts: number;
  good: number;
  scrap: number;
  failures: number;
  microStops: number;
  /** Share of the measured time in each state (sums to 1). */
  stateShares: Record<SimState, number>;
  /** Share of time active (running, micro-stop, down) — Roser's active states. */
  activeShare: number;
  /** Mean duration of uninterrupted active periods, seconds (Roser's bottleneck measure). */
  meanActivePeriodS: number;
}

/** Per-buffer results of a run (after warm-up); `meanLevel ≈ arrivalRatePerS · meanSojournS` (Little). */
export interface BufferResult {
  id: string;
  capacity: number;
  /** Time-average number of parts in the buffer. */
  meanLevel: number;
  /** Mean time a part spends in the buffer, seconds. */
  meanSojournS: number;
  /** Parts that left the buffer per second. */
  arrivalRatePerS: number;
}

/** What one run of the line produced. */
export interface RunResult {
  seed: number;
  horizonS: number;
  warmupS: number;
  /** Simulated seconds measured (horizon − warm-up). */
  measuredS: number;
  /** Events fired by the kernel. */
  events: number;
  /** Good parts out of the last station per hour. */
  throughputPerHour: number;
  goodParts: number;
  scrapParts: number;
  /** Scrap / (scrap + good) over all stations. */
  scrapRate: number;
  stations: StationResult[];
  buffers: BufferResult[];
  /** The station with the longest mean active period (Roser et al. 2001). */
  bottleneck: string;
  /** Oven results when the line has an oven model. */
  oven?: { meanCureTempC: number; scrapRate: number; zoneMeanC: Record<string, number> };
  /** Good output per `seriesIntervalS` bucket from t = 0 (warm-up included). */
  series: { intervalS: number; good: number[] };
}

interface ZoneState {
  id: string;
  tau: number;
  ambient: number;
  maxRise: number;
  goal: number;
  t: number;
  temp: number;
  area: number;
  areaFrom: number;
}

/** A station's live state during a run. */
class StationRt {
  phase = P_STARVED;
  acct = STARVED;
  lastChange = 0;
  pending: EventHandle = NO_EVENT;
  suspended = false;
  resumeMicro = false;
  procStart = 0;
  remaining = 0;
  microRemaining = 0;
  ttf = Number.POSITIVE_INFINITY;
  /** Operating seconds until the wear failure (the condition level reaches its failure level). */
  wearTtf = Number.POSITIVE_INFINITY;
  /** Down for a wear failure (not a random one). */
  wearDown = false;
  wear: WearRt | undefined;
  cyclesToFailure = Number.POSITIVE_INFINITY;
  activeStart = 0;
  activeSum = 0;
  activeCount = 0;
  parts = 0;
  good = 0;
  scrap = 0;
  failures = 0;
  microStops = 0;
  /** 1 when the part in hand is bound to be scrapped at the inspecting station (oven cure). */
  flag = 0;
  readonly stateTime = new Float64Array(NS);
  constructor(
    readonly index: number,
    readonly id: string,
    readonly cycle: Sampler,
    readonly invSpeed: number,
    readonly cycleRng: Rng,
    readonly timeFailures: boolean,
    readonly cycleFailures: boolean,
    readonly between: Sampler | undefined,
    readonly repair: Sampler | undefined,
    readonly failRng: Rng,
    readonly repairRng: Rng,
    readonly microP: number,
    readonly microDur: Sampler | undefined,
    readonly microRng: Rng,
    readonly scrapP: number,
    readonly scrapRng: Rng,
  ) {}
}

/** A station's wear failure mode, compiled. */
interface WearRt {
  growthPerS: number;
  newLevel: number;
  failAt: Sampler;
  repair: Sampler;
  rng: Rng;
}

/** A buffer's live state: a ring of the entry times of the parts in it. */
class BufferRt {
  head = 0;
  count = 0;
  lastT = 0;
  area = 0;
  sojournSum = 0;
  exits = 0;
  readonly entry: Float64Array;
  /** The parts' flags (see `StationRt.flag`), parallel to `entry`. */
  readonly flags: Uint8Array;
  constructor(
    readonly id: string,
    readonly capacity: number,
  ) {
    this.entry = new Float64Array(Math.max(1, capacity));
    this.flags = new Uint8Array(Math.max(1, capacity));
  }
}

/** 1 for Roser's active states (running, micro-stop, down), indexed by accounting state. */
const ACTIVE = Uint8Array.of(1, 0, 0, 1, 1, 0);
function isActive(s: number): boolean {
  return ACTIVE[s] === 1;
}

// What a station's pending timer means when it fires.
const K_DONE = 0;
const K_FAIL = 1;
const K_REPAIRED = 2;
const K_MICRO_END = 3;

/**
 * Simulates the line once on the DES kernel: stations take parts from the buffer upstream
 * (the first station always has material), work a cycle drawn from their distribution divided
 * by their speed, hold a finished part while the buffer downstream is full (blocking after
 * service), fail and get repaired (a failure preempts the cycle, which resumes after repair),
 * make micro-stops and scrap; planned stops pause the whole line; the oven's scrap follows its
 * zones' temperatures.
 *
 * @throws GembaError GEMBA_INVALID_ARGUMENT on an inconsistent configuration
 */
export function simulateLine(config: LineConfig, options: RunOptions, trace?: LineTrace): RunResult {
  const n = config.stations.length;
  if (n === 0 || config.buffers.length !== n - 1) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `line ${config.line}: ${n} stations need ${Math.max(0, n - 1)} buffers, got ${config.buffers.length}`,
    );
  }
  const seed = options.seed;
  const horizon = options.horizonS;
  const warmup = options.warmupS ?? 0;
  if (!(horizon > warmup && warmup >= 0)) {
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `horizon ${horizon} s must exceed warm-up ${warmup} s`);
  }
  const seriesInterval = options.seriesIntervalS ?? 3600;
  const series = new Array<number>(Math.ceil(horizon / seriesInterval)).fill(0);
  const sim = new Simulation(64);
  // Each station has at most one pending event (cycle end, failure, repair end or micro-stop
  // end): those live in per-station timer slots scanned linearly (n is small), not in the
  // calendar heap, which keeps the rare line-wide events (planned stops, setpoint changes,
  // warm-up end). Ties fire in the order they were scheduled, as in the calendar.
  const timerAt = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const timerSeq = new Float64Array(n);
  const timerKind = new Uint8Array(n);
  let timerSeqNext = 0;
  const setTimer = (i: number, delay: number, kind: number): EventHandle => {
    timerAt[i] = sim.now + Math.max(0, delay);
    timerSeq[i] = timerSeqNext++;
    timerKind[i] = kind;
    return i;
  };
  const clearTimer = (i: number): void => {
    timerAt[i] = Number.POSITIVE_INFINITY;
  };

  const st: StationRt[] = config.stations.map((c, i) => {
    if (!(c.speed > 0)) throw new GembaError('GEMBA_INVALID_ARGUMENT', `station ${c.id}: speed must be > 0`);
    const f = c.failures;
    return new StationRt(
      i,
      c.id,
      compileDistribution(c.cycleTime),
      1 / c.speed,
      new Rng(seed, `${c.id}/cycle`),
      f?.basis === 'operating-time',
      f?.basis === 'cycles',
      f === undefined ? undefined : compileDistribution(f.between),
      f === undefined ? undefined : compileDistribution(f.repair),
      new Rng(seed, `${c.id}/failure`),
      new Rng(seed, `${c.id}/repair`),
      c.microStops?.probability ?? 0,
      c.microStops === undefined ? undefined : compileDistribution(c.microStops.duration),
      new Rng(seed, `${c.id}/micro-stop`),
      c.scrapProbability,
      new Rng(seed, `${c.id}/scrap`),
    );
  });
  const wearOf = (w: WearConfig | undefined, id: string): WearRt | undefined =>
    w === undefined
      ? undefined
      : {
          growthPerS: w.growthPerS,
          newLevel: w.newLevel,
          failAt: compileDistribution(w.failAt),
          repair: compileDistribution(w.repair),
          rng: new Rng(seed, `${id}/wear`),
        };
  config.stations.forEach((c, i) => {
    (st[i] as StationRt).wear = wearOf(c.wear, c.id);
  });
  const bufs: BufferRt[] = config.buffers.map((b) => {
    if (!(b.capacity >= 0 && Number.isInteger(b.capacity))) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `buffer ${b.id}: capacity must be an integer ≥ 0`);
    }
    return new BufferRt(b.id, b.capacity);
  });
  const last = n - 1;

  // Oven physics.
  const oven = config.oven;
  const ovenIndex = oven === undefined ? -1 : st.findIndex((s) => s.id === oven.station);
  if (oven !== undefined && ovenIndex < 0) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `oven station '${oven.station}' is not on line ${config.line}`,
    );
  }
  const zones: ZoneState[] = (oven?.zones ?? []).map((z) => {
    const goal = Math.min(z.setpointC, z.ambientC + z.maxRiseC);
    return {
      id: z.id,
      tau: z.timeConstantS,
      ambient: z.ambientC,
      maxRise: z.maxRiseC,
      goal,
      t: 0,
      temp: z.initialC ?? goal,
      area: 0,
      areaFrom: 0,
    };
  });
  const qz = oven === undefined ? undefined : zones.find((z) => z.id === oven.qualityZone);
  const absForm = oven?.scrapLogit.form === 'absolute';
  const inspectIndex =
    oven === undefined ? -1 : st.findIndex((s) => s.id === (oven.inspectAt ?? oven.station));
  if (oven !== undefined && (inspectIndex < ovenIndex || inspectIndex < 0)) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `oven inspection station '${oven.inspectAt}' is not at or after the oven on ${config.line}`,
    );
  }
  if (oven !== undefined && qz === undefined) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `oven quality zone '${oven.qualityZone}' is not one of its zones`,
    );
  }
  const cureRng = new Rng(seed, 'oven/cure');
  // Disturbance episodes of the quality zone, fixed and drawn (Poisson), sorted by start.
  const episodes: { start: number; profile: readonly number[] }[] = [];
  const dist = oven?.disturbances;
  if (dist !== undefined && dist.profiles.length > 0 && dist.stepS > 0) {
    for (const e of dist.at ?? []) {
      const profile = dist.profiles[e.profile];
      if (profile !== undefined) episodes.push({ start: e.atS, profile });
    }
    if (dist.ratePerS > 0) {
      const r = new Rng(seed, 'oven/disturbance');
      for (
        let t = -Math.log(1 - r.next()) / dist.ratePerS;
        t < horizon;
        t += -Math.log(1 - r.next()) / dist.ratePerS
      ) {
        const profile = dist.profiles[Math.floor(r.next() * dist.profiles.length)];
        if (profile !== undefined) episodes.push({ start: t, profile });
      }
    }
    episodes.sort((x, y) => x.start - y.start);
  }
  const distStep = dist?.stepS ?? 1;
  let firstEpisode = 0;
  /** The quality zone's disturbance at `t` (times asked never decrease). */
  const disturbanceAt = (t: number): number => {
    while (
      firstEpisode < episodes.length &&
      (episodes[firstEpisode] as (typeof episodes)[number]).start +
        (episodes[firstEpisode] as (typeof episodes)[number]).profile.length * distStep <=
        t
    )
      firstEpisode++;
    let d = 0;
    for (let k = firstEpisode; k < episodes.length; k++) {
      const e = episodes[k] as (typeof episodes)[number];
      if (e.start > t) break;
      d += e.profile[Math.floor((t - e.start) / distStep)] ?? 0;
    }
    return d;
  };
  // The oven's running sums in a typed array: a number kept in a closure variable is boxed anew
  // on every write.
  const ovenSums = new Float64Array(3);
  const CURE_SUM = 0;
  const CURE_N = 1;
  const OVEN_SCRAP = 2;
  // A zone at its goal stays there: goal + 0 · e^… is goal, bit for bit, without the exp.
  const zoneTemp = (z: ZoneState, t: number): number =>
    z.tau > 0 && z.temp !== z.goal ? z.goal + (z.temp - z.goal) * Math.exp(-(t - z.t) / z.tau) : z.goal;
  // Zone temperatures move slowly; accumulate their time integral only at changes and the end.
  const zoneAdvance = (z: ZoneState, t: number): void => {
    const dt = t - z.t;
    if (dt <= 0) return;
    const from = Math.max(z.t, z.areaFrom);
    if (t > from) {
      const d0 = zoneTemp(z, from) - z.goal;
      const d1 = zoneTemp(z, t) - z.goal;
      z.area += z.goal * (t - from) + (z.tau > 0 ? z.tau * (d0 - d1) : 0);
    }
    z.temp = zoneTemp(z, t);
    z.t = t;
  };

  const traceState = trace?.state;
  const tracePart = trace?.part;
  let paused = 0;
  let statsFrom = 0;
  let goodOut = 0;

  const setAcct = (s: StationRt, a: number): void => {
    const prev = s.acct;
    if (prev === a) return;
    const now = sim.now;
    s.stateTime[prev] = (s.stateTime[prev] as number) + (now - s.lastChange);
    s.lastChange = now;
    const wasA = isActive(prev);
    const isA = isActive(a);
    if (wasA && !isA) {
      s.activeSum += now - s.activeStart;
      s.activeCount++;
    } else if (!wasA && isA) s.activeStart = now;
    s.acct = a;
    traceState?.(s.id, SIM_STATES[a] as SimState, now);
  };

  const bufLevelChange = (b: BufferRt): void => {
    const now = sim.now;
    b.area += b.count * (now - b.lastT);
    b.lastT = now;
  };

  const drawTtf = (s: StationRt): void => {
    if (s.timeFailures) s.ttf = (s.between as Sampler)(s.failRng);
    else if (s.cycleFailures) s.cyclesToFailure = Math.max(1, Math.round((s.between as Sampler)(s.failRng)));
  };

  /** Operating seconds until a part at `level` wears out (its failure level drawn now). */
  const drawWear = (s: StationRt, level: number): void => {
    const w = s.wear;
    if (w === undefined || !(w.growthPerS > 0) || !(level > 0)) return;
    const failAt = w.failAt(w.rng);
    s.wearTtf = failAt > level ? Math.log(failAt / level) / w.growthPerS : 0;
  };

  const runProcessing = (s: StationRt): void => {
    s.phase = P_PROC;
    if (paused > 0) {
      s.suspended = true;
      s.resumeMicro = false;
      setAcct(s, STOPPED);
      return;
    }
    setAcct(s, RUNNING);
    s.procStart = sim.now;
    const ttf = Math.min(s.ttf, s.wearTtf);
    if (ttf < s.remaining) s.pending = setTimer(s.index, ttf, K_FAIL);
    else s.pending = setTimer(s.index, s.remaining, K_DONE);
  };

  const startMicroOrProcess = (s: StationRt): void => {
    s.remaining = s.cycle(s.cycleRng) * s.invSpeed;
    if (s.microP > 0 && s.microRng.next() < s.microP) {
      s.phase = P_MICRO;
      s.microStops++;
      const d = (s.microDur as Sampler)(s.microRng);
      if (paused > 0) {
        s.suspended = true;
        s.resumeMicro = true;
        s.microRemaining = d;
        setAcct(s, STOPPED);
        return;
      }
      setAcct(s, MICRO);
      s.pending = setTimer(s.index, d, K_MICRO_END);
      return;
    }
    runProcessing(s);
  };

  /** The station has a part in hand and begins a cycle. */
  const beginCycle = (s: StationRt): void => {
    if (s.cycleFailures && s.cyclesToFailure <= 0) {
      s.phase = P_DOWN;
      s.failures++;
      setAcct(s, DOWN);
      s.pending = setTimer(s.index, (s.repair as Sampler)(s.repairRng), K_REPAIRED);
      return;
    }
    startMicroOrProcess(s);
  };

  /** The station is empty-handed: take a part from upstream or wait starved. */
  const tryStart = (s: StationRt): void => {
    const i = s.index;
    if (i === 0) {
      s.flag = 0;
      beginCycle(s);
      return;
    }
    const b = bufs[i - 1] as BufferRt;
    const up = st[i - 1] as StationRt;
    if (b.count > 0) {
      bufLevelChange(b);
      b.sojournSum += sim.now - (b.entry[b.head] as number);
      s.flag = b.flags[b.head] as number;
      b.exits++;
      b.head = b.head + 1 === b.capacity ? 0 : b.head + 1;
      b.count--;
      beginCycle(s);
      if (up.phase === P_BLOCKED && paused === 0) pushFromBlocked(up);
      return;
    }
    if (up.phase === P_BLOCKED && paused === 0) {
      // Capacity-0 buffer: hand over directly.
      b.exits++;
      s.flag = up.flag;
      beginCycle(s);
      up.phase = P_STARVED;
      tryStart(up);
      return;
    }
    s.phase = P_STARVED;
    setAcct(s, paused > 0 ? STOPPED : STARVED);
  };

  /** A blocked station whose buffer just got room moves its part in and starts again. */
  const pushFromBlocked = (up: StationRt): void => {
    const b = bufs[up.index] as BufferRt;
    bufLevelChange(b);
    const pos = (b.head + b.count) % b.capacity;
    b.entry[pos] = sim.now;
    b.flags[pos] = up.flag;
    b.count++;
    up.phase = P_STARVED;
    tryStart(up);
  };

  /** The station holds a finished good part: pass it on or block. */
  const tryPush = (s: StationRt): void => {
    const i = s.index;
    if (i === last) {
      s.good++;
      goodOut++;
      const k = Math.floor(sim.now / seriesInterval);
      if (k < series.length) series[k] = (series[k] as number) + 1;
      tryStart(s);
      return;
    }
    const b = bufs[i] as BufferRt;
    const down = st[i + 1] as StationRt;
    if (down.phase === P_STARVED && paused === 0) {
      b.exits++;
      s.good++;
      down.flag = s.flag;
      s.phase = P_STARVED;
      beginCycle(down);
      tryStart(s);
      return;
    }
    if (b.count < b.capacity) {
      bufLevelChange(b);
      const pos = (b.head + b.count) % b.capacity;
      b.entry[pos] = sim.now;
      b.flags[pos] = s.flag;
      b.count++;
      s.good++;
      tryStart(s);
      return;
    }
    s.phase = P_BLOCKED;
    s.good++;
    setAcct(s, paused > 0 ? STOPPED : BLOCKED);
  };

  const stop = (s: StationRt): void => {
    const el = sim.now - s.procStart;
    s.remaining -= el;
    s.ttf -= el;
    s.wearTtf -= el;
  };

  const onDone = (i: number): void => {
    const s = st[i] as StationRt;
    s.pending = NO_EVENT;
    stop(s);
    s.parts++;
    if (s.cycleFailures) s.cyclesToFailure--;
    let scrap: boolean;
    if (i === ovenIndex && oven !== undefined && qz !== undefined) {
      const cure =
        zoneTemp(qz, sim.now) + disturbanceAt(sim.now) + oven.cureNoiseSdC * standardNormal(cureRng);
      const d = cure - oven.targetC;
      const x = absForm ? Math.abs(d) : d * d;
      const p = 1 / (1 + fastExp(-(oven.scrapLogit.a + oven.scrapLogit.b * x)));
      const doomed = s.scrapRng.next() < p;
      if (inspectIndex === i) scrap = doomed;
      else {
        // Found later, at the inspecting station; the oven's own scrap is its flat rate.
        s.flag = doomed ? 1 : 0;
        scrap = s.scrapP > 0 && s.scrapRng.next() < s.scrapP;
      }
      tracePart?.(s.id, sim.now, scrap, cure);
      if (sim.now >= statsFrom) {
        ovenSums[CURE_SUM] = (ovenSums[CURE_SUM] as number) + cure;
        ovenSums[CURE_N] = (ovenSums[CURE_N] as number) + 1;
        if (doomed) ovenSums[OVEN_SCRAP] = (ovenSums[OVEN_SCRAP] as number) + 1;
      }
    } else {
      scrap = (s.scrapP > 0 && s.scrapRng.next() < s.scrapP) || (i === inspectIndex && s.flag === 1);
      tracePart?.(s.id, sim.now, scrap);
    }
    if (scrap) {
      s.scrap++;
      s.phase = P_STARVED;
      tryStart(s);
      return;
    }
    tryPush(s);
  };

  const onFail = (i: number): void => {
    const s = st[i] as StationRt;
    stop(s);
    s.failures++;
    s.phase = P_DOWN;
    setAcct(s, DOWN);
    const w = s.wear;
    s.wearDown = w !== undefined && s.wearTtf <= s.ttf;
    const repair = s.wearDown ? (w as WearRt).repair((w as WearRt).rng) : (s.repair as Sampler)(s.repairRng);
    s.pending = setTimer(i, repair, K_REPAIRED);
  };

  const onRepaired = (i: number): void => {
    const s = st[i] as StationRt;
    s.pending = NO_EVENT;
    if (s.wearDown) {
      // The worn part was renewed; the random failure clock runs on. The cycle resumes.
      s.wearDown = false;
      drawWear(s, (s.wear as WearRt).newLevel);
      runProcessing(s);
      return;
    }
    drawTtf(s);
    if (s.cycleFailures) {
      // A cycle-based failure happens before the cycle; the cycle starts now.
      if (paused > 0) {
        s.phase = P_PROC;
        s.remaining = s.cycle(s.cycleRng) * s.invSpeed;
        s.suspended = true;
        s.resumeMicro = false;
        setAcct(s, STOPPED);
        return;
      }
      startMicroOrProcess(s);
      return;
    }
    runProcessing(s);
  };

  const onMicroEnd = (i: number): void => {
    const s = st[i] as StationRt;
    s.pending = NO_EVENT;
    runProcessing(s);
  };

  const onStopStart = (k: number): void => {
    const ps = config.plannedStops[k];
    if (ps === undefined) return;
    if (sim.now + ps.periodS < horizon) sim.schedule(ps.periodS, onStopStart, k);
    sim.schedule(ps.durationS, onStopEnd, k);
    paused++;
    if (paused > 1) return;
    for (const s of st) {
      if (s.phase === P_PROC && s.pending !== NO_EVENT) {
        clearTimer(s.index);
        s.pending = NO_EVENT;
        stop(s);
        s.suspended = true;
        s.resumeMicro = false;
      } else if (s.phase === P_MICRO && s.pending !== NO_EVENT) {
        s.microRemaining = (timerAt[s.index] as number) - sim.now;
        clearTimer(s.index);
        s.pending = NO_EVENT;
        s.suspended = true;
        s.resumeMicro = true;
      }
      if (s.phase !== P_DOWN) setAcct(s, STOPPED);
    }
  };

  const onStopEnd = (_k: number): void => {
    paused--;
    if (paused > 0) return;
    for (let i = last; i >= 0; i--) {
      const s = st[i] as StationRt;
      if (s.suspended) {
        s.suspended = false;
        if (s.resumeMicro) {
          setAcct(s, MICRO);
          s.pending = setTimer(i, s.microRemaining, K_MICRO_END);
        } else runProcessing(s);
      } else if (s.phase === P_STARVED) tryStart(s);
      else if (s.phase === P_BLOCKED) {
        const b = i < last ? (bufs[i] as BufferRt) : undefined;
        const down = st[i + 1];
        if (b !== undefined && b.count < b.capacity) pushFromBlocked(s);
        else if (down !== undefined && down.phase === P_STARVED && b !== undefined) {
          b.exits++;
          s.phase = P_STARVED;
          beginCycle(down);
          tryStart(s);
        } else setAcct(s, BLOCKED);
      }
    }
  };

  const onSetpoint = (k: number): void => {
    const ch = oven?.setpointChanges?.[k];
    const z = ch === undefined ? undefined : zones.find((x) => x.id === ch.zone);
    if (ch === undefined || z === undefined) return;
    zoneAdvance(z, sim.now);
    z.goal = Math.min(ch.setpointC, z.ambient + z.maxRise);
  };

  const onWarmupEnd = (): void => {
    const now = sim.now;
    statsFrom = now;
    for (const s of st) {
      s.stateTime.fill(0);
      s.lastChange = now;
      s.activeSum = 0;
      s.activeCount = 0;
      if (isActive(s.acct)) s.activeStart = now;
      s.parts = 0;
      s.good = 0;
      s.scrap = 0;
      s.failures = 0;
      s.microStops = 0;
    }
    for (const b of bufs) {
      bufLevelChange(b);
      b.area = 0;
      b.sojournSum = 0;
      b.exits = 0;
    }
    for (const z of zones) {
      zoneAdvance(z, now);
      z.area = 0;
      z.areaFrom = now;
    }
    goodOut = 0;
  };

  // Initial conditions: empty buffers, failure clocks drawn, every station tries to start.
  for (const s of st) drawTtf(s);
  config.stations.forEach((c, i) => {
    if (c.wear !== undefined) drawWear(st[i] as StationRt, c.wear.level);
  });
  for (let k = 0; k < config.plannedStops.length; k++) {
    const ps = config.plannedStops[k] as (typeof config.plannedStops)[number];
    if (!(ps.periodS > ps.durationS && ps.durationS > 0)) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `planned stop ${ps.id}: need period > duration > 0`);
    }
    const first = ((ps.offsetS % ps.periodS) + ps.periodS) % ps.periodS;
    if (first < horizon) sim.scheduleAt(first, onStopStart, k);
  }
  const changes = oven?.setpointChanges ?? [];
  for (let k = 0; k < changes.length; k++) sim.scheduleAt((changes[k] as { atS: number }).atS, onSetpoint, k);
  if (warmup > 0) sim.scheduleAt(warmup, onWarmupEnd);
  for (let i = last; i >= 0; i--) tryStart(st[i] as StationRt);

  // The event loop: the earliest of the station timers and the calendar; calendar events go
  // first at equal times. Only calendar events schedule calendar events, so the calendar's next
  // time is read again only after one fired.
  let stationEvents = 0;
  const calendar = sim.calendar;
  let tc = calendar.peekTime();
  for (;;) {
    let m = -1;
    let tm = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const t = timerAt[i] as number;
      if (t > tm) continue;
      if (t < tm) {
        tm = t;
        m = i;
      } else if (m >= 0 && (timerSeq[i] as number) < (timerSeq[m] as number)) m = i;
    }
    if (tc <= tm) {
      if (tc > horizon) break;
      sim.eventsFired += calendar.dispatch(tc, 1, sim);
      tc = calendar.peekTime();
      continue;
    }
    if (tm > horizon) break;
    sim.now = tm;
    timerAt[m] = Number.POSITIVE_INFINITY;
    stationEvents++;
    const kind = timerKind[m] as number;
    if (kind === K_DONE) onDone(m);
    else if (kind === K_FAIL) onFail(m);
    else if (kind === K_REPAIRED) onRepaired(m);
    else onMicroEnd(m);
  }
  sim.now = horizon;

  // Close the books at the horizon.
  const measured = horizon - statsFrom;
  const stations: StationResult[] = st.map((s) => {
    s.stateTime[s.acct] = (s.stateTime[s.acct] as number) + (sim.now - s.lastChange);
    s.lastChange = sim.now;
    let activeSum = s.activeSum;
    let activeCount = s.activeCount;
    if (isActive(s.acct)) {
      // The open active period counts, cut at the horizon.
      activeSum += sim.now - s.activeStart;
      activeCount++;
    }
    const total = s.stateTime.reduce((a, v) => a + v, 0) || 1;
    const shares = {} as Record<SimState, number>;
    for (let k = 0; k < NS; k++) shares[SIM_STATES[k] as SimState] = (s.stateTime[k] as number) / total;
    return {
      id: s.id,
      parts: s.parts,
      good: s.parts - s.scrap,
      scrap: s.scrap,
      failures: s.failures,
      microStops: s.microStops,
      stateShares: shares,
      activeShare: shares.running + shares['micro-stop'] + shares.down,
      meanActivePeriodS: activeCount > 0 ? activeSum / activeCount : 0,
    };
  });
  const buffers: BufferResult[] = bufs.map((b) => {
    bufLevelChange(b);
    return {
      id: b.id,
      capacity: b.capacity,
      meanLevel: b.area / measured,
      meanSojournS: b.exits > 0 ? b.sojournSum / b.exits : 0,
      arrivalRatePerS: b.exits / measured,
    };
  });
  let bottleneck = stations[0]?.id ?? '';
  let best = -1;
  for (const s of stations) {
    if (s.meanActivePeriodS > best) {
      best = s.meanActivePeriodS;
      bottleneck = s.id;
    }
  }
  let scrapParts = 0;
  for (const s of stations) scrapParts += s.scrap;
  const result: RunResult = {
    seed,
    horizonS: horizon,
    warmupS: statsFrom,
    measuredS: measured,
    events: sim.eventsFired + stationEvents,
    throughputPerHour: (goodOut / measured) * 3600,
    goodParts: goodOut,
    scrapParts,
    scrapRate: scrapParts + goodOut > 0 ? scrapParts / (scrapParts + goodOut) : 0,
    stations,
    buffers,
    bottleneck,
    series: { intervalS: seriesInterval, good: series },
  };
  if (oven !== undefined) {
    const zoneMeanC: Record<string, number> = {};
    for (const z of zones) {
      zoneAdvance(z, sim.now);
      zoneMeanC[z.id] = z.area / measured;
    }
    const cureN = ovenSums[CURE_N] as number;
    result.oven = {
      meanCureTempC: cureN > 0 ? (ovenSums[CURE_SUM] as number) / cureN : Number.NaN,
      scrapRate: cureN > 0 ? (ovenSums[OVEN_SCRAP] as number) / cureN : 0,
      zoneMeanC,
    };
  }
  return result;
}
