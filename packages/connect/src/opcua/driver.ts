import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clock,
  type Logger,
  type OpcuaSourceDef,
  type ResolvedBinding,
  SampleBatchBuilder,
  type SampleValue,
  type TimerHandle,
} from '@gemba/core';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  type ClientSession,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  type DataValue,
  DeadbandType,
  type MonitoringParametersOptions,
  OPCUAClient,
  type ReadValueIdOptions,
  TimestampsToReturn,
} from 'node-opcua-client';
import { BaseSource } from '../source/base-source.ts';
import { opcuaClientOptions, userIdentity } from './config.ts';
import { qualityOf, sampleValueOf } from './values.ts';

/** Options of {@link OpcuaSource}. */
export interface OpcuaSourceOptions {
  logger: Logger;
  clock: Clock;
  /** Folder for driver state; certificates go to `<dataDir>/pki` unless the source names `pkiDir`. */
  dataDir?: string | undefined;
}

interface Item {
  signal: string;
  nodeId: string;
  samplingIntervalMs: number;
  queueSize: number;
  deadbandAbs: number | undefined;
}

/**
 * OPC UA client source (node-opcua): one session, one subscription, monitored items for the
 * bindings (sampling interval, queue size, absolute deadband as a server-side data change
 * filter), source timestamps kept (server time, then receive time, as fallbacks), status
 * codes mapped to quality. On a lost connection every signal goes bad; node-opcua reconnects
 * with backoff and restores (or recreates) the session and its subscription, after which the
 * monitored items deliver current values again. Writes read the variable's data type once.
 */
export class OpcuaSource extends BaseSource {
  readonly #def: OpcuaSourceDef;
  readonly #items: Item[];
  readonly #pkiDir: string;
  readonly #dataTypes = new Map<string, DataType>();
  #client: OPCUAClient | undefined;
  #session: ClientSession | undefined;
  #subscription: ClientSubscription | undefined;
  #running = false;
  #pending: SampleBatchBuilder | undefined;
  #retryTimer: TimerHandle | undefined;
  /** Values and notifications received since start. */
  readonly counters = { values: 0, reconnects: 0 };

