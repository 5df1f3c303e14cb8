import { createLogger, GembaError, loadModelFile, type Model } from '@gemba/core';
import { DEMO_EMULATOR_FILE, DEMO_MODEL_FILE } from '@gemba/plant/demo-files';
import { type PlantFault, parseFault } from '@gemba/plant/faults';
import type { Command } from 'commander';

/**
 * Parses a duration such as `8h`, `30m`, `90s`, `1500ms` or `2.5h` (a bare number is seconds).
 * @returns milliseconds
 * @throws GembaError GEMBA_INVALID_ARGUMENT
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) {
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `invalid duration '${text}' (e.g. 8h, 30m, 90s, 1500ms)`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * unit;
}

/**
 * Parses `--start`: an ISO 8601 date-time with a zone (`2026-01-05T06:00:00+01:00`, `…Z`).
 * @returns ms since epoch
 * @throws GembaError GEMBA_INVALID_ARGUMENT
 */
export function parseStart(text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `--start must be an ISO 8601 time with a zone, e.g. 2026-01-05T06:00:00+01:00, got '${text}'`,
    );
  }
  return ms;
}

function portOf(url: string | undefined, fallback: number): number {
  if (url === undefined) return fallback;
  const m = /:(\d+)(?:\/|$)/.exec(url.replace(/^[a-z.]+:\/\//, 'x://'));
  return m === null ? fallback : Number(m[1]);
}

function modelDefaults(model: Model): { opcuaPort: number; modbusPort: number; mqttUrl: string | undefined } {
  let opcuaPort = 4840;
  let modbusPort = 502;
  let mqttUrl: string | undefined;
  for (const s of model.sources) {
    if (s.protocol === 'opcua') opcuaPort = portOf(s.endpoint, opcuaPort);
    else if (s.protocol === 'modbus') modbusPort = s.port;
    else if (mqttUrl === undefined) mqttUrl = s.url;
  }
  return { opcuaPort, modbusPort, mqttUrl };
}

function number(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n))
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `--${name} must be a number, got '${v}'`);
    return n;
  };
}

