import { join } from 'node:path';
import {
  type Bus,
  type Clock,
  GembaError,
  type Logger,
  type Model,
  type SampleBatch,
  SampleBatchBuilder,
  type SampleValue,
  type SourceState,
  type SourceStatus,
  subjectForPath,
  VALUE_KIND,
} from '@gemba/core';
import { StoreAndForward, type StoreAndForwardStats } from '../buffer/store-and-forward.ts';
import { EdgeStage } from '../edge/edge-stage.ts';
import { routeOpcuaLogs } from '../opcua/logs.ts';
import type { BaseSource } from '../source/base-source.ts';
import { createSource, type SourceOverride } from '../source/create-source.ts';

/** Least time between two reports of the same problem at the same place, ms. */
export const PROBLEM_REPEAT_MS = 10_000;

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  model: Model;
  bus: Bus;
  logger: Logger;
  clock: Clock;
  /** Folder for the store-and-forward buffer (`<dataDir>/buffer`) and driver state. */
  dataDir: string;
  /** Connection fields per source id, e.g. the plant emulator's `sourceOverrides()`. */
  overrides?: Record<string, SourceOverride>;
  /** Only these source ids (default every source of the model). */
  sources?: string[];
  /** Store-and-forward buffer size on disk, bytes (default 256 MiB). */
  bufferMaxBytes?: number;
  /** A publish not acknowledged within this time sends data to the buffer, ms (default 5 000). */
  publishTimeoutMs?: number;
}

/** What the gateway knows about one source. */
export interface SourceReport {
  id: string;
  protocol: string;
  state: SourceState;
  /** The last status reason (connection or problem). */
  reason?: string;
  /** The last problem reported (malformed payload, NaN register, sequence gap ...). */
  lastProblem?: SourceStatus;
  batches: number;
  samples: number;
  badSamples: number;
  /** Problems reported (by the driver or the edge stage). */
  problems: number;
  /** Samples removed by edge filters. */
  filtered: number;
}

/** The gateway's status: every source, and the store-and-forward buffer. */
export interface GatewayStatus {
  sources: SourceReport[];
  buffer: StoreAndForwardStats;
}

/** A running gateway. */
export interface Gateway {
  /** Current status of every source and the buffer. */
  status(): GatewayStatus;
  /**
   * Writes a setpoint to the peer that feeds `signalPath`.
   * @throws GembaError GEMBA_MODEL_UNKNOWN_SIGNAL, GEMBA_CONNECT_UNKNOWN_SOURCE, GEMBA_CONNECT_WRITE
   */
  write(signalPath: string, value: SampleValue): Promise<void>;
  /**
   * Registers a listener for source status events (state changes, and problems, each repeat of
   * the same problem at the same place at most once per {@link PROBLEM_REPEAT_MS}); returns a
   * function that removes it.
   */
  onStatus(listener: (status: SourceStatus) => void): () => void;
  /** Resolves once everything received so far is on the bus (or rejects after `timeoutMs`). */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops every source and the buffer (unacknowledged data stays on disk for the next start). */
  stop(): Promise<void>;
}

