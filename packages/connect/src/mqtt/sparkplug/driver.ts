import {
  type Clock,
  type Logger,
  type ResolvedBinding,
  SampleBatchBuilder,
  type SampleValue,
  type SparkplugSourceDef,
} from '@gemba/core';
import type mqtt from 'mqtt';
import { BaseSource } from '../../source/base-source.ts';
import { connectMqtt, mqttOptions, RefusalOnce } from '../connection.ts';
import { type DecodedPayload, decodeSparkplug, encodeSparkplug, inferType } from './codec.ts';

/** Options of {@link SparkplugHostSource}. */
export interface SparkplugSourceOptions {
  logger: Logger;
  clock: Clock;
  /** Least time between two rebirth requests to one edge node, ms (default 2 000). */
  rebirthIntervalMs?: number;
}

interface NodeState {
  born: boolean;
  bdSeq: number | undefined;
  lastSeq: number | undefined;
  /** alias → metric key `device/metric` (device '' for node metrics); aliases are unique per node. */
  aliases: Map<number, string>;
  /** metric key → Sparkplug type from the births, for writes. */
  types: Map<string, string>;
  lastRebirthAt: number;
}

const NS = 'spBv1.0';

/**
 * A Sparkplug B host application (Sparkplug 3.0): subscribes to its group, publishes its
 * STATE (`spBv1.0/STATE/<hostId>`, retained, with an offline will; §5.18), learns metric
 * names, aliases and types from NBIRTH/DBIRTH, maps bound metrics to signals, tracks each
 * edge node's `seq` (0..255) and asks for a rebirth (NCMD `Node Control/Rebirth`) on a gap
 * or on data before a birth, marks every bound metric of a node (NDEATH with the birth's
 * `bdSeq`) or device (DDEATH) bad, and writes via NCMD/DCMD. Malformed payloads are
 * reported with their topic and dropped. On (re)connect it asks every bound edge node for a
 * rebirth, since births are not retained.
 */
export class SparkplugHostSource extends BaseSource {
  readonly #def: SparkplugSourceDef;
  /** `edgeNode/device/metric` → signal path. */
  readonly #signalOf = new Map<string, string>();
  /** signal → binding. */
  readonly #bindingOf = new Map<string, { edgeNode: string; device: string; metric: string }>();
  readonly #nodes = new Map<string, NodeState>();
  readonly #rebirthIntervalMs: number;
  #client: mqtt.MqttClient | undefined;
  /** The broker's last refusal of our CONNECT, reported once. */
  readonly #refusals = new RefusalOnce();
  /** Messages and metrics decoded since start. */
  readonly counters = { messages: 0, metrics: 0, malformed: 0, gaps: 0, rebirths: 0 };

  constructor(
    def: SparkplugSourceDef,
    bindings: readonly ResolvedBinding[],
    options: SparkplugSourceOptions,
  ) {
    super(def.id, options.clock, options.logger.child({ component: 'connect.sparkplug', source: def.id }));
    this.#def = def;
    this.#rebirthIntervalMs = options.rebirthIntervalMs ?? 2000;
    for (const b of bindings as (SparkplugSourceDef['bindings'][number] & ResolvedBinding)[]) {
      const device = b.device ?? '';
      this.#signalOf.set(`${b.edgeNode}/${device}/${b.metric}`, b.signalPath);
      this.#bindingOf.set(b.signalPath, { edgeNode: b.edgeNode, device, metric: b.metric });
    }
  }

