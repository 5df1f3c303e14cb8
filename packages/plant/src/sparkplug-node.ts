import type { Logger, Model, SampleBatch } from '@gemba/core';
import mqtt, { type MqttClient } from 'mqtt';
import {
  decodePayload,
  encodePayload,
  type UMetric,
  type UPayload,
} from 'sparkplug-payload/lib/sparkplugbpayload.js';

/** Options for {@link SparkplugEdgeNode}. */
export interface SparkplugEdgeNodeOptions {
  model: Model;
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Sparkplug group id (unique per test). */
  groupId: string;
  /** Edge node id (the model's bindings name it, e.g. `line1`). */
  edgeNode: string;
  logger: Logger;
  /** Called for a DCMD write to a writable metric; returns false to refuse it. */
  onWrite: (signal: string, value: number) => boolean;
  /** Current served value of a signal, for births. */
  valueOf: (signal: string) => { value: number; ts: number } | undefined;
  /** Emulator clock, for payload timestamps. */
  now: () => number;
}

interface MetricDef {
  signal: string;
  device: string;
  name: string;
  alias: number;
  type: 'Int32' | 'UInt32' | 'Double';
  writable: boolean;
}

const NAMESPACE = 'spBv1.0';
const REBIRTH = 'Node Control/Rebirth';
/** The node's own metric: seconds since the edge node started, in steps of {@link UPTIME_STEP_MS}. */
export const UPTIME_METRIC = 'Properties/Uptime';
/** Resolution of the uptime metric (emulator time): one NDATA per step at most. */
export const UPTIME_STEP_MS = 10_000;
const UPTIME_ALIAS = 1;

/**
 * An MQTT Sparkplug B edge node (Sparkplug 3.0) serving the devices bound in the model:
 * NBIRTH (with `bdSeq`, `Node Control/Rebirth` and the node's own metric `Properties/Uptime`)
 * and a DBIRTH per device with every metric's name, alias, type and current value; DDATA with
 * aliases only, each metric carrying its emulator source timestamp (a DDATA may hold several
 * values of one metric, in time order); NDATA by alias when the uptime (whole 10 s of emulator
 * time since the node started) changes; `seq` 0..255 over all messages of the node; NDEATH as the MQTT will (matching `bdSeq`);
 * rebirth on NCMD `Node Control/Rebirth`; DCMD writes to writable metrics (by name or alias).
 */
export class SparkplugEdgeNode {
  readonly #opts: SparkplugEdgeNodeOptions;
  readonly #metrics: MetricDef[] = [];
  readonly #bySignal = new Map<string, MetricDef>();
  readonly #devices: string[] = [];
  #client: MqttClient | undefined;
  #bdSeq = 0;
  #seq = 0;
  #born = false;
  #silent = false;
  #stopped = false;
  readonly #startedAt: number;
  #uptimeS = 0;

  constructor(options: SparkplugEdgeNodeOptions) {
    this.#opts = options;
    this.#startedAt = options.now();
    let alias = 10;
    for (const b of options.model.bindings) {
      if (!('edgeNode' in b) || b.edgeNode !== options.edgeNode) continue;
      const sig = options.model.signal(b.signalPath);
      if (sig === undefined || b.device === undefined) continue;
      const dt = sig.def.dataType;
      const m: MetricDef = {
        signal: b.signalPath,
        device: b.device,
        name: b.metric,
        alias: alias++,
        type: dt === 'int' ? 'Int32' : dt === 'uint' ? 'UInt32' : 'Double',
        writable: sig.def.writable === true,
      };
      this.#metrics.push(m);
      this.#bySignal.set(m.signal, m);
      if (!this.#devices.includes(m.device)) this.#devices.push(m.device);
    }
  }

  /** Every signal path served over Sparkplug. */
  get signals(): string[] {
    return this.#metrics.map((m) => m.signal);
  }

  /** The topic of a message type, e.g. `spBv1.0/g/DDATA/line1/assembly`. */
  topic(type: string, device?: string): string {
    const base = `${NAMESPACE}/${this.#opts.groupId}/${type}/${this.#opts.edgeNode}`;
    return device === undefined ? base : `${base}/${device}`;
  }

  #deathPayload(): Buffer {
    return Buffer.from(
      encodePayload({
        timestamp: this.#opts.now(),
        metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.#bdSeq }],
      }),
    );
  }

