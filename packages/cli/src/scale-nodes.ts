// `gemba gateway|engine|api`: the scaled-out processes (registered in commands/scale.ts).
import { hostname } from 'node:os';
import { type Gateway, type SourceOverride, startGateway } from '@gemba/connect';
import {
  type Clock,
  GembaError,
  type Historian,
  type Logger,
  type Model,
  RealClock,
  subjectForPath,
} from '@gemba/core';
import { createEngine } from '@gemba/engine';
import { type HistorianWriter, openHistorian, startHistorianWriter } from '@gemba/historian';
import {
  connectNats,
  JetStreamBus,
  KvTwinMirror,
  KvTwinStore,
  type LineConsumers,
  lineDurable,
  restorePoint,
  startLineConsumers,
} from '@gemba/nats';
import {
  adaptEngine,
  createServer,
  entryKey,
  type GembaRuntime,
  generateToken,
  type TwinEntry,
} from '@gemba/server';

/** A running scaled-out process. */
export interface ScaleNode {
  stop(): Promise<void>;
}

function servers(busUrl: string): string[] {
  const list = busUrl.split(',').map((s) => s.trim());
  for (const s of list) {
    if (!/^nats:\/\//.test(s))
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `--bus '${s}' is not a nats:// URL`);
  }
  return list;
}

/** The key path a twin entry is stored under (alarms apart by id). */
function twinKeyPath(e: TwinEntry): string {
  return e.kind === 'alarm' ? `${e.path}/${e.alarm.id.replace(/[^A-Za-z0-9_-]/g, '_')}` : e.path;
}

/** Options of {@link startGatewayNode}. */
export interface GatewayNodeOptions {
  model: Model;
  /** NATS URL(s), comma-separated. */
  busUrl: string;
  dataDir: string;
  sources?: string[];
  /** Connection fields per source id (e.g. the plant emulator's `sourceOverrides()`). */
  overrides?: Record<string, SourceOverride>;
  logger: Logger;
  clock?: Clock;
}

/**
 * `gemba gateway`: the model's drivers and edge stage publishing to JetStream, with the
 * store-and-forward buffer taking over while NATS is away.
 */
export async function startGatewayNode(o: GatewayNodeOptions): Promise<ScaleNode> {
  const clock = o.clock ?? new RealClock();
  // Fail a publish before the buffer's own timeout (5 s), so the buffer keeps the batch.
  const bus = await JetStreamBus.connect(
    { servers: servers(o.busUrl), name: `gemba-gateway-${hostname()}` },
    { logger: o.logger, publishTimeoutMs: 3_000, ackTimeoutMs: 2_000 },
  );
  let gw: Gateway;
  try {
    gw = await startGateway({
      model: o.model,
      bus,
      logger: o.logger,
      clock,
      dataDir: o.dataDir,
      ...(o.sources === undefined ? {} : { sources: o.sources }),
      ...(o.overrides === undefined ? {} : { overrides: o.overrides }),
    });
  } catch (err: unknown) {
    await bus.close();
    throw err;
  }
  return {
    stop: async () => {
      await gw.stop();
      await bus.close();
    },
  };
}

/** Options of {@link startEngineNode}. */
export interface EngineNodeOptions {
  model: Model;
  busUrl: string;
  /** `postgres://…` (or a folder for an embedded historian, for trials). */
  historianUrl: string;
  /** PostgreSQL schema of the historian (default `gemba`). */
  historianSchema?: string;
  /** This process's id in the engine group; default `engine-<host>-<pid>`. */
  member?: string;
  /** Lease time, ms: a dead engine's lines move after about this long. Default 5 000. */
  leaseMs?: number;
  /** How often twin changes are written to the KV bucket, ms. Default 250. */
  twinFlushMs?: number;
  logger: Logger;
  clock?: Clock;
}

/**
 * `gemba engine`: one member of the engine group. The lines of the model are spread over the
 * members with leases; for each line it owns, the process runs the engine's consumer and the
 * historian writer of that line, and it writes the live twin's changes to the KV bucket.
 */
