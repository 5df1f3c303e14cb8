import { GembaError, type LineInfo, PACKML_CODE, PACKML_STATES } from '@gemba/core';
import type { EmulatorConfig, StationParams, ZoneParams } from './emulator-config.ts';
import { Random } from './random.ts';
import type { TruthEvent, TruthListener } from './truth.ts';

/** Where the physics writes its measured values, keyed by the model's signal paths. */
export interface SignalWriter {
  /** Sets the value of the signal at `path` at emulator time `ts` (ms); unknown paths are ignored. */
  set(path: string, value: number, ts: number): void;
}

/** The fault code reported for an injected breakdown. */
export const INJECTED_FAULT_CODE = 900;
/** The `state_reason` codes of the demo line (see `STATE_REASONS` in core). */
export const REASON = { none: 0, starved: 1, blocked: 2, microStop: 3, maintenance: 4 } as const;

interface Part {
  id: number;
  cureSumC: number;
  cureSteps: number;
  cureDeviationC?: number;
}

class BufferSim {
  readonly parts: Part[] = [];
  constructor(
    readonly id: string,
    readonly path: string,
    readonly capacity: number,
  ) {
    this.levelPath = `${path}/level`;
  }
  readonly levelPath: string;
  get full(): boolean {
    return this.parts.length >= this.capacity;
  }
}

type Mode = 'run' | 'down' | 'maintenance' | 'micro';

class StationSim {
  part: Part | undefined;
  workLeftS = 0;
  done = false;
  mode: Mode = 'run';
  modeLeftS = 0;
  faultCode = 0;
  ttfOpS = Number.POSITIVE_INFINITY;
  microLeftOpS = Number.POSITIVE_INFINITY;
  speedPercent: number;
  total = 0;
  good = 0;
  scrap = 0;
  stateCode = -1;
  reason = -1;
  /** Seconds spent in each PackML state code. */
  readonly stateS = new Map<number, number>();
  readonly rCycle: Random;
  readonly rFail: Random;
  readonly rMicro: Random;
  readonly rScrap: Random;
  readonly rNoise: Random;
  nextSensorMs = 0;
  executing = false;
  /** Signal paths, computed once (the hot path must not build strings). */
  readonly p: Record<
    | 'state'
    | 'state_reason'
    | 'fault_code'
    | 'parts_total'
    | 'parts_good'
    | 'parts_scrap'
    | 'speed_setpoint'
    | 'motor_current'
    | 'vibration',
    string
  >;

  constructor(
    readonly id: string,
    readonly path: string,
    readonly params: StationParams,
    readonly inBuf: BufferSim | undefined,
    readonly outBuf: BufferSim | undefined,
    seed: number,
  ) {
    this.speedPercent = params.speedPercent;
    this.p = {
      state: `${path}/state`,
      state_reason: `${path}/state_reason`,
      fault_code: `${path}/fault_code`,
      parts_total: `${path}/parts_total`,
      parts_good: `${path}/parts_good`,
      parts_scrap: `${path}/parts_scrap`,
      speed_setpoint: `${path}/speed_setpoint`,
      motor_current: `${path}/motor_current`,
      vibration: `${path}/vibration`,
    };
    this.rCycle = Random.stream(seed, `${id}.cycle`);
    this.rFail = Random.stream(seed, `${id}.fail`);
    this.rMicro = Random.stream(seed, `${id}.micro`);
    this.rScrap = Random.stream(seed, `${id}.scrap`);
    this.rNoise = Random.stream(seed, `${id}.noise`);
    this.drawTtf();
    this.drawMicro();
  }

  drawTtf(): void {
    const f = this.params.failures;
    this.ttfOpS =
      f === undefined ? Number.POSITIVE_INFINITY : this.rFail.weibull(f.weibullShape, f.weibullScaleH * 3600);
  }

  drawMicro(): void {
    const m = this.params.microStops;
    this.microLeftOpS =
      m === undefined || m.perHour <= 0
        ? Number.POSITIVE_INFINITY
        : this.rMicro.exponential(3600 / m.perHour);
  }
}

