import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '@gemba/connect';
import {
  type Clock,
  GembaError,
  type Historian,
  InProcessBus,
  type Logger,
  type Model,
  RealClock,
} from '@gemba/core';
import { createEngine, type Engine } from '@gemba/engine';
import { openHistorian, startHistorianWriter } from '@gemba/historian';
import {
  adaptEngine,
  createServer,
  type GembaRuntime,
  generateToken,
  historianCalibration,
  OrderBook,
  type OrderPort,
  SimJobs,
  type TokenEntry,
} from '@gemba/server';
import type { FastifyInstance } from 'fastify';

/** The dashboard's sources and its build output. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const WEB_ROOT = path.join(WEB_DIR, 'dist');

/** Roles of the API, lowest first. */
export type Role = 'viewer' | 'operator' | 'engineer' | 'admin';

/** Newest modification time (ms) of the dashboard's sources: src/, index.html and the configs. */
function newestWebSourceMs(): number {
  let newest = 0;
  const visit = (p: string): void => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const name of ['src', 'index.html', 'vite.config.js', 'svelte.config.js'])
    visit(path.join(WEB_DIR, name));
  return newest;
}

/**
 * Builds the dashboard with Vite when `dist/` is missing (a fresh clone) or older than its
 * sources (a checkout that moved on), or always with `force`. The build is a few seconds; it
 * needs the workspace's dev dependencies.
 * @throws GembaError GEMBA_CONFIG_INVALID when the build fails.
 */