/**
 * Starts the connectivity layer for a model: one driver per source (from its definition and
 * bindings, with `overrides` applied), the edge stage, and publication of sample batches to
 * the bus on `subjectForPath(linePath)` (one subject per line; signals outside a line use
 * their asset's path), each with a `msgId`, through a store-and-forward buffer in
 * `<dataDir>/buffer`.
 *
 * @example
 * const gw = await startGateway({ model, bus, logger, clock, dataDir: '.gemba' });
 * console.log(gw.status());
 * await gw.stop();
 * @throws GembaError GEMBA_CONNECT_UNKNOWN_SOURCE for an unknown id in `sources`,
 *   GEMBA_CONNECT_BUFFER when the buffer folder cannot be opened.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { model, clock } = options;
  const log = options.logger.child({ component: 'connect.gateway' });
  const wanted = options.sources;
  if (wanted !== undefined) {
    for (const id of wanted) {
      if (!model.sources.some((s) => s.id === id)) {
        throw new GembaError('GEMBA_CONNECT_UNKNOWN_SOURCE', `no source '${id}' in model ${model.fileName}`, {
          details: { source: id },
        });
      }
    }
  }
  const defs = model.sources.filter((s) => wanted === undefined || wanted.includes(s.id));
  if (defs.some((d) => d.protocol === 'opcua')) routeOpcuaLogs(options.logger);
  const statusListeners = new Set<(s: SourceStatus) => void>();
  const reports = new Map<string, SourceReport>();
  // A problem repeating on every sample (clock skew, a NaN register) is counted every time but
  // reported at most once per `PROBLEM_REPEAT_MS` per source, kind and place.
  const lastProblemAt = new Map<string, number>();
  const emit = (s: SourceStatus): void => {
    if (s.problem !== undefined) {
      const where = String(s.details?.signal ?? s.details?.topic ?? s.details?.nodeId ?? s.reason ?? '');
      const key = `${s.source}|${s.problem}|${where}`;
      const last = lastProblemAt.get(key);
      if (last !== undefined && s.ts - last < PROBLEM_REPEAT_MS) return;
      if (lastProblemAt.size > 10_000) lastProblemAt.clear();
      lastProblemAt.set(key, s.ts);
      log.warn({ source: s.source, problem: s.problem, details: s.details }, s.reason ?? s.problem);
    }
    for (const l of statusListeners) {
      try {
        l(s);
      } catch (err: unknown) {
        log.error({ err }, 'status listener failed');
      }
    }
  };
  const buffer = new StoreAndForward({
    bus: options.bus,
    dir: join(options.dataDir, 'buffer'),
    clock,
    logger: options.logger,
    ...(options.bufferMaxBytes !== undefined ? { maxBytes: options.bufferMaxBytes } : {}),
    ...(options.publishTimeoutMs !== undefined ? { publishTimeoutMs: options.publishTimeoutMs } : {}),
  });
  const subjectOf = new Map<string, string>();
  const subjectFor = (signal: string): string => {
    let s = subjectOf.get(signal);
    if (s === undefined) {
      const info = model.signal(signal);
      const base = info?.line ?? info?.asset ?? signal.split('/').slice(0, -1).join('/');
      s = subjectForPath(base);
      subjectOf.set(signal, s);
    }
    return s;
  };

  const sources: BaseSource[] = [];
  for (const def of defs) {
    const report: SourceReport = {
      id: def.id,
      protocol: def.protocol,
      state: 'stopped',
      batches: 0,
      samples: 0,
      badSamples: 0,
      problems: 0,
      filtered: 0,
    };
    reports.set(def.id, report);
    const edge = new EdgeStage(model, model.bindingsOf(def.id), {
      clock,
      onProblem: (p) => {
        report.problems++;
        const st: SourceStatus = {
          source: def.id,
          state: report.state,
          ts: clock.now(),
          reason: p.reason,
          problem: p.problem,
          details: { signal: p.signal },
        };
        report.lastProblem = st;
        emit(st);
      },
    });
    const src = createSource(def, model, {
      logger: options.logger,
      clock,
      override: options.overrides?.[def.id],
      dataDir: options.dataDir,
    });
    src.onStatus((s) => {
      report.state = s.state;
      if (s.reason !== undefined) report.reason = s.reason;
      if (s.problem !== undefined) {
        report.problems++;
        report.lastProblem = s;
      }
      emit(s);
    });
    src.onBatch((raw) => {
      const batch = edge.process(raw);
      report.filtered = edge.filtered;
      report.batches++;
      report.samples += batch.length;
      for (let i = 0; i < batch.length; i++) if (batch.quality[i] === 2) report.badSamples++;
      publish(batch);
    });
    sources.push(src);
  }

  const publish = (batch: SampleBatch): void => {
    if (batch.length === 0) return;
    const first = subjectFor(batch.signals[0] as string);
    let same = true;
    for (let i = 1; i < batch.length && same; i++) same = subjectFor(batch.signals[i] as string) === first;
    if (same) {
      buffer.enqueue(first, batch);
      return;
    }
    const parts = new Map<string, SampleBatchBuilder>();
    for (let i = 0; i < batch.length; i++) {
      const sig = batch.signals[i] as string;
      const subj = subjectFor(sig);
      let b = parts.get(subj);
      if (b === undefined) {
        b = new SampleBatchBuilder();
        parts.set(subj, b);
      }
      const q = batch.qualityAt(i);
      if (batch.kind[i] === VALUE_KIND.number)
        b.pushNumber(sig, batch.ts[i] as number, batch.num[i] as number, q);
      else b.push(sig, batch.ts[i] as number, batch.valueAt(i), q);
    }
    for (const [subj, b] of parts) buffer.enqueue(subj, b.build());
  };

  for (const s of sources) {
    try {
      await s.start();
    } catch (err: unknown) {
      // Drivers report failures as status; a throw here is a bug, but must not stop the others.
      log.error({ err, source: s.id }, 'source failed to start');
    }
  }
  log.info({ sources: sources.map((s) => s.id) }, 'gateway started');

  const byId = new Map(sources.map((s) => [s.id, s]));
  let stopped = false;
  return {
    status: () => ({
      sources: [...reports.values()].map((r) => ({ ...r, state: byId.get(r.id)?.state ?? r.state })),
      buffer: buffer.stats(),
    }),
    async write(signalPath, value) {
      const info = model.requireSignal(signalPath);
      const src = info.source === undefined ? undefined : byId.get(info.source);
      if (src === undefined) {
        throw new GembaError(
          'GEMBA_CONNECT_UNKNOWN_SOURCE',
          `signal '${signalPath}' is not fed by a running source of this gateway`,
          { details: { signal: signalPath, source: info.source } },
        );
      }
      await src.write(signalPath, value);
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    flush: (timeoutMs) => buffer.flush(timeoutMs),
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        sources.map((s) => s.stop().catch((err: unknown) => log.error({ err, source: s.id }, 'stop failed'))),
      );
      await buffer.close();
      log.info({}, 'gateway stopped');
    },
  };
}