class ZoneSim {
  setpointC: number;
  temperatureC: number;
  heater = 0;
  disturbanceC = 0;
  estimateC = 0;
  powerFactor = 1;
  degradeLeftS = 0;
  nextDegradeS: number;
  readonly rDist: Random;
  readonly rDegrade: Random;
  readonly rNoise: Random;
  readonly temperaturePath: string;
  readonly setpointPath: string;
  readonly heaterPath: string;

  constructor(
    readonly id: string,
    readonly path: string,
    readonly params: ZoneParams,
    readonly ambientC: number,
    seed: number,
  ) {
    this.temperaturePath = `${path}/temperature`;
    this.setpointPath = `${path}/setpoint`;
    this.heaterPath = `${path}/heater_output`;
    this.setpointC = params.setpointC;
    this.temperatureC = params.setpointC;
    this.heater = clamp((params.setpointC - ambientC) / params.gainC, 0, 1);
    this.rDist = Random.stream(seed, `${id}.disturbance`);
    this.rDegrade = Random.stream(seed, `${id}.degradation`);
    this.rNoise = Random.stream(seed, `${id}.noise`);
    const d = params.heaterDegradation;
    this.nextDegradeS =
      d === undefined || d.perHour <= 0
        ? Number.POSITIVE_INFINITY
        : this.rDegrade.exponential(3600 / d.perHour);
  }
}

/** Figures the invariants are checked against (all counts in parts). */
export interface PhysicsTotals {
  /** Parts that entered the line (started at the first station). */
  entered: number;
  /** Good parts that left the last station. */
  finished: number;
  /** Parts scrapped at any station. */
  scrapped: number;
  /** Parts inside stations and buffers. */
  wip: number;
  /** Current level of each buffer, by buffer id. */
  bufferLevels: Record<string, number>;
  /** Seconds each station spent executing (PackML Execute), by station id. */
  executeS: Record<string, number>;
  /** Seconds per PackML state name, per station id. */
  stateS: Record<string, Record<string, number>>;
}

/** Options for {@link LinePhysics}. */
export interface LinePhysicsOptions {
  line: LineInfo;
  config: EmulatorConfig;
  seed: number;
  /** Emulator time at the start (ms since epoch). */
  startMs: number;
  writer: SignalWriter;
  /** Sensor sampling period per signal path (ms); signals not listed use 1000 ms. */
  periodMs?: (path: string) => number | undefined;
}

/**
 * The hidden physics of one line, stepped in fixed time steps (`stepMs` of the emulator
 * file). Stations process one part at a time with lognormal cycle times scaled by their speed
 * setpoint, fail with Weibull times to failure (in operating time) and lognormal repairs,
 * micro-stop, and block after service on full buffers. Oven zones are first-order thermal
 * systems under a model-based controller; the press bearing wears. Deterministic for a seed:
 * every random process has its own stream.
 */
export class LinePhysics {
  readonly stepMs: number;
  readonly line: LineInfo;
  readonly config: EmulatorConfig;
  #nowMs: number;
  readonly #writer: SignalWriter;
  readonly #stations: StationSim[];
  readonly #buffers: BufferSim[];
  readonly #zones: ZoneSim[];
  readonly #listeners = new Set<TruthListener>();
  readonly #periodMs: (path: string) => number | undefined;
  readonly #oven: StationSim | undefined;
  readonly #cureStation: StationSim | undefined;
  readonly #cureZone: ZoneSim | undefined;
  readonly #bearingStation: StationSim | undefined;
  readonly #rBearing: Random;
  readonly #rCure: Random;
  #bearingAgeH: number;
  #bearingFailAtMmS: number;
  #nextPartId = 1;
  #entered = 0;
  #finished = 0;
  #energyKwh = 0;
  #powerKw = 0;
  #nextEnergyMs: number;
  #nextZoneSensorMs: number;