interface PlantCommandOptions {
  model: string;
  emulator: string;
  speed: number;
  seed: number;
  until?: string;
  start?: string;
  opcuaPort?: number;
  modbusPort?: number;
  mqttUrl?: string;
  mqtt: boolean;
  groupId?: string;
  jsonTopic?: string;
  controlPort: number;
  pkiDir?: string;
  truthLog?: string;
  hiddenParams?: string;
  inject: string[];
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

/** Registers `gemba plant` (run the plant emulator) and `gemba plant-inject` (inject a fault into a running one). */
export function registerPlantCommands(program: Command): void {
  program
    .command('plant')
    .description(
      'run the plant emulator: the demo line over OPC UA (press, weld), Modbus TCP (oven) and MQTT Sparkplug B + JSON (assembly, test, pack, energy)',
    )
    .option('--model <file>', 'plant model', DEMO_MODEL_FILE)
    .option('--emulator <file>', 'hidden emulator parameters', DEMO_EMULATOR_FILE)
    .option(
      '--speed <factor>',
      'time speed factor (1 real time, 60 = one hour per minute)',
      number('speed'),
      1,
    )
    .option('--seed <n>', 'random seed (same seed, same event log)', number('seed'), 7)
    .option('--until <duration>', 'stop after this much plant time, e.g. 8h')
    .option(
      '--start <iso-time>',
      'plant clock start, e.g. 2026-01-05T06:00:00+01:00 (default now); same seed and start, same truth log',
    )
    .option(
      '--opcua-port <port>',
      'OPC UA port (default: the model endpoint port; 0 = ephemeral)',
      number('opcua-port'),
    )
    .option(
      '--modbus-port <port>',
      'Modbus TCP port (default: the model port; 0 = ephemeral)',
      number('modbus-port'),
    )
    .option('--mqtt-url <url>', 'MQTT broker for Sparkplug and JSON (default: the model url)')
    .option('--no-mqtt', 'serve no MQTT (no Sparkplug node, no energy meter)')
    .option('--group-id <id>', 'Sparkplug group id (default: the model group id)')
    .option('--json-topic <topic>', 'energy meter topic (default: the model topic)')
    .option(
      '--control-port <port>',
      'HTTP control endpoint port (0 = ephemeral)',
      number('control-port'),
      4850,
    )
    .option('--pki-dir <dir>', 'OPC UA certificate folder', '.data/pki/plant')
    .option('--truth-log <file>', 'write the ground-truth event log (JSONL) here')
    .option('--hidden-params <file>', 'write the hidden parameters (JSON) here')
    .option(
      '--inject <fault-json>',
      'inject a fault at start, e.g. \'{"kind":"breakdown","station":"weld","durationS":600}\' (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (opts: PlantCommandOptions) => {
      const logger = createLogger({ level: opts.logLevel, name: 'gemba-plant' });
      const faults: PlantFault[] = opts.inject.map((text) => {
        try {
          return parseFault(JSON.parse(text));
        } catch (err: unknown) {
          if (err instanceof GembaError) throw err;
          throw new GembaError(
            'GEMBA_INVALID_ARGUMENT',
            `--inject '${text}' is not JSON: ${(err as Error).message}`,
          );
        }
      });
      const model = await loadModelFile(opts.model);
      const defaults = modelDefaults(model);
      const untilMs = opts.until === undefined ? undefined : parseDuration(opts.until);
      const startMs = opts.start === undefined ? undefined : parseStart(opts.start);
      const mqttUrl = opts.mqtt ? (opts.mqttUrl ?? defaults.mqttUrl) : undefined;
      // The emulator (node-opcua's server among it) loads when the command runs.
      const { startPlant } = await import('@gemba/plant');
      const plant = await startPlant({
        model,
        emulatorFile: opts.emulator,
        seed: opts.seed,
        speed: opts.speed,
        opcuaPort: opts.opcuaPort ?? defaults.opcuaPort,
        modbusPort: opts.modbusPort ?? defaults.modbusPort,
        controlPort: opts.controlPort,
        logger,
        ...(opts.pkiDir === undefined ? {} : { pkiDir: opts.pkiDir }),
        ...(mqttUrl === undefined ? {} : { mqttUrl }),
        ...(opts.groupId === undefined ? {} : { sparkplugGroupId: opts.groupId }),
        ...(opts.jsonTopic === undefined ? {} : { jsonTopic: opts.jsonTopic }),
        ...(untilMs === undefined ? {} : { untilMs }),
        ...(startMs === undefined ? {} : { startMs }),
        ...(faults.length === 0 ? {} : { faults }),
        ...(opts.truthLog === undefined ? {} : { truthLogFile: opts.truthLog }),
        ...(opts.hiddenParams === undefined ? {} : { hiddenParamsFile: opts.hiddenParams }),
      });
      console.log(`gemba plant: seed ${plant.seed}, speed ×${opts.speed}`);
      const e = plant.endpoints;
      if (e.opcua !== undefined)
        console.log(`  OPC UA     ${e.opcua}  (anonymous or gemba/gemba; None or Basic256Sha256)`);
      if (e.modbus !== undefined) console.log(`  Modbus TCP ${e.modbus.host}:${e.modbus.port}  (unit 1)`);
      if (e.mqtt !== undefined) {
        console.log(`  Sparkplug  ${e.mqtt.url}  spBv1.0/${e.mqtt.groupId}/+/${e.mqtt.edgeNodes.join(',')}`);
        console.log(`  JSON       ${e.mqtt.url}  ${e.mqtt.jsonTopics.join(', ')}`);
      }
      if (e.control !== undefined)
        console.log(`  control    ${e.control}  (GET /status, POST /inject, POST /write)`);
      const wallStart = performance.now();
      const stopped = new Promise<void>((resolve) => {
        const onSignal = (): void => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        void plant.done.then(onSignal);
      });
      await stopped;
      plant.sync();
      const t = plant.totals();
      await plant.stop();
      console.log(
        `gemba plant: stopped after ${((performance.now() - wallStart) / 1000).toFixed(1)} s wall; ` +
          `entered ${t.entered}, finished ${t.finished}, scrap ${t.scrapped}, in process ${t.wip}`,
      );
    });

  program
    .command('plant-inject')
    .description('inject a fault into a running plant emulator through its control endpoint')
    .argument('<fault-json>', 'e.g. \'{"kind":"comms-loss","endpoint":"modbus","durationS":30}\'')
    .option('--control <url>', 'the plant control endpoint', 'http://127.0.0.1:4850')
    .action(async (text: string, opts: { control: string }) => {
      let fault: PlantFault;
      try {
        fault = parseFault(JSON.parse(text));
      } catch (err: unknown) {
        if (err instanceof GembaError) throw err;
        throw new GembaError('GEMBA_INVALID_ARGUMENT', `'${text}' is not JSON: ${(err as Error).message}`);
      }
      let res: Response;
      try {
        res = await fetch(`${opts.control}/inject`, { method: 'POST', body: JSON.stringify(fault) });
      } catch (err: unknown) {
        throw new GembaError(
          'GEMBA_PLANT_ENDPOINT',
          `cannot reach the plant control endpoint ${opts.control}`,
          {
            cause: err,
          },
        );
      }
      const body = await res.text();
      if (!res.ok) {
        console.error(`gemba plant-inject: ${res.status} ${body.trim()}`);
        process.exitCode = 1;
        return;
      }
      console.log(body.trim());
    });
}