  get signals(): readonly string[] {
    return [...this.#bindingOf.keys()];
  }

  #stateTopic(): string {
    return `${NS}/STATE/${this.#def.hostId}`;
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    this.emitStatus('connecting', `connecting to ${this.#def.url}`);
    const offline = Buffer.from(JSON.stringify({ online: false, timestamp: this.clock.now() }));
    let options: ReturnType<typeof mqttOptions>;
    try {
      options = mqttOptions(this.#def, {
        will: { topic: this.#stateTopic(), payload: offline, qos: 1, retain: true },
      });
    } catch (err: unknown) {
      // A broken TLS file: reported, every signal stays bad; a driver never throws into the pipeline.
      this.emitBad(this.signals);
      this.emitStatus('disconnected', err instanceof Error ? err.message : String(err));
      return;
    }
    const client = connectMqtt(this.#def.url, options);
    this.#client = client;
    const filter = `${NS}/${this.#def.groupId}/#`;
    client.on('connect', () => {
      this.#refusals.reset();
      // QoS 1: what edge nodes publish at QoS 1 is not dropped by the broker when the host lags.
      client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) {
          this.emitStatus('degraded', `subscribing to ${filter} at ${this.#def.url} failed: ${err.message}`);
          return;
        }
        // Sparkplug 3.0 §5.18: the host publishes STATE online (retained) after subscribing.
        client.publish(
          this.#stateTopic(),
          JSON.stringify({ online: true, timestamp: this.clock.now() }),
          { qos: 1, retain: true },
          () => {},
        );
        this.emitStatus('connected', `connected to ${this.#def.url}, subscribed to ${filter}`);
        for (const edgeNode of new Set([...this.#bindingOf.values()].map((b) => b.edgeNode))) {
          this.#requestRebirth(edgeNode, 'host (re)connected', true);
        }
      });
    });
    client.on('close', () => {
      if (this.#client === undefined || this.state === 'disconnected') return;
      for (const n of this.#nodes.values()) n.born = false;
      this.emitBad(this.signals);
      this.emitStatus('disconnected', `connection to ${this.#def.url} closed; reconnecting every second`);
    });
    client.on('error', (err) => {
      // A refused CONNECT (credentials, authorisation) is reported once per distinct reason.
      const refused = this.#refusals.take(err);
      if (refused === undefined) this.log.debug({ err }, 'mqtt error');
      else this.peerRefused(this.#def.url, refused, 'retrying every second');
    });
    client.on('message', (topic, payload) => this.handleMessage(topic, payload));
  }

  #node(edgeNode: string): NodeState {
    let n = this.#nodes.get(edgeNode);
    if (n === undefined) {
      n = {
        born: false,
        bdSeq: undefined,
        lastSeq: undefined,
        aliases: new Map(),
        types: new Map(),
        lastRebirthAt: Number.NEGATIVE_INFINITY,
      };
      this.#nodes.set(edgeNode, n);
    }
    return n;
  }

  #bound(edgeNode: string): boolean {
    for (const b of this.#bindingOf.values()) if (b.edgeNode === edgeNode) return true;
    return false;
  }

  /**
   * Handles one message from the broker: topic `spBv1.0/<group>/<type>/<edgeNode>[/<device>]`.
   * Public so that tests and fuzzing can drive the decoder without a broker; never throws.
   */
  handleMessage(topic: string, payload: Uint8Array): void {
    const parts = topic.split('/');
    if (parts[0] !== NS || parts[1] !== this.#def.groupId || parts.length < 4) return;
    const type = parts[2] as string;
    const edgeNode = parts[3] as string;
    const device = parts[4] ?? '';
    if (type === 'NCMD' || type === 'DCMD' || !this.#bound(edgeNode)) return;
    this.counters.messages++;
    let p: DecodedPayload;
    try {
      p = decodeSparkplug(payload);
    } catch (err: unknown) {
      this.counters.malformed++;
      this.emitStatus(
        this.state,
        `topic ${topic}: malformed Sparkplug payload (${payload.length} bytes): ${err instanceof Error ? err.message : String(err)}`,
        'malformed-payload',
        { topic },
      );
      return;
    }
    const node = this.#node(edgeNode);
    switch (type) {
      case 'NBIRTH': {
        node.born = true;
        node.lastSeq = p.seq;
        node.aliases.clear();
        node.types.clear();
        node.bdSeq = p.metrics.find((m) => m.name === 'bdSeq')?.value as number | undefined;
        this.#learn(node, '', p);
        this.#emit(topic, edgeNode, '', p, node);
        return;
      }
      case 'NDEATH': {
        const bd = p.metrics.find((m) => m.name === 'bdSeq')?.value;
        // A death whose bdSeq is not the current session's is stale (Sparkplug 3.0 §6.4.2).
        if (node.bdSeq !== undefined && bd !== undefined && bd !== node.bdSeq) return;
        node.born = false;
        node.lastSeq = undefined;
        this.#markBad(edgeNode, undefined);
        this.emitStatus(
          'degraded',
          `topic ${topic}: edge node ${this.#def.groupId}/${edgeNode} died (NDEATH)`,
          'node-death',
          {
            edgeNode,
          },
        );
        return;
      }
      case 'DBIRTH':
      case 'NDATA':
      case 'DDATA':
      case 'DDEATH': {
        if (!node.born) {
          this.#requestRebirth(edgeNode, `${type} on ${topic} before an NBIRTH`);
          return;
        }
        this.#checkSeq(topic, edgeNode, node, p.seq);
        if (type === 'DBIRTH') {
          this.#learn(node, device, p);
          this.#emit(topic, edgeNode, device, p, node);
        } else if (type === 'DDEATH') {
          this.#markBad(edgeNode, device);
          this.emitStatus(
            this.state,
            `topic ${topic}: device ${this.#def.groupId}/${edgeNode}/${device} died (DDEATH)`,
            'device-death',
            { edgeNode, device },
          );
        } else {
          this.#emit(topic, edgeNode, type === 'NDATA' ? '' : device, p, node);
        }
        if (this.state === 'degraded' && type !== 'DDEATH')
          this.emitStatus('connected', `edge node ${edgeNode} is back`);
        return;
      }
      default:
        return;
    }
  }

  #learn(node: NodeState, device: string, p: DecodedPayload): void {
    for (const m of p.metrics) {
      if (m.name === undefined) continue;
      const key = `${device}/${m.name}`;
      if (m.alias !== undefined) node.aliases.set(m.alias, key);
      if (m.type !== undefined) node.types.set(key, m.type);
    }
  }

  #checkSeq(topic: string, edgeNode: string, node: NodeState, seq: number | undefined): void {
    if (seq === undefined) return;
    const expected = node.lastSeq === undefined ? seq : (node.lastSeq + 1) % 256;
    node.lastSeq = seq;
    if (seq !== expected) {
      this.counters.gaps++;
      this.emitStatus(
        this.state,
        `topic ${topic}: sequence gap, expected seq ${expected}, got ${seq}`,
        'sequence-gap',
        { topic, expected, got: seq },
      );
      this.#requestRebirth(edgeNode, `sequence gap (expected ${expected}, got ${seq})`);
    }
  }

  #emit(topic: string, edgeNode: string, device: string, p: DecodedPayload, node: NodeState): void {
    const now = this.clock.now();
    const out = new SampleBatchBuilder(p.metrics.length);
    for (const m of p.metrics) {
      const key =
        m.name !== undefined
          ? `${device}/${m.name}`
          : m.alias !== undefined
            ? node.aliases.get(m.alias)
            : undefined;
      if (key === undefined) {
        this.emitStatus(
          this.state,
          `topic ${topic}: metric alias ${m.alias} unknown (no birth declared it)`,
          'unknown-alias',
          {
            topic,
            alias: m.alias,
          },
        );
        continue;
      }
      const signal = this.#signalOf.get(`${edgeNode}/${key}`);
      if (signal === undefined) continue;
      this.counters.metrics++;
      const ts = m.timestamp ?? p.timestamp ?? now;
      if (m.isNull) out.pushNumber(signal, ts, Number.NaN, 'bad');
      else if (m.value === undefined) {
        out.pushNumber(signal, ts, Number.NaN, 'bad');
        this.emitStatus(
          this.state,
          `topic ${topic}: metric ${key} has type ${m.type}, not a number, boolean or string`,
          'wrong-type',
          {
            topic,
            metric: key,
          },
        );
      } else out.push(signal, ts, m.value, 'good');
    }
    this.emitBatch(out.build());
  }

  #markBad(edgeNode: string, device: string | undefined): void {
    const paths: string[] = [];
    for (const [signal, b] of this.#bindingOf) {
      if (b.edgeNode === edgeNode && (device === undefined || b.device === device)) paths.push(signal);
    }
    this.emitBad(paths);
  }