  constructor(options: LinePhysicsOptions) {
    const { line, config, seed, startMs, writer } = options;
    this.line = line;
    this.config = config;
    this.stepMs = config.stepMs;
    this.#nowMs = startMs;
    this.#writer = writer;
    this.#periodMs = options.periodMs ?? (() => undefined);
    this.#buffers = line.buffers.map((b) => new BufferSim(b.id, b.path, b.capacity));
    const byFrom = new Map(line.buffers.map((b, i) => [b.from, this.#buffers[i] as BufferSim]));
    const byTo = new Map(line.buffers.map((b, i) => [b.to, this.#buffers[i] as BufferSim]));
    this.#stations = line.stations.map((s) => {
      const params = config.stations[s.id];
      if (params === undefined) {
        throw new GembaError(
          'GEMBA_CONFIG_INVALID',
          `emulator file has no parameters for station '${s.id}' of line ${line.path}`,
          { details: { station: s.path } },
        );
      }
      return new StationSim(s.id, s.path, params, byTo.get(s.path), byFrom.get(s.path), seed);
    });
    this.#oven = this.#stations.find((s) => s.id === config.oven.station);
    const ovenPath = this.#oven?.path ?? `${line.path}/${config.oven.station}`;
    this.#zones = Object.entries(config.oven.zones).map(
      ([id, p]) => new ZoneSim(id, `${ovenPath}/${id}`, p, config.ambientC, seed),
    );
    this.#cureStation = this.#stations.find((s) => s.id === config.cureScrap.station);
    this.#cureZone = this.#zones.find((z) => z.id === config.cureScrap.zone);
    this.#bearingStation = this.#stations.find((s) => s.id === config.bearing.station);
    this.#rBearing = Random.stream(seed, 'bearing');
    this.#rCure = Random.stream(seed, 'cure');
    this.#bearingAgeH = config.bearing.initialAgeH;
    this.#bearingFailAtMmS = this.#drawBearingLimit();
    this.#nextEnergyMs = startMs;
    this.#nextZoneSensorMs = startMs;
    for (const s of this.#stations) s.nextSensorMs = startMs;
    this.#publish(true);
  }

  /** The emulator's current time (ms since epoch). */
  get nowMs(): number {
    return this.#nowMs;
  }

  /** Registers a ground-truth listener; returns a function that removes it. */
  onTruth(listener: TruthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: TruthEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** Advances the physics by whole steps until emulator time reaches `targetMs`. */
  advanceTo(targetMs: number): void {
    while (this.#nowMs + this.stepMs <= targetMs) this.step();
  }

  /** Advances the physics by one step of `stepMs`. */
  step(): void {
    const dt = this.stepMs / 1000;
    this.#nowMs += this.stepMs;
    this.#stepZones(dt);
    // Downstream first, so a place freed in a buffer during this step is seen upstream.
    for (let i = this.#stations.length - 1; i >= 0; i--)
      this.#stepStation(this.#stations[i] as StationSim, dt);
    this.#stepEnergy(dt);
    this.#publish(false);
  }

  #stepZones(dt: number): void {
    const amb = this.config.ambientC;
    for (const z of this.#zones) {
      const p = z.params;
      // Ornstein-Uhlenbeck disturbance of the heat balance (°C-equivalent).
      const th = p.disturbance.correlationS;
      z.disturbanceC +=
        (-z.disturbanceC * dt) / th + p.disturbance.sdC * Math.sqrt((2 * dt) / th) * z.rDist.normal();
      // Heater element degradation episodes.
      const d = p.heaterDegradation;
      if (d !== undefined) {
        if (z.degradeLeftS > 0) {
          z.degradeLeftS -= dt;
          if (z.degradeLeftS <= 0) {
            z.powerFactor = 1;
            this.#emit({ ts: this.#nowMs, kind: 'heater-degradation', zone: z.path, powerFactor: 1 });
            z.nextDegradeS = z.rDegrade.exponential(3600 / d.perHour);
          }
        } else {
          z.nextDegradeS -= dt;
          if (z.nextDegradeS <= 0) {
            z.powerFactor = d.powerFactor.min + (d.powerFactor.max - d.powerFactor.min) * z.rDegrade.next();
            z.degradeLeftS = z.rDegrade.lognormal(d.duration.meanS, d.duration.cv);
            this.#emit({
              ts: this.#nowMs,
              kind: 'heater-degradation',
              zone: z.path,
              powerFactor: round(z.powerFactor, 3),
              durationS: round(z.degradeLeftS, 1),
            });
          }
        }
      }
      // Model-based controller: asks for a first-order response with responseTimeConstantS,
      // compensating the estimated disturbance; output limited to 0..100 %.
      const tau = p.thermalTimeConstantS;
      const lambda = p.responseTimeConstantS;
      const want =
        ((tau * (z.setpointC - z.temperatureC)) / lambda + (z.temperatureC - amb) - z.estimateC) / p.gainC;
      z.heater = clamp(want, 0, 1);
      const dT = (dt / tau) * (p.gainC * z.heater * z.powerFactor - (z.temperatureC - amb) + z.disturbanceC);
      z.temperatureC += dT;
      // Disturbance observer (first-order filter over 3 response time constants), frozen while
      // the heater is saturated so that it does not wind up (and overshoot afterwards).
      if (want > 0 && want < 1) {
        const measured = (tau * dT) / dt - p.gainC * z.heater + (z.temperatureC - amb);
        z.estimateC += ((measured - z.estimateC) * dt) / (3 * lambda);
        z.estimateC = clamp(z.estimateC, -p.gainC, p.gainC);
      }
    }
    // Parts in the oven cure at the scrap zone's temperature.
    const oven = this.#oven;
    const zone = this.#cureZone;
    if (oven?.part !== undefined && !oven.done && oven.mode === 'run' && zone !== undefined) {
      oven.part.cureSumC += zone.temperatureC - this.config.cureScrap.targetC;
      oven.part.cureSteps++;
    }
  }

  #stepStation(s: StationSim, dt: number): void {
    s.executing = false;
    if (s.mode !== 'run') {
      s.modeLeftS -= dt;
      if (s.modeLeftS <= 0) this.#endStop(s);
    } else {
      if (s.part !== undefined && s.done) this.#tryPush(s);
      if (s.part === undefined) this.#tryPull(s);
      if (s.part !== undefined && !s.done) {
        s.executing = true;
        s.workLeftS -= (dt * s.speedPercent) / 100;
        s.ttfOpS -= dt;
        s.microLeftOpS -= dt;
        if (s === this.#bearingStation) this.#bearingAgeH += dt / 3600;
        if (s.workLeftS <= 0) {
          this.#complete(s);
        } else if (s === this.#bearingStation && this.#bearingTrueMmS() >= this.#bearingFailAtMmS) {
          const b = this.config.bearing;
          this.#breakdown(s, b.faultCode, s.rFail.lognormal(b.repair.meanS, b.repair.cv), 'bearing');
        } else if (s.ttfOpS <= 0) {
          const f = s.params.failures;
          if (f !== undefined) {
            this.#breakdown(
              s,
              s.rFail.pick(f.faultCodes),
              s.rFail.lognormal(f.repair.meanS, f.repair.cv),
              'random',
            );
          }
        } else if (s.microLeftOpS <= 0) {
          const m = s.params.microStops;
          s.mode = 'micro';
          s.modeLeftS = m === undefined ? 0 : s.rMicro.lognormal(m.duration.meanS, m.duration.cv);
        }
      }
    }
    this.#updateState(s);
    s.stateS.set(s.stateCode, (s.stateS.get(s.stateCode) ?? 0) + dt);
  }

  /** Derives the station's PackML state and logs a change. */
  #updateState(s: StationSim): void {
    const [code, reason] = this.#stateOf(s);
    if (code !== s.stateCode || reason !== s.reason) {
      s.stateCode = code;
      s.reason = reason;
      this.#emit({
        ts: this.#nowMs,
        kind: 'state',
        station: s.path,
        code,
        state: PACKML_STATES[code as keyof typeof PACKML_STATES] ?? 'Undefined',
        reason,
        faultCode: s.mode === 'down' ? s.faultCode : 0,
      });
    }
  }

