import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@gemba/core';
import { type Plant, startPlant } from '@gemba/plant';
import type { TokenEntry } from '@gemba/server';
import {
  type EmbeddedBroker,
  type Platform,
  type Role,
  startEmbeddedBroker,
  startPlatform,
  tokensForEveryRole,
} from './platform.ts';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  logger: Logger;
  /** Emulator speed factor (1 = real time). */
  speed?: number;
  seed?: number;
  /** API port (0 = ephemeral). */
  port?: number;
  host?: string;
  /** An MQTT broker to use; default an embedded one, so nothing needs to be installed. */
  mqttUrl?: string;
  /** Data folder; default a fresh temporary folder removed at stop. */
  dataDir?: string;
  /** Serve the dashboard (default true). */
  web?: boolean;
}

/** A running demo: the emulated line and the whole platform reading it over its protocols. */
export interface Demo {
  url: string;
  plant: Plant;
  platform: Platform;
  tokens: Record<Role, TokenEntry>;
  mqttUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the plant emulator (OPC UA, Modbus TCP, Sparkplug B, JSON over MQTT on ephemeral ports)
 * and the all-in-one platform connected to it, as `gemba demo` does.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { logger } = options;
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'gemba-demo-')));
  const unique = randomUUID().slice(0, 8);
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err: unknown) {
        logger.warn({ err }, 'demo: stop step failed');
      }
    }
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    let mqttUrl = options.mqttUrl;
    if (mqttUrl === undefined) {
      const broker: EmbeddedBroker = await startEmbeddedBroker();
      stops.push(() => broker.close());
      mqttUrl = broker.url;
    }
    const plant = await startPlant({
      speed: options.speed ?? 1,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      logger: logger.child({ component: 'plant' }),
      mqttUrl,
      sparkplugGroupId: `demo-${unique}`,
      jsonTopic: `demo/${unique}/energy`,
      pkiDir: path.join(dataDir, 'plant-pki'),
    });
    stops.push(() => plant.stop());
    const tokens = tokensForEveryRole();
    const platform = await startPlatform({
      model: plant.model,
      logger,
      // The emulator's clock: at --speed 60 an hour of plant time passes per minute, and
      // source timestamps follow it (a wall clock would flag every sample as clock skew).
      clock: plant.clock,
      dataDir,
      overrides: plant.sourceOverrides() as Record<string, Record<string, unknown>>,
      port: options.port ?? 0,
      ...(options.host === undefined ? {} : { host: options.host }),
      tokens: Object.values(tokens),
      ...(options.web === undefined ? {} : { web: options.web }),
    });
    stops.push(() => platform.stop());
    return { url: platform.url, plant, platform, tokens, mqttUrl, stop };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