  /** Connects to the broker and publishes the births; resolves once connected. */
  async start(): Promise<void> {
    await this.#connect();
  }

  #connect(): Promise<void> {
    const client = mqtt.connect(this.#opts.url, {
      clientId: `gemba-plant-${this.#opts.groupId}-${this.#opts.edgeNode}-${process.pid}-${Math.floor(Math.random() * 1e9)}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      // Sparkplug 3.0 §7.1: NDEATH is the MQTT will, QoS 1, not retained, with the session's bdSeq.
      will: { topic: this.topic('NDEATH'), payload: this.#deathPayload(), qos: 1, retain: false },
    });
    this.#client = client;
    client.on('connect', () => {
      client.subscribe([this.topic('NCMD'), `${this.topic('DCMD')}/+`], { qos: 1 }, (err) => {
        if (err) this.#opts.logger.warn({ err }, 'Sparkplug subscribe failed');
      });
      this.#birth();
    });
    client.on('close', () => {
      if (this.#born) {
        // The next session needs a new bdSeq, and its will must carry it (Sparkplug 3.0 §6.4.2).
        this.#born = false;
        this.#bdSeq = (this.#bdSeq + 1) % 256;
        if (client.options.will !== undefined) client.options.will.payload = this.#deathPayload();
      }
    });
    client.on('message', (topic, payload) => this.#command(topic, payload));
    client.on('error', (err) => this.#opts.logger.warn({ err, url: this.#opts.url }, 'Sparkplug MQTT error'));
    return new Promise((resolve, reject) => {
      const onConnect = (): void => {
        client.off('error', onError);
        client.off('close', onClose);
        resolve();
      };
      const onError = (err: Error): void => {
        client.off('connect', onConnect);
        client.off('close', onClose);
        if (this.#client === client) this.#client = undefined;
        client.end(true);
        reject(err);
      };
      // mqtt.js reports a refused TCP connection as 'close' (then retries), not as 'error'.
      const onClose = (): void => onError(new Error(`connection to ${this.#opts.url} closed before CONNACK`));
      client.once('connect', onConnect);
      client.once('error', onError);
      client.once('close', onClose);
    });
  }

  #nextSeq(): number {
    const s = this.#seq;
    this.#seq = (this.#seq + 1) % 256;
    return s;
  }

  #publish(topic: string, payload: UPayload, qos: 0 | 1 = 0): void {
    this.#client?.publish(topic, Buffer.from(encodePayload(payload)), { qos });
  }

  #birth(): void {
    const now = this.#opts.now();
    this.#seq = 0;
    this.#uptimeS = this.#uptimeAt(now);
    this.#publish(
      this.topic('NBIRTH'),
      {
        timestamp: now,
        seq: this.#nextSeq(),
        metrics: [
          { name: 'bdSeq', type: 'UInt64', value: this.#bdSeq, timestamp: now },
          { name: REBIRTH, type: 'Boolean', value: false, timestamp: now },
          {
            name: UPTIME_METRIC,
            alias: UPTIME_ALIAS,
            type: 'UInt64',
            value: this.#uptimeAt(now),
            timestamp: now,
          },
        ],
      },
      // Sparkplug 3.0 §6.4.19: NBIRTH at QoS 0 (as every message of the session but the will), so
      // the broker keeps it in order with the DDATA after it; at QoS 1 aedes delivered data of a
      // rebirth before its birth, and the host saw a sequence gap.
    );
    for (const device of this.#devices) {
      const metrics: UMetric[] = this.#metrics
        .filter((m) => m.device === device)
        .map((m) => {
          const v = this.#opts.valueOf(m.signal);
          return {
            name: m.name,
            alias: m.alias,
            type: m.type,
            value: v === undefined || Number.isNaN(v.value) ? null : v.value,
            timestamp: v?.ts ?? now,
            ...(v === undefined || Number.isNaN(v.value) ? { isNull: true } : {}),
          };
        });
      // §6.4.20: DBIRTH at QoS 0 too.
      this.#publish(this.topic('DBIRTH', device), { timestamp: now, seq: this.#nextSeq(), metrics });
    }
    this.#born = true;
    this.#opts.logger.info(
      { groupId: this.#opts.groupId, edgeNode: this.#opts.edgeNode, bdSeq: this.#bdSeq },
      'Sparkplug births published',
    );
  }

  /** Whole uptime steps since the node started, in seconds. */
  #uptimeAt(now: number): number {
    return (Math.floor((now - this.#startedAt) / UPTIME_STEP_MS) * UPTIME_STEP_MS) / 1000;
  }

  #command(topic: string, payload: Buffer): void {
    let decoded: UPayload;
    try {
      decoded = decodePayload(payload);
    } catch (err: unknown) {
      this.#opts.logger.warn({ err, topic }, 'undecodable Sparkplug command ignored');
      return;
    }
    const parts = topic.split('/');
    const type = parts[2];
    if (type === 'NCMD') {
      for (const m of decoded.metrics ?? []) if (m.name === REBIRTH && m.value === true) this.#birth();
      return;
    }
    if (type === 'DCMD') {
      const device = parts[4];
      for (const m of decoded.metrics ?? []) {
        const def = this.#metrics.find(
          (x) =>
            x.device === device && (x.name === m.name || (m.alias != null && Number(m.alias) === x.alias)),
        );
        if (def === undefined || !def.writable) {
          this.#opts.logger.warn(
            { topic, metric: m.name ?? m.alias },
            'DCMD to an unknown or read-only metric ignored',
          );
          continue;
        }
        if (!this.#opts.onWrite(def.signal, Number(m.value))) {
          this.#opts.logger.warn({ topic, metric: def.name, value: m.value }, 'DCMD value refused');
        }
      }
    }
  }

  /** Publishes the changes in `batch` as one DDATA per device. */
  update(batch: SampleBatch): void {
    if (!this.#born || this.#silent || this.#client?.connected !== true) return;
    const perDevice = new Map<string, UMetric[]>();
    let latest = 0;
    for (let i = 0; i < batch.length; i++) {
      const m = this.#bySignal.get(batch.signals[i] as string);
      if (m === undefined) continue;
      const ts = batch.ts[i] as number;
      if (ts > latest) latest = ts;
      let list = perDevice.get(m.device);
      if (list === undefined) {
        list = [];
        perDevice.set(m.device, list);
      }
      list.push({ alias: m.alias, type: m.type, value: batch.num[i] as number, timestamp: ts });
    }
    for (const [device, metrics] of perDevice) {
      this.#publish(this.topic('DDATA', device), { timestamp: latest, seq: this.#nextSeq(), metrics });
    }
    // Node metrics by exception (Sparkplug 3.0 §6.4.8 NDATA): only when the uptime changed.
    const now = this.#opts.now();
    const uptimeS = this.#uptimeAt(now);
    if (uptimeS !== this.#uptimeS) {
      this.#uptimeS = uptimeS;
      const at = this.#startedAt + uptimeS * 1000;
      this.#publish(this.topic('NDATA'), {
        timestamp: at,
        seq: this.#nextSeq(),
        metrics: [{ alias: UPTIME_ALIAS, type: 'UInt64', value: uptimeS, timestamp: at }],
      });
    }
  }

  /** Publishes `count` payloads that are not valid Sparkplug protobuf on a device's DDATA topic. */
  publishMalformed(count: number, device?: string): void {
    const d = device ?? this.#devices[0];
    for (let i = 0; i < count; i++) {
      this.#client?.publish(
        this.topic('DDATA', d),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, i & 0xff]),
        {
          qos: 0,
        },
      );
    }
  }

  /** Stops publishing (data and births) without NDEATH, keeping the connection, until resumed. */
  setSilent(silent: boolean): void {
    this.#silent = silent;
  }

  /** Drops the connection without DISCONNECT, so the broker publishes the NDEATH will. */
  drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.end(true);
    // `end(true)` does not fire 'close' with #born handling reliably on every path.
    if (this.#born) {
      this.#born = false;
      this.#bdSeq = (this.#bdSeq + 1) % 256;
    }
  }

  /** Reconnects after {@link SparkplugEdgeNode.drop}, with a new bdSeq and fresh births. */
  async reconnect(): Promise<void> {
    if (this.#stopped || this.#client !== undefined) return;
    await this.#connect();
  }

  /** Publishes NDEATH, disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (client.connected) {
      // A clean DISCONNECT suppresses the will, so send NDEATH ourselves (Sparkplug 3.0 §7.1.2).
      await new Promise<void>((resolve) => {
        client.publish(this.topic('NDEATH'), this.#deathPayload(), { qos: 1 }, () => resolve());
      });
    }
    this.#born = false;
    await client.endAsync();
  }
}