  #stateOf(s: StationSim): [number, number] {
    if (s.mode === 'down') return [PACKML_CODE.Aborted, REASON.none];
    if (s.mode === 'maintenance') return [PACKML_CODE.Stopped, REASON.maintenance];
    if (s.mode === 'micro') return [PACKML_CODE.Held, REASON.microStop];
    if (s.part === undefined) return [PACKML_CODE.Suspended, REASON.starved];
    if (s.done) return [PACKML_CODE.Suspended, REASON.blocked];
    return [PACKML_CODE.Execute, REASON.none];
  }

  #tryPull(s: StationSim): void {
    let part: Part | undefined;
    if (s.inBuf === undefined) {
      part = { id: this.#nextPartId++, cureSumC: 0, cureSteps: 0 };
      this.#entered++;
    } else {
      part = s.inBuf.parts.shift();
    }
    if (part === undefined) return;
    s.part = part;
    s.done = false;
    s.workLeftS = s.rCycle.lognormal(s.params.cycle.meanS, s.params.cycle.cv);
    this.#emit({ ts: this.#nowMs, kind: 'part-start', station: s.path, part: part.id });
  }

  #tryPush(s: StationSim): void {
    const part = s.part;
    if (part === undefined) return;
    if (s.outBuf === undefined) {
      this.#finished++;
    } else {
      if (s.outBuf.full) return;
      s.outBuf.parts.push(part);
    }
    s.part = undefined;
    s.done = false;
  }

  #complete(s: StationSim): void {
    const part = s.part as Part;
    s.total++;
    if (s === this.#oven && part.cureSteps > 0) part.cureDeviationC = part.cureSumC / part.cureSteps;
    let scrapCause: 'station' | 'cure' | undefined;
    if (s.params.scrapRate > 0 && s.rScrap.chance(s.params.scrapRate)) scrapCause = 'station';
    if (scrapCause === undefined && s === this.#cureStation) {
      const c = this.config.cureScrap;
      const dev = Math.abs(part.cureDeviationC ?? 0);
      const p =
        c.baseProbability +
        (c.maxProbability - c.baseProbability) / (1 + Math.exp(-(dev - c.halfwayC) / c.slopeC));
      if (this.#rCure.chance(p)) scrapCause = 'cure';
    }
    if (scrapCause !== undefined) {
      s.scrap++;
      this.#emit({ ts: this.#nowMs, kind: 'part-finish', station: s.path, part: part.id, outcome: 'scrap' });
      this.#emit({
        ts: this.#nowMs,
        kind: 'scrap',
        station: s.path,
        part: part.id,
        cause: scrapCause,
        ...(part.cureDeviationC === undefined ? {} : { cureDeviationC: round(part.cureDeviationC, 2) }),
      });
      s.part = undefined;
      s.done = false;
      return;
    }
    s.good++;
    this.#emit({ ts: this.#nowMs, kind: 'part-finish', station: s.path, part: part.id, outcome: 'good' });
    s.done = true;
    this.#tryPush(s);
  }

  #breakdown(s: StationSim, faultCode: number, repairS: number, cause: string): void {
    s.mode = 'down';
    s.faultCode = faultCode;
    s.modeLeftS = repairS;
    this.#emit({
      ts: this.#nowMs,
      kind: 'failure',
      station: s.path,
      faultCode,
      repairS: round(repairS, 1),
      cause,
    });
  }

  #endStop(s: StationSim): void {
    if (s.mode === 'down') {
      this.#emit({ ts: this.#nowMs, kind: 'repair', station: s.path, faultCode: s.faultCode });
      if (s.faultCode === this.config.bearing.faultCode && s === this.#bearingStation) this.#renewBearing();
      else if (s.faultCode !== INJECTED_FAULT_CODE) s.drawTtf();
      s.faultCode = 0;
    } else if (s.mode === 'maintenance') {
      this.#emit({ ts: this.#nowMs, kind: 'maintenance', station: s.path, phase: 'end' });
      if (s === this.#bearingStation) this.#renewBearing();
      s.drawTtf();
    } else if (s.mode === 'micro') {
      s.drawMicro();
    }
    s.mode = 'run';
    s.modeLeftS = 0;
  }

  #renewBearing(): void {
    this.#bearingAgeH = 0;
    this.#bearingFailAtMmS = this.#drawBearingLimit();
  }

  #drawBearingLimit(): number {
    const f = this.config.bearing.failAtMmS;
    return Math.max(this.config.bearing.newMmS * 1.5, this.#rBearing.normal(f.mean, f.sd));
  }

  #bearingTrueMmS(): number {
    const b = this.config.bearing;
    return b.newMmS * Math.exp(b.growthPerHour * this.#bearingAgeH);
  }

  #stepEnergy(dt: number): void {
    let kw = 0;
    for (const s of this.#stations) {
      kw += s.executing
        ? (s.params.power.runKw * s.speedPercent) / 100
        : s.mode === 'down'
          ? 0
          : s.params.power.idleKw;
    }
    for (const z of this.#zones) kw += z.params.heaterKw * z.heater * z.powerFactor;
    this.#powerKw = kw;
    this.#energyKwh += (kw * dt) / 3600;
  }

  #publish(initial: boolean): void {
    const w = this.#writer;
    const t = this.#nowMs;
    for (const s of this.#stations) {
      w.set(s.p.state, s.stateCode < 0 ? this.#stateOf(s)[0] : s.stateCode, t);
      w.set(s.p.state_reason, s.reason < 0 ? this.#stateOf(s)[1] : s.reason, t);
      w.set(s.p.fault_code, s.mode === 'down' ? s.faultCode : 0, t);
      w.set(s.p.parts_total, s.total, t);
      w.set(s.p.parts_good, s.good, t);
      w.set(s.p.parts_scrap, s.scrap, t);
      w.set(s.p.speed_setpoint, s.speedPercent, t);
      if (initial || t >= s.nextSensorMs) {
        s.nextSensorMs = t + (this.#periodMs(s.p.motor_current) ?? 1000);
        const c = s.params.current;
        const base = s.executing ? (c.runA * s.speedPercent) / 100 : s.mode === 'down' ? 0 : c.idleA;
        w.set(s.p.motor_current, round(Math.max(0, base + c.noiseA * s.rNoise.normal()), 2), t);
        if (s === this.#bearingStation) {
          const v = this.#bearingTrueMmS() * (s.executing ? 1 : 0.15);
          const noise = this.config.bearing.noiseMmS * (s.executing ? 1 : 0.3) * this.#rBearing.normal();
          w.set(s.p.vibration, round(Math.max(0, v + noise), 3), t);
        }
      }
    }
    for (const b of this.#buffers) w.set(b.levelPath, b.parts.length, t);
    for (const z of this.#zones) w.set(z.setpointPath, z.setpointC, t);
    if (initial || this.#nowMs >= this.#nextZoneSensorMs) {
      const first = this.#zones[0];
      this.#nextZoneSensorMs =
        t + (first === undefined ? 1000 : (this.#periodMs(first.temperaturePath) ?? 1000));
      for (const z of this.#zones) {
        w.set(z.temperaturePath, round(z.temperatureC + z.params.noiseC * z.rNoise.normal(), 2), t);
        w.set(z.heaterPath, round(z.heater * 100, 1), t);
      }
    }
    if (initial || this.#nowMs >= this.#nextEnergyMs) {
      this.#nextEnergyMs = t + (this.#periodMs(`${this.line.path}/energy/power`) ?? 5000);
      w.set(`${this.line.path}/energy/power`, round(this.#powerKw, 2), t);
      w.set(`${this.line.path}/energy/energy`, round(this.#energyKwh, 3), t);
    }
  }

  #station(idOrPath: string): StationSim {
    const s = this.#stations.find((x) => x.id === idOrPath || x.path === idOrPath);
    if (s === undefined) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `no station '${idOrPath}' on line ${this.line.path}`, {
        details: { station: idOrPath, stations: this.#stations.map((x) => x.id) },
      });
    }
    return s;
  }

  /** The station ids in flow order. */
  get stationIds(): string[] {
    return this.#stations.map((s) => s.id);
  }

  /** The oven zone ids. */
  get zoneIds(): string[] {
    return this.#zones.map((z) => z.id);
  }

  /**
   * Sets a station's speed setpoint (%), which scales its cycle time (mean / (speed/100)).
   * @returns false (and changes nothing) when outside 50..150 % or not finite.
   * @throws GembaError GEMBA_INVALID_ARGUMENT for an unknown station.
   */
  setSpeed(station: string, percent: number, via: string): boolean {
    const s = this.#station(station);
    if (!Number.isFinite(percent) || percent < 50 || percent > 150) return false;
    const previous = s.speedPercent;
    s.speedPercent = percent;
    this.#emit({
      ts: this.#nowMs,
      kind: 'setpoint',
      signal: s.p.speed_setpoint,
      value: percent,
      previous,
      via,
    });
    this.#writer.set(s.p.speed_setpoint, percent, this.#nowMs);
    return true;
  }

  /** A station's speed setpoint (%). */
  speed(station: string): number {
    return this.#station(station).speedPercent;
  }

  /**
   * Sets an oven zone's temperature setpoint (°C).
   * @returns false (and changes nothing) when outside 20..250 °C or not finite.
   * @throws GembaError GEMBA_INVALID_ARGUMENT for an unknown zone.
   */
  setZoneSetpoint(zone: string, celsius: number, via: string): boolean {
    const z = this.#zones.find((x) => x.id === zone || x.path === zone);
    if (z === undefined) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `no oven zone '${zone}' on line ${this.line.path}`, {
        details: { zone, zones: this.zoneIds },
      });
    }
    if (!Number.isFinite(celsius) || celsius < 20 || celsius > 250) return false;
    const previous = z.setpointC;
    z.setpointC = celsius;
    this.#emit({ ts: this.#nowMs, kind: 'setpoint', signal: z.setpointPath, value: celsius, previous, via });
    this.#writer.set(z.setpointPath, celsius, this.#nowMs);
    return true;
  }

  /** An oven zone's true (noise-free) temperature (°C); for tests of the thermal response. */
  zoneTemperature(zone: string): number {
    const z = this.#zones.find((x) => x.id === zone || x.path === zone);
    if (z === undefined) throw new GembaError('GEMBA_INVALID_ARGUMENT', `no oven zone '${zone}'`);
    return z.temperatureC;
  }

  /**
   * Breaks a station down now for `durationS` seconds (fault code {@link INJECTED_FAULT_CODE}
   * unless given). A station already down keeps its own repair.
   */
  breakdown(station: string, durationS: number, faultCode = INJECTED_FAULT_CODE): void {
    const s = this.#station(station);
    if (s.mode === 'down') return;
    this.#breakdown(s, faultCode, durationS, 'injected');
    this.#updateState(s);
    this.#publish(false);
  }

  /** Takes a station into planned maintenance for `durationS`; a press's bearing is renewed. */
  maintain(station: string, durationS: number): void {
    const s = this.#station(station);
    if (s.mode === 'down' || s.mode === 'maintenance') return;
    s.mode = 'maintenance';
    s.modeLeftS = durationS;
    this.#emit({ ts: this.#nowMs, kind: 'maintenance', station: s.path, phase: 'start', durationS });
    this.#updateState(s);
    this.#publish(false);
  }

  /** Records an injected fault in the ground-truth log. */
  noteInjection(fault: Record<string, unknown>): void {
    this.#emit({ ts: this.#nowMs, kind: 'injection', fault });
  }

  /** Counts and times for the physics invariants. */
  totals(): PhysicsTotals {
    let wip = 0;
    for (const s of this.#stations) if (s.part !== undefined) wip++;
    const bufferLevels: Record<string, number> = {};
    for (const b of this.#buffers) {
      wip += b.parts.length;
      bufferLevels[b.id] = b.parts.length;
    }
    const executeS: Record<string, number> = {};
    const stateS: Record<string, Record<string, number>> = {};
    let scrapped = 0;
    for (const s of this.#stations) {
      scrapped += s.scrap;
      executeS[s.id] = s.stateS.get(PACKML_CODE.Execute) ?? 0;
      const per: Record<string, number> = {};
      for (const [code, secs] of s.stateS) per[PACKML_STATES[code as keyof typeof PACKML_STATES]] = secs;
      stateS[s.id] = per;
    }
    return {
      entered: this.#entered,
      finished: this.#finished,
      scrapped,
      wip,
      bufferLevels,
      executeS,
      stateS,
    };
  }

  /** The hidden state that is not a signal, for validation: bearing age and failure limit. */
  hidden(): { bearingAgeH: number; bearingFailAtMmS: number; bearingMmS: number } {
    return {
      bearingAgeH: this.#bearingAgeH,
      bearingFailAtMmS: this.#bearingFailAtMmS,
      bearingMmS: this.#bearingTrueMmS(),
    };
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
