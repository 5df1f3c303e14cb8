import type { Logger, Model, SampleBatch } from '@gemba/core';
import mqtt, { type MqttClient } from 'mqtt';

/** Options for {@link JsonMeterPublisher}. */
export interface JsonMeterPublisherOptions {
  model: Model;
  url: string;
  /** Replaces the topic of every mqtt-json binding (unique per test); the model's when absent. */
  topic?: string;
  logger: Logger;
}

interface FieldBinding {
  signal: string;
  topic: string;
  field: string;
  timestampField: string | undefined;
}

/**
 * A plain-JSON MQTT device (the line's energy meter): whenever its signals change, publishes
 * one object per topic with each bound field and the emulator timestamp, e.g.
 * `{"ts": 1767592800000, "power_kw": 42.1, "energy_kwh": 1234.5}` (QoS 0, not retained).
 */
export class JsonMeterPublisher {
  readonly #opts: JsonMeterPublisherOptions;
  readonly #bindings: FieldBinding[] = [];
  readonly #bySignal = new Map<string, FieldBinding>();
  #client: MqttClient | undefined;
  readonly #current = new Map<string, number>();

  constructor(options: JsonMeterPublisherOptions) {
    this.#opts = options;
    for (const b of options.model.bindings) {
      if (!('field' in b)) continue;
      const fb: FieldBinding = {
        signal: b.signalPath,
        topic: options.topic ?? b.topic,
        field: b.field,
        timestampField: b.timestampField,
      };
      this.#bindings.push(fb);
      this.#bySignal.set(fb.signal, fb);
    }
  }

  /** The topics published to. */
  get topics(): string[] {
    return [...new Set(this.#bindings.map((b) => b.topic))];
  }

  /** Every signal path served over plain JSON. */
  get signals(): string[] {
    return this.#bindings.map((b) => b.signal);
  }

  /** Connects to the broker; resolves once connected. */
  async start(): Promise<void> {
    const client = mqtt.connect(this.#opts.url, {
      clientId: `gemba-plant-meter-${process.pid}-${Math.floor(Math.random() * 1e9)}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    this.#client = client;
    client.on('error', (err) =>
      this.#opts.logger.warn({ err, url: this.#opts.url }, 'energy meter MQTT error'),
    );
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => fail(new Error(`connection to ${this.#opts.url} closed before CONNACK`));
      const fail = (err: Error): void => {
        client.off('error', fail);
        client.off('close', onClose);
        if (this.#client === client) this.#client = undefined;
        client.end(true);
        reject(err);
      };
      client.once('connect', () => {
        client.off('error', fail);
        client.off('close', onClose);
        resolve();
      });
      client.once('error', fail);
      // mqtt.js reports a refused TCP connection as 'close' (then retries), not as 'error'.
      client.once('close', onClose);
    });
  }

  /** Publishes one message per topic with the latest values and timestamp found in `batch`. */
  update(batch: SampleBatch): void {
    const client = this.#client;
    let pending: Map<string, number> | undefined;
    for (let i = 0; i < batch.length; i++) {
      const b = this.#bySignal.get(batch.signals[i] as string);
      if (b === undefined) continue;
      const ts = batch.ts[i] as number;
      this.#current.set(b.signal, batch.num[i] as number);
      pending ??= new Map();
      pending.set(b.topic, ts);
    }
    if (pending === undefined || client?.connected !== true) return;
    for (const [topic, ts] of pending) {
      const msg: Record<string, number> = {};
      for (const b of this.#bindings) {
        if (b.topic !== topic) continue;
        const v = this.#current.get(b.signal);
        if (v !== undefined) msg[b.field] = v;
        if (b.timestampField !== undefined) msg[b.timestampField] = ts;
      }
      client.publish(topic, JSON.stringify(msg), { qos: 0 });
    }
  }

  /** Drops the connection (no reconnection) until {@link JsonMeterPublisher.reconnect}. */
  drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.end(true);
  }

  /** Connects again after {@link JsonMeterPublisher.drop}. */
  async reconnect(): Promise<void> {
    if (this.#client === undefined) await this.start();
  }

  /** Disconnects. */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.endAsync();
  }
}