  constructor(def: OpcuaSourceDef, bindings: readonly ResolvedBinding[], options: OpcuaSourceOptions) {
    super(def.id, options.clock, options.logger.child({ component: 'connect.opcua', source: def.id }));
    this.#def = def;
    this.#pkiDir = def.pkiDir ?? join(options.dataDir ?? join(tmpdir(), 'gemba'), 'pki');
    this.#items = (bindings as (OpcuaSourceDef['bindings'][number] & ResolvedBinding)[]).map((b) => ({
      signal: b.signalPath,
      nodeId: b.nodeId,
      samplingIntervalMs: b.samplingIntervalMs ?? def.samplingIntervalMs,
      queueSize: b.queueSize ?? 10,
      deadbandAbs: b.edge?.deadband?.absolute,
    }));
  }

  get signals(): readonly string[] {
    return this.#items.map((i) => i.signal);
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.emitStatus('connecting', `connecting to ${this.#def.endpoint}`);
    void this.#run();
  }

  async #run(): Promise<void> {
    const endpoint = this.#def.endpoint;
    try {
      const opts = await opcuaClientOptions({
        securityMode: this.#def.securityMode,
        securityPolicy: this.#def.securityPolicy,
        pkiDir: this.#pkiDir,
        acceptUnknownCertificate: this.#def.acceptUnknownCertificate,
      });
      if (!this.#running) return;
      const client = OPCUAClient.create(opts);
      this.#client = client;
      client.on('backoff', (retry: number, delay: number) => {
        if (this.state !== 'disconnected') {
          this.emitStatus(
            'disconnected',
            `cannot reach ${endpoint}; retrying (attempt ${retry}, next in ${delay} ms)`,
          );
        }
      });
      client.on('connection_lost', () => {
        if (!this.#running) return;
        this.counters.reconnects++;
        this.emitBad(this.signals);
        this.emitStatus('disconnected', `connection to ${endpoint} lost; reconnecting`);
      });
      client.on('after_reconnection', () => {
        if (this.#running) this.emitStatus('connected', `reconnected to ${endpoint}`);
      });
      await client.connect(endpoint);
      if (!this.#running) return;
      const password = this.#def.passwordEnv === undefined ? undefined : process.env[this.#def.passwordEnv];
      const session = await client.createSession(
        userIdentity({ username: this.#def.username, password, pkiDir: this.#pkiDir }),
      );
      this.#session = session;
      if (!this.#running) return;
      session.on('session_restored', () => {
        if (this.#running) this.emitStatus('connected', `session with ${endpoint} restored`);
      });
      await this.#subscribe(session);
      this.emitStatus('connected', `connected to ${endpoint}, ${this.#items.length} monitored items`);
    } catch (err: unknown) {
      // node-opcua retries the first connection itself forever (maxRetry -1); an error here is
      // a session, security or certificate problem: report it, every signal stays bad.
      if (!this.#running) return;
      const msg = err instanceof Error ? err.message : String(err);
      this.log.warn({ endpoint, err }, 'OPC UA session failed');
      this.emitBad(this.signals);
      this.emitStatus('disconnected', `${endpoint}: ${msg.split('\n')[0]}`);
      this.#retryTimer = this.clock.setTimeout(() => {
        this.#retryTimer = undefined;
        if (this.#running) void this.#restart();
      }, 5_000);
    }
  }

  async #restart(): Promise<void> {
    await this.#teardown();
    if (this.#running) void this.#run();
  }

  async #subscribe(session: ClientSession): Promise<void> {
    const minInterval = Math.min(
      ...this.#items.map((i) => i.samplingIntervalMs),
      this.#def.samplingIntervalMs,
    );
    const sub = ClientSubscription.create(session, {
      requestedPublishingInterval: Math.max(50, minInterval),
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.#subscription = sub;
    // Items with the same parameters share a group (one CreateMonitoredItems call each).
    const groups = new Map<string, Item[]>();
    for (const it of this.#items) {
      const k = `${it.samplingIntervalMs}|${it.queueSize}|${it.deadbandAbs ?? ''}`;
      const list = groups.get(k) ?? [];
      list.push(it);
      groups.set(k, list);
    }
    for (const items of groups.values()) {
      const first = items[0] as Item;
      const params: MonitoringParametersOptions = {
        samplingInterval: first.samplingIntervalMs,
        queueSize: first.queueSize,
        discardOldest: true,
      };
      if (first.deadbandAbs !== undefined) {
        params.filter = new DataChangeFilter({
          trigger: DataChangeTrigger.StatusValue,
          deadbandType: DeadbandType.Absolute,
          deadbandValue: first.deadbandAbs,
        });
      }
      const toMonitor: ReadValueIdOptions[] = items.map((i) => ({
        nodeId: i.nodeId,
        attributeId: AttributeIds.Value,
      }));
      const group = ClientMonitoredItemGroup.create(sub, toMonitor, params, TimestampsToReturn.Both);
      group.on('changed', (_mi, dv: DataValue, index: number) => {
        const it = items[index];
        if (it !== undefined) this.#onValue(it, dv);
      });
      await new Promise<void>((resolve, reject) => {
        group.once('initialized', () => resolve());
        group.once('err', (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
      });
      // Items the server refused (unknown node id ...) are reported, once, by name.
      group.monitoredItems.forEach((mi, i) => {
        const code = mi.statusCode;
        const it = items[i];
        if (it !== undefined && code !== undefined && qualityOf(code.value) === 'bad') {
          this.emitStatus(
            this.state,
            `${this.#def.endpoint} node ${it.nodeId} (${it.signal}): ${code.name}`,
            'monitor-failed',
            {
              nodeId: it.nodeId,
              signal: it.signal,
            },
          );
        }
      });
    }
  }

  #onValue(it: Item, dv: DataValue): void {
    if (!this.#running) return;
    this.counters.values++;
    const ts = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? this.clock.now();
    let quality = qualityOf(dv.statusCode.value);
    const variant = dv.value;
    let value: SampleValue | undefined = sampleValueOf(
      variant?.value,
      variant === undefined ? undefined : DataType[variant.dataType],
    );
    if (value === undefined) {
      if (quality !== 'bad') {
        this.emitStatus(
          this.state,
          `${this.#def.endpoint} node ${it.nodeId} (${it.signal}): value of type ${variant === undefined ? 'none' : DataType[variant.dataType]} is not a number, boolean or string`,
          'wrong-type',
          { nodeId: it.nodeId, signal: it.signal },
        );
      }
      value = Number.NaN;
      quality = 'bad';
    }
    // Notifications of one publish response arrive in one tick: batch them.
    if (this.#pending === undefined) {
      this.#pending = new SampleBatchBuilder(64);
      setImmediate(() => {
        const b = this.#pending;
        this.#pending = undefined;
        if (b !== undefined && this.#running) this.emitBatch(b.build());
      });
    }
    this.#pending.push(it.signal, ts, value, quality);
  }

  async #teardown(): Promise<void> {
    const client = this.#client;
    const session = this.#session;
    const sub = this.#subscription;
    this.#client = undefined;
    this.#session = undefined;
    this.#subscription = undefined;
    try {
      // While the server is away these would wait for it: bound them.
      if (sub !== undefined) await bounded(sub.terminate(), 2000);
      if (session !== undefined) await bounded(session.close(), 2000);
    } finally {
      if (client !== undefined) await bounded(client.disconnect(), 5000);
    }
  }

  async stop(): Promise<void> {
    if (!this.#running && this.state === 'stopped') return;
    this.#running = false;
    if (this.#retryTimer !== undefined) this.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#teardown();
    this.#pending = undefined;
    this.emitStatus('stopped', 'stopped');
  }

  /**
   * Writes the Value attribute of the signal's node, in the variable's own data type.
   * @throws GembaError GEMBA_CONNECT_WRITE when the signal is not bound here, there is no
   *   session, or the server refuses (the status code is in the message).
   */
  async write(signal: string, value: SampleValue): Promise<void> {
    const it = this.#items.find((i) => i.signal === signal);
    if (it === undefined) throw this.notWritable(signal, 'not bound to this source');
    const session = this.#session;
    if (session === undefined) throw this.notWritable(signal, `no session with ${this.#def.endpoint}`);
    let dataType = this.#dataTypes.get(it.nodeId);
    if (dataType === undefined) {
      const dv = await session.read({ nodeId: it.nodeId, attributeId: AttributeIds.Value });
      dataType = dv.value.dataType;
      if (dataType === DataType.Null)
        throw this.notWritable(signal, `node ${it.nodeId}: ${dv.statusCode.name}`);
      this.#dataTypes.set(it.nodeId, dataType);
    }
    const v =
      dataType === DataType.Boolean
        ? Boolean(value)
        : dataType === DataType.String
          ? String(value)
          : Number(value);
    const status = await session.write({
      nodeId: it.nodeId,
      attributeId: AttributeIds.Value,
      value: { value: { dataType, value: v } },
    });
    if (qualityOf(status.value) !== 'good') {
      throw this.notWritable(
        signal,
        `${this.#def.endpoint} node ${it.nodeId} refused the write: ${status.name}`,
      );
    }
  }
}

/** Waits for `p` at most `ms`; failures and timeouts are ignored (used on shutdown only). */
function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}
