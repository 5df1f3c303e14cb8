import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GembaError, type Logger } from '@gemba/core';
import { type Plant, startPlant } from '@gemba/plant';
import { generateToken } from '@gemba/server';
import { multiPlantLinePath, multiPlantModelYaml, multiPlantSourceId } from './multi-plant-model.ts';
import { type EmbeddedBroker, ensureWebBuilt, startEmbeddedBroker, WEB_ROOT } from './platform.ts';

const GEMBA_BIN = fileURLToPath(new URL('../bin/gemba.js', import.meta.url));
const DEMO_MODEL = fileURLToPath(new URL('../../../examples/demo-line/plant.yaml', import.meta.url));

/** Where nats-server is looked for when none runs on 127.0.0.1:4222 (override: `NATS_SERVER_BIN`). */
export const NATS_SERVER_PATH = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** Options of {@link startMultiDemo}. */
export interface MultiDemoOptions {
  plants: number;
  lines: number;
  /** Engine processes (default 2). */
  engines?: number;
  logger: Logger;
  /** NATS URL; default nats://127.0.0.1:4222 when it answers, else a nats-server of its own. */
  natsUrl?: string;
  /** PostgreSQL URL (default `postgres://postgres@127.0.0.1:5432/postgres`); the demo uses a schema of its own. */
  pgUrl?: string;
  /** Serve the dashboard (default true; builds it on first use). */
  web?: boolean;
  /** API port (0 = ephemeral). Default 8080. */
  port?: number;
  host?: string;
  /** Log level of the child processes (default warn). */
  childLogLevel?: string;
  seed?: number;
}

/** A running multi-plant demo. */
export interface MultiDemo {
  /** The API and dashboard. */
  url: string;
  /** Admin token of the API. */
  token: string;
  natsUrl: string;
  /** PostgreSQL schema of the historian. */
  schema: string;
  /** Line paths, one emulator each. */
  lines: string[];
  /** Process ids of the child processes (gateways, engines, api). */
  pids(): number[];
  /** Stops the child processes (SIGINT, then SIGKILL after 10 s), the emulators, a nats-server of its own. */
  stop(): Promise<void>;
}

function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until)
      throw new GembaError('GEMBA_DEMO_START', `${what} did not come up in ${timeoutMs} ms`);
    await new Promise<void>((r) => setTimeout(r, 100));
  }
}

