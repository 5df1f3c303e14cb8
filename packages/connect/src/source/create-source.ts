import {
  type Clock,
  GembaError,
  type Logger,
  type Model,
  type ResolvedBinding,
  type SourceDef,
} from '@gemba/core';
import { ModbusSource } from '../modbus/driver.ts';
import { MqttJsonSource } from '../mqtt/json/driver.ts';
import { SparkplugHostSource } from '../mqtt/sparkplug/driver.ts';
import { OpcuaSource } from '../opcua/driver.ts';
import type { BaseSource } from './base-source.ts';

/**
 * Connection fields to override on a source definition (e.g. the plant emulator's ephemeral
 * ports): any top-level field of the definition, plus `topic` for `mqtt-json` sources, which
 * replaces the topic of every binding.
 */
export type SourceOverride = Partial<Record<string, unknown>> & { topic?: string };

/** Options of {@link createSource}. */
export interface CreateSourceOptions {
  logger: Logger;
  clock: Clock;
  override?: SourceOverride | undefined;
  /** Folder for driver state (OPC UA certificates); default `<tmp>/gemba-pki`. */
  dataDir?: string;
}

/**
 * Creates the driver for a source definition of the model, with its bindings resolved
 * against the model. The source is not started.
 *
 * @example
 * const src = createSource(model.sources[0], model, { logger, clock: new RealClock() });
 * src.onBatch((b) => console.log(b.toSamples()));
 * await src.start();
 */
export function createSource(def: SourceDef, model: Model, options: CreateSourceOptions): BaseSource {
  const { topic, ...fields } = options.override ?? {};
  const d = { ...def, ...fields } as SourceDef;
  let bindings: ResolvedBinding[] = model.bindingsOf(def.id);
  if (topic !== undefined && d.protocol === 'mqtt-json') bindings = bindings.map((b) => ({ ...b, topic }));
  const opts = { logger: options.logger, clock: options.clock };
  switch (d.protocol) {
    case 'modbus':
      return new ModbusSource(d, bindings, opts);
    case 'mqtt-json':
      return new MqttJsonSource(d, bindings, { ...opts, model });
    case 'sparkplug':
      return new SparkplugHostSource(d, bindings, opts);
    case 'opcua':
      return new OpcuaSource(d, bindings, { ...opts, dataDir: options.dataDir });
    default:
      throw new GembaError('GEMBA_CONFIG_INVALID', `source '${(d as SourceDef).id}' has an unknown protocol`);
  }
}
