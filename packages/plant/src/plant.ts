import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AcceleratedClock,
  type Clock,
  GembaError,
  type Logger,
  loadModelFile,
  type Model,
  RealClock,
  type SampleBatch,
  silentLogger,
  type TimerHandle,
} from '@gemba/core';
import { type ControlServer, startControlServer } from './control-server.ts';
import { DEMO_EMULATOR_FILE, DEMO_MODEL_FILE } from './demo-files.ts';
import { type EmulatorConfig, loadEmulatorFile } from './emulator-config.ts';
import type { PlantFault } from './faults.ts';
import { JsonMeterPublisher } from './json-publisher.ts';
import { PlantModbusServer } from './modbus-server.ts';
import { PlantOpcuaServer } from './opcua-server.ts';
import { LinePhysics, type PhysicsTotals } from './physics.ts';
import { SignalTable, type SignalValue } from './signal-table.ts';
import { SparkplugEdgeNode } from './sparkplug-node.ts';
import type { TruthListener } from './truth.ts';

export { DEMO_EMULATOR_FILE, DEMO_MODEL_FILE };

/** Options for {@link startPlant}. Every endpoint defaults to an ephemeral port on 127.0.0.1. */
export interface PlantOptions {
  /** The plant model file (default: the demo line). Ignored when `model` is given. */
  modelFile?: string;
  model?: Model;
  /** The hidden parameters (default: the demo line's emulator.yaml). Ignored when `emulator` is given. */
  emulatorFile?: string;
  emulator?: EmulatorConfig;
  /** Random seed: same seed, same event log (default 7). */
  seed?: number;
  /** Speed factor when no clock is given: 1 real time (default), 60 one hour per minute. */
  speed?: number;
  /** The emulator's clock (a `ManualClock` in tests); default real time or accelerated by `speed`. */
  clock?: Clock;
  /**
   * Emulator time at start, ms since epoch (default: now). With the same seed, start time and
   * faults, two runs produce the same ground-truth log. Ignored when `clock` is given.
   */
  startMs?: number;
  /** Faults injected as the emulator starts, at its start time (before any physics step). */
  faults?: PlantFault[];
  /** How much emulator time passes between publishing rounds (ms); default max(step, 20 ms × speed). */
  tickMs?: number;
  /** Stop the physics once this much emulator time has passed (ms); the endpoints keep serving. */
  untilMs?: number;
  /** OPC UA port (0 = ephemeral, default); false serves no OPC UA. */
  opcuaPort?: number | false;
  /** The user accepted by the OPC UA server besides anonymous (default gemba / gemba). */
  opcuaUser?: { username: string; password: string };
  /** OPC UA PKI folder (default: a new temporary folder, removed on stop). */
  pkiDir?: string;
  /** Modbus TCP port (0 = ephemeral, default); false serves no Modbus. */
  modbusPort?: number | false;
  /** MQTT broker URL for the Sparkplug node and the JSON meter; no MQTT when absent. */
  mqttUrl?: string;
  /** Sparkplug group id (default: the model's); use a unique one per test. */
  sparkplugGroupId?: string;
  /** Topic for the JSON energy meter (default: the model's); use a unique one per test. */
  jsonTopic?: string;
  /** Port of the HTTP control endpoint (0 = ephemeral); none when absent. */
  controlPort?: number;
  /** Writes the ground-truth event log (JSONL) to this file. */
  truthLogFile?: string;
  /** Writes the hidden parameters (and seed) as JSON to this file. */
  hiddenParamsFile?: string;
  logger?: Logger;
}

/** Where the running plant's endpoints listen. */
export interface PlantEndpoints {
  opcua?: string;
  modbus?: { host: string; port: number };
  mqtt?: { url: string; groupId: string; edgeNodes: string[]; jsonTopics: string[] };
  control?: string;
}