  #requestRebirth(edgeNode: string, why: string, force = false): void {
    const node = this.#node(edgeNode);
    const now = this.clock.now();
    // Requests after a gap or early data are rate-limited per node; the one on (re)connect is not
    // and does not count, so a gap right after connecting still gets its rebirth.
    if (!force) {
      if (now - node.lastRebirthAt < this.#rebirthIntervalMs) return;
      node.lastRebirthAt = now;
    }
    const client = this.#client;
    if (client === undefined || !client.connected) return;
    this.counters.rebirths++;
    this.log.info({ edgeNode, why }, 'requesting rebirth');
    const payload = encodeSparkplug({
      timestamp: now,
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
    client.publish(`${NS}/${this.#def.groupId}/NCMD/${edgeNode}`, Buffer.from(payload), { qos: 0 }, () => {});
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (client === undefined && this.state === 'stopped') return;
    this.#client = undefined;
    if (client !== undefined) {
      // A clean goodbye: STATE offline (retained), then disconnect (no will).
      if (client.connected) {
        await client
          .publishAsync(this.#stateTopic(), JSON.stringify({ online: false, timestamp: this.clock.now() }), {
            qos: 1,
            retain: true,
          })
          .catch(() => undefined);
      }
      await client.endAsync(true);
    }
    this.emitStatus('stopped', 'stopped');
  }

  /**
   * Writes a metric via NCMD (node metric) or DCMD (device metric), typed as its birth said.
   * @throws GembaError GEMBA_CONNECT_WRITE when the signal is not bound here or the broker
   *   is not reachable.
   */
  async write(signal: string, value: SampleValue): Promise<void> {
    const b = this.#bindingOf.get(signal);
    if (b === undefined) throw this.notWritable(signal, 'not bound to this source');
    const client = this.#client;
    if (client === undefined || !client.connected)
      throw this.notWritable(signal, `not connected to ${this.#def.url}`);
    const type = (this.#nodes.get(b.edgeNode)?.types.get(`${b.device}/${b.metric}`) ??
      inferType(value)) as 'Double';
    const payload = encodeSparkplug({
      timestamp: this.clock.now(),
      metrics: [{ name: b.metric, type, value: value as number }],
    });
    const topic =
      b.device === ''
        ? `${NS}/${this.#def.groupId}/NCMD/${b.edgeNode}`
        : `${NS}/${this.#def.groupId}/DCMD/${b.edgeNode}/${b.device}`;
    await client.publishAsync(topic, Buffer.from(payload), { qos: 0 });
  }
}