export function ensureWebBuilt(logger: Logger, force = false): void {
  const built = statSync(path.join(WEB_ROOT, 'index.html'), { throwIfNoEntry: false });
  if (!force && built !== undefined && built.mtimeMs >= newestWebSourceMs()) return;
  logger.info(
    { dir: WEB_DIR },
    built === undefined
      ? 'building the dashboard (first start)'
      : 'rebuilding the dashboard (sources changed)',
  );
  try {
    execFileSync(
      process.execPath,
      [path.join(WEB_DIR, '../../node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'],
      {
        cwd: WEB_DIR,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_CONFIG_INVALID',
      `building the dashboard in ${WEB_DIR} failed (run 'npm install' first)`,
      {
        cause: err,
      },
    );
  }
}

/** Options of {@link startPlatform}. */
export interface PlatformOptions {
  model: Model;
  logger: Logger;
  clock?: Clock;
  /** Folder for the embedded historian and the store-and-forward buffer. */
  dataDir: string;
  /** `postgres://…` for the PostgreSQL historian; default the embedded one in `dataDir/historian`. */
  historian?: string;
  /** Connection fields per source id that differ from the model file (ports, hosts, topics). */
  overrides?: Record<string, Record<string, unknown>>;
  /** Only these sources (default: every source in the model). */
  sources?: string[];
  host?: string;
  /** API port; 0 = ephemeral. */
  port?: number;
  /** Tokens to accept; default one generated admin token. */
  tokens?: TokenEntry[];
  /** Serve the dashboard (built on first start). Default true. */
  web?: boolean;
}

/** A running all-in-one platform. */
export interface Platform {
  url: string;
  model: Model;
  bus: InProcessBus;
  historian: Historian;
  engine: Engine;
  runtime: GembaRuntime;
  app: FastifyInstance;
  tokens: TokenEntry[];
  stop(): Promise<void>;
}

/**
 * Starts Gemba all-in-one, as `gemba start` does: drivers and edge stage → in-process bus →
 * engine and historian writer → API and dashboard. Stops what it started if any step fails.
 *
 * @example
 * const p = await startPlatform({ model, logger, dataDir: '.data', port: 8080 });
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { model, logger } = options;
  const clock = options.clock ?? new RealClock();
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err: unknown) {
        logger.warn({ err }, 'stop step failed');
      }
    }
  };
  try {
    if (options.web !== false) ensureWebBuilt(logger);
    await mkdir(options.dataDir, { recursive: true });
    const bus = new InProcessBus({ clock, logger: logger.child({ component: 'bus' }) });
    stops.push(() => bus.close());
    const historian = await openHistorian(options.historian ?? path.join(options.dataDir, 'historian'), {
      logger: logger.child({ component: 'historian' }),
    });
    stops.push(() => historian.close());
    const engine = createEngine({ model, clock, logger: logger.child({ component: 'engine' }), historian });
    stops.push(() => engine.stop());
    await engine.attach(bus, { durable: 'engine', filter: 'gemba.samples.>', deliverFrom: { kind: 'all' } });
    const writer = await startHistorianWriter({ bus, historian, durable: 'historian', logger, clock });
    stops.push(() => writer.stop());
    const gateway = await startGateway({
      model,
      bus,
      logger: logger.child({ component: 'connect' }),
      clock,
      dataDir: options.dataDir,
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
      ...(options.sources === undefined ? {} : { sources: options.sources }),
    });
    stops.push(() => gateway.stop());
    const adapter = adaptEngine({ engine, model, clock });
    stops.push(() => adapter.stop());
    const sim = new SimJobs({
      model,
      clock,
      logger,
      calibrate: historianCalibration({ historian, model, clock, logger }),
    });
    // Orders pushed by an MES or imported as CSV become the engine's schedule at once, so the
    // running order of each line is in every sample's context from then on.
    const book = new OrderBook(model);
    const orders: OrderPort = {
      list: () => book.list(),
      current: (line) => book.current(line),
      upsert: (list) => {
        const previous = book.upsert(list);
        engine.setOrders(book.list());
        return previous;
      },
    };
    const runtime: GembaRuntime = {
      model,
      clock,
      historian,
      ...adapter,
      sim,
      orders,
      writer: { write: (p, v) => gateway.write(p, v) },
      status: () => {
        const st = gateway.status();
        return {
          samplesIn: st.sources.reduce((n, s) => n + s.samples, 0),
          samplesOut: writer.stats().samples,
          lag: writer.stats().buffered,
          bufferDepth: st.buffer.bufferedBatches,
          sources: st.sources.map((s) => ({ source: s.id, state: s.state, ts: clock.now() })),
        };
      },
    };
    const tokens = options.tokens ?? [{ token: generateToken(), role: 'admin', name: 'local-admin' }];
    const app = await createServer({
      runtime,
      logger,
      auth: { tokens },
      ...(options.web === false ? {} : { webRoot: WEB_ROOT }),
    });
    stops.push(() => app.close());
    const host = options.host ?? '127.0.0.1';
    await app.listen({ host, port: options.port ?? 0 });
    const addr = app.server.address();
    if (addr === null || typeof addr === 'string')
      throw new GembaError('GEMBA_INTERNAL', 'the API has no address');
    return {
      url: `http://${host}:${addr.port}`,
      model,
      bus,
      historian,
      engine,
      runtime,
      app,
      tokens,
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/** An MQTT broker inside this process (aedes, MQTT 3.1.1) for a demo with nothing installed. */
export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

/** Starts an embedded MQTT broker on 127.0.0.1 (port 0 = ephemeral). */
export async function startEmbeddedBroker(port = 0): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: NetServer = createNetServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const actual = addr !== null && typeof addr === 'object' ? addr.port : port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Makes one token per role (demo and tests). */
export function tokensForEveryRole(prefix = 'local'): Record<Role, TokenEntry> {
  return {
    viewer: { token: generateToken(), role: 'viewer', name: `${prefix}-viewer` },
    operator: { token: generateToken(), role: 'operator', name: `${prefix}-operator` },
    engineer: { token: generateToken(), role: 'engineer', name: `${prefix}-engineer` },
    admin: { token: generateToken(), role: 'admin', name: `${prefix}-admin` },
  };
}
