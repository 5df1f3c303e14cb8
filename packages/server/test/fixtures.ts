import { fileURLToPath } from 'node:url';
import { InProcessBus, loadModelFile, type Model, RealClock, silentLogger } from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { createEngine, type Engine } from '@gemba/engine';
import type { FastifyInstance } from 'fastify';
import {
  adaptEngine,
  BusTwin,
  createServer,
  type GembaRuntime,
  type ServerOptions,
  type TokenEntry,
} from '../src/index.ts';

/** The demo plant model file. */
export const DEMO_MODEL = fileURLToPath(new URL('../../../examples/demo-line/plant.yaml', import.meta.url));

/** One token per role. */
export const TOKENS: Record<'viewer' | 'operator' | 'engineer' | 'admin', TokenEntry> = {
  viewer: { token: 'viewer-token-0123456789', role: 'viewer', name: 'vera-viewer' },
  operator: { token: 'operator-token-0123456789', role: 'operator', name: 'otto-operator' },
  engineer: { token: 'engineer-token-0123456789', role: 'engineer', name: 'erin-engineer' },
  admin: { token: 'admin-token-0123456789', role: 'admin', name: 'ada-admin' },
};

/** A real runtime of the parts that exist without the engine: bus, bus twin, memory historian. */
export interface TestPlatform {
  model: Model;
  bus: InProcessBus;
  twin: BusTwin;
  historian: MemoryHistorian;
  runtime: GembaRuntime;
  app: FastifyInstance;
  close(): Promise<void>;
}

let counter = 0;

/** Builds the platform and a server over it. */
export async function startPlatform(
  extra: Partial<GembaRuntime> = {},
  serverOptions: Partial<ServerOptions> = {},
): Promise<TestPlatform> {
  const model = await loadModelFile(DEMO_MODEL);
  const clock = new RealClock();
  const logger = silentLogger();
  const bus = new InProcessBus({ clock, logger });
  const twin = new BusTwin({ model, bus, clock, logger, durable: `server-test-${process.pid}-${counter++}` });
  await twin.start();
  const historian = new MemoryHistorian();
  const runtime: GembaRuntime = { model, clock, twin, historian, ...extra };
  const app = await createServer({
    runtime,
    logger,
    auth: { tokens: Object.values(TOKENS) },
    ...serverOptions,
  });
  return {
    model,
    bus,
    twin,
    historian,
    runtime,
    app,
    async close() {
      await app.close();
      await twin.stop();
      await bus.close();
      await historian.close();
    },
  };
}

/** `Authorization` header for a role. */
export function as(role: keyof typeof TOKENS): { authorization: string } {
  return { authorization: `Bearer ${TOKENS[role].token}` };
}

/** The platform with the real engine as twin, KPIs and alarms (fed by `engine.ingest`). */
export interface EnginePlatform {
  model: Model;
  engine: Engine;
  historian: MemoryHistorian;
  runtime: GembaRuntime;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the engine-backed platform and a server over it. */
export async function startEnginePlatform(
  serverOptions: Partial<ServerOptions> = {},
): Promise<EnginePlatform> {
  const model = await loadModelFile(DEMO_MODEL);
  const clock = new RealClock();
  const logger = silentLogger();
  const historian = new MemoryHistorian();
  const engine = createEngine({ model, clock, logger, historian });
  const adapter = adaptEngine({ engine, model, clock, kpiIntervalMs: 100 });
  const runtime: GembaRuntime = { model, clock, historian, ...adapter };
  const app = await createServer({
    runtime,
    logger,
    auth: { tokens: Object.values(TOKENS) },
    ...serverOptions,
  });
  return {
    model,
    engine,
    historian,
    runtime,
    app,
    async close() {
      await app.close();
      adapter.stop();
      await engine.stop();
      await historian.close();
    },
  };
}
