import {
  type Clock,
  type DataType,
  type Logger,
  type Model,
  type MqttJsonSourceDef,
  type ResolvedBinding,
  SampleBatchBuilder,
  type SampleValue,
} from '@gemba/core';
import type mqtt from 'mqtt';
import { BaseSource } from '../../source/base-source.ts';
import { connectMqtt, mqttOptions, RefusalOnce, topicMatches } from '../connection.ts';
import { extract, parseJson } from './decode.ts';

/** Options of {@link MqttJsonSource}. */
export interface MqttJsonSourceOptions {
  logger: Logger;
  clock: Clock;
  /** The model, for each signal's data type (default: numbers). */
  model?: Model;
}

interface JsonBinding {
  signal: string;
  topic: string;
  field: string;
  timestampField: string | undefined;
  dataType: DataType;
}

/**
 * MQTT source for plain JSON payloads: each binding maps a topic (filter) and a field path
 * to a signal, with an optional timestamp field. A payload that is not JSON makes that
 * topic's signals bad; a field that is missing or of the wrong type makes that signal bad;
 * both are reported with the topic and field, and other fields keep flowing. Subscribes with
 * QoS 1; mqtt.js reconnects every second and restores subscriptions.
 */
export class MqttJsonSource extends BaseSource {
  readonly #def: MqttJsonSourceDef;
  readonly #bindings: JsonBinding[];
  readonly #byTopic = new Map<string, JsonBinding[]>();
  #client: mqtt.MqttClient | undefined;
  /** The broker's last refusal of our CONNECT, reported once. */
  readonly #refusals = new RefusalOnce();

  constructor(def: MqttJsonSourceDef, bindings: readonly ResolvedBinding[], options: MqttJsonSourceOptions) {
    super(def.id, options.clock, options.logger.child({ component: 'connect.mqtt-json', source: def.id }));
    this.#def = def;
    this.#bindings = (bindings as (MqttJsonSourceDef['bindings'][number] & ResolvedBinding)[]).map((b) => ({
      signal: b.signalPath,
      topic: b.topic,
      field: b.field,
      timestampField: b.timestampField,
      dataType: options.model?.signal(b.signalPath)?.def.dataType ?? 'float',
    }));
  }

  get signals(): readonly string[] {
    return this.#bindings.map((b) => b.signal);
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    this.emitStatus('connecting', `connecting to ${this.#def.url}`);
    let options: ReturnType<typeof mqttOptions>;
    try {
      options = mqttOptions(this.#def);
    } catch (err: unknown) {
      // A broken TLS file: reported, every signal stays bad; a driver never throws into the pipeline.
      this.emitBad(this.signals);
      this.emitStatus('disconnected', err instanceof Error ? err.message : String(err));
      return;
    }
    const client = connectMqtt(this.#def.url, options);
    this.#client = client;
    const topics = [...new Set(this.#bindings.map((b) => b.topic))];
    client.on('connect', () => {
      this.#refusals.reset();
      client.subscribe(topics, { qos: 1 }, (err) => {
        if (err)
          this.emitStatus(
            'degraded',
            `subscribing to ${topics.join(', ')} at ${this.#def.url} failed: ${err.message}`,
          );
        else
          this.emitStatus('connected', `connected to ${this.#def.url}, subscribed to ${topics.join(', ')}`);
      });
    });
    client.on('close', () => this.#lost(`connection to ${this.#def.url} closed`));
    client.on('error', (err) => this.#onError(err));
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
  }

  /** A refused CONNECT (credentials, authorisation) is reported once per distinct reason. */
  #onError(err: Error): void {
    const refused = this.#refusals.take(err);
    if (refused === undefined) this.log.debug({ err }, 'mqtt error');
    else this.peerRefused(this.#def.url, refused, 'retrying every second');
  }

  #lost(reason: string): void {
    if (this.#client === undefined || this.state === 'disconnected') return;
    this.emitBad(this.signals);
    this.emitStatus('disconnected', `${reason}; reconnecting every second`);
  }

  #matching(topic: string): JsonBinding[] {
    let list = this.#byTopic.get(topic);
    if (list === undefined) {
      list = this.#bindings.filter((b) => topicMatches(b.topic, topic));
      if (this.#byTopic.size < 10_000) this.#byTopic.set(topic, list);
    }
    return list;
  }

  /** Decodes one message (exported behaviour for fuzzing through `handleMessage`). */
  #onMessage(topic: string, payload: Uint8Array): void {
    const list = this.#matching(topic);
    if (list.length === 0) return;
    const now = this.clock.now();
    const out = new SampleBatchBuilder(list.length);
    const doc = parseJson(payload);
    if (doc === undefined) {
      for (const b of list) out.pushNumber(b.signal, now, Number.NaN, 'bad');
      this.emitStatus(
        this.state,
        `topic ${topic}: payload is not JSON (${payload.length} bytes)`,
        'malformed-payload',
        {
          topic,
        },
      );
      this.emitBatch(out.build());
      return;
    }
    for (const b of list) {
      const r = extract(doc, b.field, b.timestampField, b.dataType);
      if (r.ok) {
        out.push(b.signal, r.ts ?? now, r.value, 'good');
      } else {
        out.pushNumber(b.signal, r.ts ?? now, Number.NaN, 'bad');
        this.emitStatus(this.state, `topic ${topic} → ${b.signal}: ${r.reason}`, r.problem, {
          topic,
          field: b.field,
          signal: b.signal,
        });
      }
    }
    this.emitBatch(out.build());
  }

  /** Feeds a message as if it came from the broker (for tests and fuzzing of the decoder). */
  handleMessage(topic: string, payload: Uint8Array): void {
    this.#onMessage(topic, payload);
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (client === undefined && this.state === 'stopped') return;
    this.#client = undefined;
    if (client !== undefined) await client.endAsync(true);
    this.emitStatus('stopped', 'stopped');
  }

  /**
   * Publishes `{ "<field>": value }` to the binding's topic (QoS 1) — for JSON devices that
   * take commands on the topic they report on.
   * @throws GembaError GEMBA_CONNECT_WRITE when the signal is not bound here, its topic has
   *   wildcards, or the broker is not reachable.
   */
  async write(signal: string, value: SampleValue): Promise<void> {
    const b = this.#bindings.find((x) => x.signal === signal);
    if (b === undefined) throw this.notWritable(signal, 'not bound to this source');
    if (/[+#]/.test(b.topic)) throw this.notWritable(signal, `topic ${b.topic} has wildcards`);
    const client = this.#client;
    if (client === undefined || !client.connected)
      throw this.notWritable(signal, `not connected to ${this.#def.url}`);
    const doc: Record<string, unknown> = {};
    const leaf = b.field.split('.').at(-1) ?? b.field;
    doc[leaf] = value;
    await client.publishAsync(b.topic, JSON.stringify(doc), { qos: 1 });
  }
}
