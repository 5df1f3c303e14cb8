// Composes the whole platform over the plant emulator, the way `gemba demo` does: plant →
// connect gateway → in-process bus → engine + historian writer → API + dashboard. The e2e
// tests and bench/live use it until packages/cli exports its own `startDemo` (then they
// should switch to that one, so that they test what users run).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '@gemba/connect';
import { InProcessBus, type Logger, silentLogger } from '@gemba/core';
import { createEngine, type Engine } from '@gemba/engine';
import { openEmbeddedHistorian, startHistorianWriter } from '@gemba/historian';
import { type Plant, startPlant } from '@gemba/plant';
import {
  adaptEngine,
  createServer,
  type GembaRuntime,
  generateToken,
  historianCalibration,
  SimJobs,
  type TokenEntry,
} from '@gemba/server';
import type { FastifyInstance } from 'fastify';

/** The built dashboard. */
export const WEB_ROOT = fileURLToPath(new URL('../../packages/web/dist', import.meta.url));

/** Options of {@link startDemoStack}. */
export interface DemoStackOptions {
  /** Emulator speed factor (1 = real time). */
  speed?: number;
  /** API port (0 = ephemeral). */
  port?: number;
  /** MQTT broker for the Sparkplug stations; without it assembly/test/pack have no data. */
  mqttUrl?: string;
  logger?: Logger;
}

/** A running demo. */
export interface DemoStack {
  url: string;
  plant: Plant;
  /** The in-process bus between connect and the engine. */
  bus: InProcessBus;
  engine: Engine;
  runtime: GembaRuntime;
  /** The API server (its `websocketServer` holds the live clients). */
  app: FastifyInstance;
  tokens: Record<'viewer' | 'operator' | 'engineer' | 'admin', TokenEntry>;
  stop(): Promise<void>;
}

/** Starts the composed platform over the emulator. */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const logger = options.logger ?? silentLogger();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'gemba-e2e-'));
  const unique = randomUUID().slice(0, 8);
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err: unknown) {
        logger.warn({ err }, 'demo stack: stop step failed');
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const plant = await startPlant({
      speed: options.speed ?? 1,
      logger,
      ...(options.mqttUrl === undefined
        ? {}
        : { mqttUrl: options.mqttUrl, sparkplugGroupId: `e2e-${unique}`, jsonTopic: `e2e/${unique}/energy` }),
    });
    stops.push(() => plant.stop());
    const { model, clock } = plant;
    const bus = new InProcessBus({ clock, logger });
    stops.push(() => bus.close());
    const historian = await openEmbeddedHistorian({ dir: path.join(dataDir, 'historian'), logger });
    stops.push(() => historian.close());
    const engine = createEngine({ model, clock, logger, historian });
    stops.push(() => engine.stop());
    await engine.attach(bus, { durable: 'engine', filter: 'gemba.samples.>', deliverFrom: { kind: 'all' } });
    const writer = await startHistorianWriter({ bus, historian, durable: 'historian', logger, clock });
    stops.push(() => writer.stop());
    const overrides = plant.sourceOverrides();
    const sources = model.sources
      .filter(
        (s) => options.mqttUrl !== undefined || (s.protocol !== 'sparkplug' && s.protocol !== 'mqtt-json'),
      )
      .map((s) => s.id);
    const gateway = await startGateway({ model, bus, logger, clock, dataDir, overrides, sources });
    stops.push(() => gateway.stop());
    const adapter = adaptEngine({ engine, model, clock });
    stops.push(() => adapter.stop());
    const sim = new SimJobs({
      model,
      clock,
      logger,
      calibrate: historianCalibration({ historian, model, clock, logger }),
    });
    const tokens = {
      viewer: { token: generateToken(), role: 'viewer', name: 'e2e-viewer' },
      operator: { token: generateToken(), role: 'operator', name: 'e2e-operator' },
      engineer: { token: generateToken(), role: 'engineer', name: 'e2e-engineer' },
      admin: { token: generateToken(), role: 'admin', name: 'e2e-admin' },
    } satisfies Record<string, TokenEntry>;
    const runtime: GembaRuntime = {
      model,
      clock,
      historian,
      ...adapter,
      sim,
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
    const app = await createServer({
      runtime,
      logger,
      auth: { tokens: Object.values(tokens) },
      webRoot: WEB_ROOT,
    });
    stops.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
    const addr = app.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('the API has no address');
    return { url: `http://127.0.0.1:${addr.port}`, plant, bus, engine, runtime, app, tokens, stop };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