export async function startEngineNode(o: EngineNodeOptions): Promise<ScaleNode & { owned(): string[] }> {
  const clock = o.clock ?? new RealClock();
  const log = o.logger;
  const bus = await JetStreamBus.connect(
    { servers: servers(o.busUrl), name: `gemba-engine-${hostname()}-${process.pid}` },
    { logger: log },
  );
  let historian: Historian | undefined;
  try {
    historian = await openHistorian(o.historianUrl, {
      logger: log,
      ...(o.historianSchema === undefined ? {} : { schema: o.historianSchema }),
    });
    const engine = createEngine({ model: o.model, clock, logger: log, historian });
    const adapter = adaptEngine({ engine, model: o.model, clock });
    const twin = await KvTwinStore.open<TwinEntry>(bus.connection, { logger: log });
    // Conflate the twin's changes and write them in rounds: the bucket holds the current state,
    // not every intermediate value.
    let pending = new Map<string, TwinEntry>();
    // Only the lines this node owns go to the bucket: the adapter publishes KPIs of every line
    // of the model, and another node's line here holds no data (or what it held before it moved).
    const owned = new Set<string>();
    const linePaths = o.model.lines.map((l) => l.path);
    const ownedPath = (path: string): boolean => {
      const line = linePaths.find((l) => path === l || path.startsWith(`${l}/`));
      return line === undefined || owned.has(line);
    };
    const offTwin = adapter.twin.subscribe((changes) => {
      for (const c of changes) if (ownedPath(c.path)) pending.set(entryKey(c), c);
    });
    let flushing: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> => {
      if (pending.size === 0) return flushing;
      const batch = [...pending.values()];
      pending = new Map();
      flushing = flushing
        .then(async () => {
          const t = performance.now();
          await twin.putMany(batch, twinKeyPath);
          const ms = performance.now() - t;
          if (ms > 500) log.warn({ entries: batch.length, ms: Math.round(ms) }, 'slow twin write');
        })
        .catch((err: unknown) => log.warn({ err }, 'twin write failed; the next change rewrites it'));
      return flushing;
    };
    const flushTimer = setInterval(() => void flush(), o.twinFlushMs ?? 250);
    const writers = new Map<string, HistorianWriter>();
    const h = historian;
    const group: LineConsumers = await startLineConsumers({
      bus,
      lines: o.model.lines.map((l) => l.path),
      member: o.member ?? `engine-${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${process.pid}`,
      logger: log,
      ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
      handler: () => (m) => {
        engine.ingest(m.batch);
        m.ack();
      },
      onAcquired: async (line) => {
        owned.add(line);
        writers.set(
          line,
          await startHistorianWriter({
            bus,
            historian: h,
            durable: lineDurable('historian', line),
            filter: subjectForPath(line),
            // What a dead engine's writer held comes back after this, to the line's new owner.
            ackWaitMs: 5_000,
            logger: log,
            clock,
          }),
        );
        // Warm start (issue 9): the line as of the stream position up to which the historian
        // holds every message (its writer's ack floor), then the line's consumer replays the
        // stream from the next message. The engine so takes in the same samples, in the same
        // order, as if it had owned the line all along: whatever the previous owner took in,
        // acknowledged or wrote (its state events are derived again), and however far ahead
        // of the engine's position the historian writer was.
        const point = await restorePoint(bus, subjectForPath(line), lineDurable('historian', line));
        const restored = await engine.restore({ line, asOfMs: point.asOfMs });
        log.info(
          {
            line,
            seq: point.seq,
            asOfMs: Number.isFinite(point.asOfMs) ? point.asOfMs : undefined,
            ...restored,
          },
          'line restored from the historian',
        );
        return { fromSeq: point.seq + 1 };
      },
      onReleased: async (line) => {
        owned.delete(line);
        const w = writers.get(line);
        writers.delete(line);
        await w?.stop();
      },
    });
    log.info({ lines: o.model.lines.length }, 'engine node started');
    return {
      owned: () => group.owned(),
      stop: async () => {
        await group.stop();
        for (const w of writers.values()) await w.stop();
        offTwin();
        clearInterval(flushTimer);
        await flush();
        adapter.stop();
        await engine.stop();
        await bus.close();
        await h.close();
      },
    };
  } catch (err: unknown) {
    await bus.close();
    await historian?.close();
    throw err;
  }
}

/** Options of {@link startApiNode}. */
export interface ApiNodeOptions {
  model: Model;
  busUrl: string;
  historianUrl: string;
  /** PostgreSQL schema of the historian (default `gemba`). */
  historianSchema?: string;
  host: string;
  port: number;
  /** Admin bearer token; default a new random one (printed). */
  token?: string;
  webRoot?: string;
  logger: Logger;
  clock?: Clock;
}

/**
 * `gemba api`: a stateless API node: the live twin from the KV bucket (mirrored in memory),
 * history from the historian. Run any number behind a load balancer.
 */
export async function startApiNode(o: ApiNodeOptions): Promise<ScaleNode & { url: string; token: string }> {
  const clock = o.clock ?? new RealClock();
  const nc = await connectNats({
    servers: servers(o.busUrl),
    name: `gemba-api-${hostname()}-${process.pid}`,
  });
  let historian: Historian | undefined;
  let mirror: KvTwinMirror<TwinEntry> | undefined;
  try {
    const store = await KvTwinStore.open<TwinEntry>(nc, { logger: o.logger });
    mirror = await KvTwinMirror.start(store, { logger: o.logger });
    historian = await openHistorian(o.historianUrl, {
      logger: o.logger,
      ...(o.historianSchema === undefined ? {} : { schema: o.historianSchema }),
    });
    const runtime: GembaRuntime = { model: o.model, clock, twin: mirror, historian };
    const token = o.token ?? generateToken();
    const app = await createServer({
      runtime,
      logger: o.logger,
      auth: { tokens: [{ token, role: 'admin', name: 'api-admin' }] },
      ...(o.webRoot === undefined ? {} : { webRoot: o.webRoot }),
    });
    const url = await app.listen({ host: o.host, port: o.port });
    const m = mirror;
    const h = historian;
    return {
      url,
      token,
      stop: async () => {
        await app.close();
        m.stop();
        await h.close();
        await nc.close();
      },
    };
  } catch (err: unknown) {
    mirror?.stop();
    await historian?.close();
    await nc.close();
    throw err;
  }
}
