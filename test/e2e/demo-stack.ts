// The running demo for the e2e tests and bench/live: exactly what `gemba demo` starts
// (`startDemo` from @gemba/cli): plant emulator → connect gateway → in-process bus → engine +
// historian writer → API + dashboard, with one token per role.

import { type Role, startDemo, WEB_ROOT } from '@gemba/cli';
import type { InProcessBus, Logger } from '@gemba/core';
import { silentLogger } from '@gemba/core';
import type { Engine } from '@gemba/engine';
import type { Plant } from '@gemba/plant';
import type { GembaRuntime, TokenEntry } from '@gemba/server';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';

export { WEB_ROOT };

/** Options of {@link startDemoStack}. */
export interface DemoStackOptions {
  /** Emulator speed factor (1 = real time). */
  speed?: number;
  /** API port (0 = ephemeral). */
  port?: number;
  /** MQTT broker for the Sparkplug stations; default the demo's embedded broker. */
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
  tokens: Record<Role, TokenEntry>;
  stop(): Promise<void>;
}

/** Starts `gemba demo` in this process on an ephemeral port. */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const demo = await startDemo({
    logger: options.logger ?? silentLogger(),
    speed: options.speed ?? 1,
    port: options.port ?? 0,
    ...(options.mqttUrl === undefined ? {} : { mqttUrl: options.mqttUrl }),
  });
  const p = demo.platform;
  return {
    url: demo.url,
    plant: demo.plant,
    bus: p.bus,
    engine: p.engine,
    runtime: p.runtime,
    app: p.app,
    tokens: demo.tokens,
    stop: demo.stop,
  };
}

/** Launches Debian's Chromium headless the way the team does (no browser download, no background networking). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