/** A running plant emulator. */
export interface Plant {
  readonly model: Model;
  readonly physics: LinePhysics;
  readonly clock: Clock;
  readonly seed: number;
  readonly endpoints: PlantEndpoints;
  /**
   * Per source id of the model, the connection fields that differ from the model file
   * (ephemeral ports, unique names): `opcua` → `{ endpoint }`, `modbus` → `{ host, port }`,
   * `sparkplug` → `{ url, groupId }`, `mqtt-json` → `{ url, topic? }` (topic replaces every
   * binding's topic). Apply them over the model's source definitions.
   */
  sourceOverrides(): Record<string, Record<string, string | number>>;
  /**
   * Registers a listener for every value change of every signal, with its exact emulator
   * timestamp, keyed by the model's signal paths (the data the protocols serve, sensor faults
   * included). Returns a function that removes it.
   */
  onSamples(listener: (batch: SampleBatch) => void): () => void;
  /** Registers a ground-truth listener; returns a function that removes it. */
  onTruth(listener: TruthListener): () => void;
  /** The value currently served for `signal`, with its source time. */
  current(signal: string): SignalValue | undefined;
  /**
   * Writes a setpoint as a PLC would accept it (`.../speed_setpoint` in %, an oven zone's
   * `.../setpoint` in °C); returns false when refused (unknown, read-only or out of range).
   */
  write(signal: string, value: number, via?: string): boolean;
  /** Injects a fault now (see {@link PlantFault}). */
  inject(fault: PlantFault): Promise<void>;
  /** Advances the physics to the clock's time and publishes what changed. */
  sync(): void;
  /** Counts for the invariants. */
  totals(): PhysicsTotals;
  /** Resolves when `untilMs` of emulator time has passed (never without `untilMs`). */
  readonly done: Promise<void>;
  /** Stops the physics and every endpoint; flushes the ground-truth log. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the plant emulator: the hidden physics, the OPC UA server (press, weld), the Modbus
 * TCP server (oven), the Sparkplug B edge node and JSON energy meter (when `mqttUrl` is given),
 * and the control endpoint (when `controlPort` is given).
 *
 * @example
 * const plant = await startPlant({ seed: 7, clock: new ManualClock(), mqttUrl: 'mqtt://127.0.0.1:1883',
 *   sparkplugGroupId: `t-${randomUUID()}` });
 * const overrides = plant.sourceOverrides(); // { 'opcua-press-weld': { endpoint: 'opc.tcp://127.0.0.1:41233/gemba' }, ... }
 * await plant.stop();
 * @throws GembaError GEMBA_MODEL_* / GEMBA_CONFIG_INVALID for bad files; endpoint errors as thrown by the servers.
 */
export async function startPlant(options: PlantOptions = {}): Promise<Plant> {
  const logger = (options.logger ?? silentLogger()).child({ component: 'plant' });
  const model = options.model ?? (await loadModelFile(options.modelFile ?? DEMO_MODEL_FILE));
  const config = options.emulator ?? (await loadEmulatorFile(options.emulatorFile ?? DEMO_EMULATOR_FILE));
  const line = model.lines[0];
  if (line === undefined) {
    throw new GembaError(
      'GEMBA_CONFIG_INVALID',
      `model ${model.fileName} has no line for the emulator to play`,
    );
  }
  const speed = options.speed ?? 1;
  // An accelerated clock of our own is restarted once the endpoints are up (see start()), so
  // the seconds spent generating certificates do not become hours of plant time.
  const clock =
    options.clock ??
    (speed === 1 && options.startMs === undefined
      ? new RealClock()
      : new AcceleratedClock(speed, options.startMs ?? Date.now()));
  const seed = options.seed ?? 7;
  const plant = new RunningPlant(model, line, config, clock, seed, speed, options, logger);
  try {
    await plant.start();
  } catch (err: unknown) {
    await plant.stop();
    throw err;
  }
  return plant;
}

class RunningPlant implements Plant {
  readonly model: Model;
  readonly physics: LinePhysics;
  #clock: Clock;
  readonly seed: number;
  readonly endpoints: PlantEndpoints = {};
  readonly done: Promise<void>;
  readonly #table: SignalTable;
  readonly #options: PlantOptions;
  readonly #logger: Logger;
  readonly #tickMs: number;
  readonly #untilAt: number;
  readonly #listeners = new Set<(batch: SampleBatch) => void>();
  readonly #timers = new Set<TimerHandle>();
  #resolveDone: () => void = () => {};
  #opcua: PlantOpcuaServer | undefined;
  #modbus: PlantModbusServer | undefined;
  #sparkplug: SparkplugEdgeNode[] = [];
  #meter: JsonMeterPublisher | undefined;
  #control: ControlServer | undefined;
  #truth: WriteStream | undefined;
  #tempPki: string | undefined;
  #tick: TimerHandle | undefined;
  #stopped = false;
  #finished = false;