/** Stops a child with SIGINT, SIGKILL after `graceMs`. */
async function stopChild(p: ChildProcess, graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = once(p, 'exit');
  p.kill('SIGINT');
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * `gemba demo --plants P --lines L`: the scaled-out platform on this machine. One plant
 * emulator per line (OPC UA, Modbus TCP, Sparkplug B and JSON over an embedded MQTT broker, on
 * ephemeral ports), a generated model of P plants × L lines bound to them, one `gemba gateway`
 * process per plant, `engines` `gemba engine` processes sharing the lines, and one `gemba api`
 * serving the dashboard; NATS JetStream (the local server on 4222, else one of its own) and the
 * local PostgreSQL (a schema of its own, kept after stop: drop it with `DROP SCHEMA … CASCADE`) in between.
 *
 * @throws GembaError GEMBA_INVALID_ARGUMENT for bad counts; GEMBA_DEMO_START when a part does not
 * come up; errors of the emulators.
 */
export async function startMultiDemo(o: MultiDemoOptions): Promise<MultiDemo> {
  const log = o.logger.child({ component: 'multi-demo' });
  const unique = randomUUID().replaceAll('-', '').slice(0, 8);
  const dir = await mkdtemp(path.join(tmpdir(), 'gemba-multi-demo-'));
  const pgUrl = o.pgUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const schema = `gemba_demo_${unique}`;
  const children: ChildProcess[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c)));
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err: unknown) {
        log.warn({ err }, 'multi-demo: stop step failed');
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const child = (args: string[], env: Record<string, string> = {}): ChildProcess => {
    const p = spawn(process.execPath, [GEMBA_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    children.push(p);
    p.once('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGINT' && signal !== 'SIGKILL')
        log.warn({ args: args.slice(0, 1), pid: p.pid, code, signal }, 'child process ended');
    });
    return p;
  };
  try {
    // NATS
    let natsUrl = o.natsUrl;
    if (natsUrl === undefined && (await reachable('127.0.0.1', 4222))) natsUrl = 'nats://127.0.0.1:4222';
    if (natsUrl === undefined) {
      const port = await freePort();
      const nats = spawn(
        NATS_SERVER_PATH,
        ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'nats')],
        { stdio: 'ignore' },
      );
      const failed = new Promise<boolean>((resolve) => nats.once('error', () => resolve(false)));
      stops.push(async () => {
        if (nats.exitCode === null && nats.signalCode === null) {
          const exited = once(nats, 'exit');
          nats.kill('SIGTERM');
          await exited;
        }
      });
      await waitFor(
        `nats-server (${NATS_SERVER_PATH}) on port ${port}`,
        () => Promise.race([reachable('127.0.0.1', port), failed]),
        10_000,
      );
      natsUrl = `nats://127.0.0.1:${port}`;
    }
    // The emulators: one per line, all on one embedded MQTT broker.
    const broker: EmbeddedBroker = await startEmbeddedBroker();
    stops.push(() => broker.close());
    const plants = new Map<string, Plant>();
    const emulators: Plant[] = [];
    for (let p = 1; p <= o.plants; p++) {
      for (let l = 1; l <= o.lines; l++) {
        const plant = await startPlant({
          speed: 1,
          seed: (o.seed ?? 7) + p * 100 + l,
          logger: log.child({ component: 'plant', line: multiPlantLinePath(p, l) }),
          mqttUrl: broker.url,
          sparkplugGroupId: `demo-${unique}-p${p}-l${l}`,
          jsonTopic: `demo/${unique}/p${p}/l${l}/energy`,
          pkiDir: path.join(dir, `pki-p${p}-l${l}`),
        });
        emulators.push(plant);
        stops.push(() => plant.stop());
        plants.set(`${p}/${l}`, plant);
      }
    }
    const yaml = multiPlantModelYaml(await readFile(DEMO_MODEL, 'utf8'), o.plants, o.lines, (p, l) => {
      const plant = plants.get(`${p}/${l}`);
      return plant === undefined ? {} : plant.sourceOverrides();
    });
    const modelFile = path.join(dir, 'plants.yaml');
    await writeFile(modelFile, yaml);
    const lvl = o.childLogLevel ?? 'warn';
    const bus = ['--bus', natsUrl];
    const hist = ['--historian', pgUrl, '--historian-schema', schema];
    // Engines first, so that the lines are owned when the first samples arrive.
    for (let e = 1; e <= (o.engines ?? 2); e++)
      child([
        'engine',
        modelFile,
        ...bus,
        ...hist,
        '--member',
        `demo-${unique}-engine${e}`,
        '--log-level',
        lvl,
      ]);
    for (let p = 1; p <= o.plants; p++) {
      const ids: string[] = [];
      for (let l = 1; l <= o.lines; l++)
        for (const s of emulators[0]?.model.sources ?? []) ids.push(multiPlantSourceId(s.id, p, l));
      child([
        'gateway',
        modelFile,
        ...bus,
        '--data-dir',
        path.join(dir, `gateway-p${p}`),
        '--sources',
        ids.join(','),
        '--log-level',
        lvl,
      ]);
    }
    if (o.web !== false) ensureWebBuilt(log);
    const token = generateToken();
    const api = child(
      [
        'api',
        modelFile,
        ...bus,
        ...hist,
        '--host',
        o.host ?? '127.0.0.1',
        '--port',
        String(o.port ?? 8080),
        ...(o.web === false ? [] : ['--web-root', WEB_ROOT]),
        '--log-level',
        lvl,
      ],
      { GEMBA_API_TOKEN: token },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new GembaError('GEMBA_DEMO_START', 'gemba api did not print its URL in 60 s')),
        60_000,
      );
      api.once('exit', (code) => {
        clearTimeout(timer);
        reject(new GembaError('GEMBA_DEMO_START', `gemba api ended (exit code ${code}) before it listened`));
      });
      api.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /gemba api: (http\S+)/.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    // Keep reading the children's stdout so that a full pipe never blocks them.
    for (const c of children) c.stdout?.resume();
    log.info({ url, natsUrl, schema, lines: emulators.length }, 'multi-plant demo started');
    const lines: string[] = [];
    for (let p = 1; p <= o.plants; p++)
      for (let l = 1; l <= o.lines; l++) lines.push(multiPlantLinePath(p, l));
    return {
      url,
      token,
      natsUrl,
      schema,
      lines,
      pids: () => children.map((c) => c.pid ?? 0),
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