  constructor(
    model: Model,
    line: Model['lines'][number],
    config: EmulatorConfig,
    clock: Clock,
    seed: number,
    speed: number,
    options: PlantOptions,
    logger: Logger,
  ) {
    this.model = model;
    this.#clock = clock;
    this.seed = seed;
    this.#options = options;
    this.#logger = logger;
    const linePaths = model.signals.filter((s) => s.line === line.path).map((s) => s.path);
    this.#table = new SignalTable(linePaths);
    this.physics = new LinePhysics({
      line,
      config,
      seed,
      // The given start exactly: an accelerated clock has moved on a little since it was made.
      startMs:
        options.clock === undefined && options.startMs !== undefined
          ? options.startMs
          : Math.round(clock.now()),
      writer: this.#table,
      periodMs: (p) => model.signal(p)?.def.periodMs,
    });
    this.#tickMs = options.tickMs ?? Math.max(config.stepMs, Math.round(20 * speed));
    this.#untilAt =
      options.untilMs === undefined ? Number.POSITIVE_INFINITY : this.physics.nowMs + options.untilMs;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get clock(): Clock {
    return this.#clock;
  }

  async start(): Promise<void> {
    const o = this.#options;
    if (o.truthLogFile !== undefined) {
      const stream = createWriteStream(o.truthLogFile, { flags: 'w' });
      this.#truth = stream;
      this.physics.onTruth((e) => {
        stream.write(`${JSON.stringify(e)}\n`);
      });
    }
    if (o.hiddenParamsFile !== undefined) {
      await writeFile(
        o.hiddenParamsFile,
        `${JSON.stringify({ seed: this.seed, startMs: this.physics.nowMs, model: this.model.fileName, emulator: this.physics.config }, null, 2)}\n`,
      );
    }
    const currentOf = (signal: string): SignalValue | undefined => this.#table.get(signal);
    if (o.opcuaPort !== false) {
      let pkiDir = o.pkiDir;
      if (pkiDir === undefined) {
        this.#tempPki = await mkdtemp(path.join(tmpdir(), 'gemba-plant-pki-'));
        pkiDir = this.#tempPki;
      }
      this.#opcua = new PlantOpcuaServer({
        model: this.model,
        port: o.opcuaPort ?? 0,
        pkiDir,
        user: o.opcuaUser ?? { username: 'gemba', password: 'gemba' },
        logger: this.#logger.child({ endpoint: 'opcua' }),
        onWrite: (s, v) => this.write(s, v, 'opcua'),
        valueOf: currentOf,
      });
    }
    if (o.modbusPort !== false) {
      this.#modbus = new PlantModbusServer({
        model: this.model,
        port: o.modbusPort ?? 0,
        logger: this.#logger.child({ endpoint: 'modbus' }),
        onWrite: (s, v) => this.write(s, v, 'modbus'),
      });
    }
    if (o.mqttUrl !== undefined) {
      const spSources = this.model.sources.filter((s) => s.protocol === 'sparkplug');
      const groupId =
        o.sparkplugGroupId ?? (spSources[0]?.protocol === 'sparkplug' ? spSources[0].groupId : 'gemba');
      const edgeNodes = [
        ...new Set(
          this.model.bindings.flatMap((b) => ('edgeNode' in b && b.device !== undefined ? [b.edgeNode] : [])),
        ),
      ];
      this.#sparkplug = edgeNodes.map(
        (edgeNode) =>
          new SparkplugEdgeNode({
            model: this.model,
            url: o.mqttUrl as string,
            groupId,
            edgeNode,
            logger: this.#logger.child({ endpoint: 'sparkplug', edgeNode }),
            onWrite: (s, v) => this.write(s, v, 'sparkplug'),
            valueOf: currentOf,
            now: () => this.physics.nowMs,
          }),
      );
      this.#meter = new JsonMeterPublisher({
        model: this.model,
        url: o.mqttUrl,
        ...(o.jsonTopic === undefined ? {} : { topic: o.jsonTopic }),
        logger: this.#logger.child({ endpoint: 'mqtt-json' }),
      });
      this.endpoints.mqtt = { url: o.mqttUrl, groupId, edgeNodes, jsonTopics: this.#meter.topics };
    }
    // Serve the initial values before anyone can connect.
    this.#dispatch();
    const where = (what: string, p: Promise<void> | undefined): Promise<void> | undefined =>
      p?.catch((err: unknown) => {
        throw new GembaError(
          'GEMBA_PLANT_ENDPOINT',
          `plant emulator: cannot open ${what}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      });
    // Wait for every endpoint (a failed one must not leave another half-started), then fail.
    const started = await Promise.allSettled([
      where(`OPC UA server on 127.0.0.1:${o.opcuaPort ?? 0}`, this.#opcua?.start()),
      where(`Modbus TCP server on 127.0.0.1:${o.modbusPort ?? 0}`, this.#modbus?.start()),
      ...this.#sparkplug.map((n) => where(`Sparkplug edge node at ${o.mqttUrl}`, n.start())),
      where(`energy meter MQTT client at ${o.mqttUrl}`, this.#meter?.start()),
    ]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    if (this.#opcua !== undefined) this.endpoints.opcua = this.#opcua.endpoint;
    if (this.#modbus !== undefined) this.endpoints.modbus = { host: '127.0.0.1', port: this.#modbus.port };
    if (o.controlPort !== undefined) {
      this.#control = await startControlServer(
        this,
        o.controlPort,
        this.#logger.child({ endpoint: 'control' }),
      );
      this.endpoints.control = this.#control.url;
    }
    if (o.clock === undefined && this.#clock instanceof AcceleratedClock) {
      this.#clock = new AcceleratedClock(this.#clock.speed, this.physics.nowMs);
    }
    // At the start time exactly (no physics step yet), however long the endpoints took to open.
    for (const f of o.faults ?? []) await this.#apply(f);
    this.#schedule();
    this.#logger.info({ seed: this.seed, endpoints: this.endpoints }, 'plant emulator running');
  }

  #schedule(): void {
    if (this.#stopped || this.#finished) return;
    this.#tick = this.#clock.setTimeout(() => {
      this.#tick = undefined;
      this.sync();
      this.#schedule();
    }, this.#tickMs);
  }

  sync(): void {
    if (this.#stopped) return;
    const target = Math.min(this.#clock.now(), this.#untilAt);
    this.physics.advanceTo(target);
    this.#dispatch();
    if (!this.#finished && this.physics.nowMs + this.physics.stepMs > this.#untilAt) {
      this.#finished = true;
      this.#resolveDone();
    }
  }

  #dispatch(): void {
    const batch = this.#table.flush();
    if (batch === undefined) return;
    for (const l of this.#listeners) l(batch);
    this.#opcua?.update(batch);
    this.#modbus?.update(batch);
    for (const n of this.#sparkplug) n.update(batch);
    this.#meter?.update(batch);
  }

  sourceOverrides(): Record<string, Record<string, string | number>> {
    const out: Record<string, Record<string, string | number>> = {};
    const mqtt = this.endpoints.mqtt;
    for (const s of this.model.sources) {
      if (s.protocol === 'opcua' && this.endpoints.opcua !== undefined)
        out[s.id] = { endpoint: this.endpoints.opcua };
      else if (s.protocol === 'modbus' && this.endpoints.modbus !== undefined)
        out[s.id] = { ...this.endpoints.modbus };
      else if (s.protocol === 'sparkplug' && mqtt !== undefined)
        out[s.id] = { url: mqtt.url, groupId: mqtt.groupId };
      else if (s.protocol === 'mqtt-json' && mqtt !== undefined) {
        out[s.id] = {
          url: mqtt.url,
          ...(this.#options.jsonTopic === undefined ? {} : { topic: this.#options.jsonTopic }),
        };
      }
    }
    return out;
  }

  onSamples(listener: (batch: SampleBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onTruth(listener: TruthListener): () => void {
    return this.physics.onTruth(listener);
  }

  current(signal: string): SignalValue | undefined {
    return this.#table.get(signal);
  }

  write(signal: string, value: number, via = 'api'): boolean {
    const def = this.model.signal(signal);
    if (def === undefined || def.def.writable !== true || def.def.role !== 'setpoint') return false;
    const owner = signal.slice(0, signal.lastIndexOf('/'));
    try {
      if (def.name === 'speed_setpoint') return this.physics.setSpeed(owner, value, via);
      if (def.name === 'setpoint') return this.physics.setZoneSetpoint(owner, value, via);
    } catch (err: unknown) {
      this.#logger.warn({ err, signal }, 'setpoint write refused');
      return false;
    }
    return false;
  }

  async inject(fault: PlantFault): Promise<void> {
    this.sync();
    await this.#apply(fault);
  }

  /** Injects a fault at the physics' current time. */
  async #apply(fault: PlantFault): Promise<void> {
    this.physics.noteInjection({ ...fault });
    this.#logger.info({ fault }, 'fault injected');
    switch (fault.kind) {
      case 'breakdown':
        this.physics.breakdown(fault.station, fault.durationS, fault.faultCode);
        break;
      case 'maintenance':
        this.physics.maintain(fault.station, fault.durationS);
        break;
      case 'spike':
      case 'freeze':
      case 'drift':
        this.#table.addFault(fault, this.physics.nowMs);
        break;
      case 'malformed-sparkplug':
        for (const n of this.#sparkplug) n.publishMalformed(fault.count ?? 1, fault.device);
        break;
      case 'silent':
        for (const n of this.#sparkplug) n.setSilent(true);
        this.#later(fault.durationS, async () => {
          for (const n of this.#sparkplug) n.setSilent(false);
        });
        break;
      case 'comms-loss':
        await this.#commsLoss(fault.endpoint, fault.durationS);
        break;
    }
    this.#dispatch();
  }

  async #commsLoss(endpoint: 'opcua' | 'modbus' | 'mqtt', durationS: number): Promise<void> {
    if (endpoint === 'opcua') {
      const s = this.#opcua;
      if (s === undefined)
        throw new GembaError('GEMBA_INVALID_ARGUMENT', 'this plant serves no OPC UA endpoint');
      await s.suspend();
      this.#later(durationS, () => s.resume());
    } else if (endpoint === 'modbus') {
      const s = this.#modbus;
      if (s === undefined)
        throw new GembaError('GEMBA_INVALID_ARGUMENT', 'this plant serves no Modbus endpoint');
      await s.suspend();
      this.#later(durationS, () => s.resume());
    } else {
      if (this.#sparkplug.length === 0 && this.#meter === undefined) {
        throw new GembaError('GEMBA_INVALID_ARGUMENT', 'this plant serves no MQTT endpoint (no mqttUrl)');
      }
      for (const n of this.#sparkplug) n.drop();
      this.#meter?.drop();
      this.#later(durationS, async () => {
        await Promise.all([...this.#sparkplug.map((n) => n.reconnect()), this.#meter?.reconnect()]);
      });
    }
  }

  /** Runs `fn` after `durationS` of emulator time, logging (never throwing) its failure. */
  #later(durationS: number, fn: () => Promise<void>): void {
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(handle);
      if (this.#stopped) return;
      fn().catch((err: unknown) => this.#logger.warn({ err }, 'restoring after an injected fault failed'));
    }, durationS * 1000);
    this.#timers.add(handle);
  }

  totals(): PhysicsTotals {
    return this.physics.totals();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    const results = await Promise.allSettled([
      this.#control?.close(),
      this.#opcua?.stop(),
      this.#modbus?.stop(),
      ...this.#sparkplug.map((n) => n.stop()),
      this.#meter?.stop(),
    ]);
    for (const r of results)
      if (r.status === 'rejected') this.#logger.warn({ err: r.reason }, 'error while stopping');
    const truth = this.#truth;
    if (truth !== undefined) await new Promise<void>((resolve) => truth.end(() => resolve()));
    if (this.#tempPki !== undefined) await rm(this.#tempPki, { recursive: true, force: true });
    this.#resolveDone();
    this.#logger.info('plant emulator stopped');
  }
}
