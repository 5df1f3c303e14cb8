import { Counter, Gauge, Registry } from 'prom-client';
import type { LiveHub } from './live-hub.ts';
import type { GembaRuntime } from './runtime/runtime.ts';

/** The Prometheus registry of one server: pipeline figures, live clients, API requests. */
export interface ServerMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
}

const SOURCE_STATES = ['connecting', 'connected', 'degraded', 'disconnected', 'stopped'] as const;

/** Creates the metrics of a server (a registry of its own, no global state). */
export function createMetrics(runtime: GembaRuntime, hub: LiveHub): ServerMetrics {
  const registry = new Registry();
  const status = () => runtime.status?.();
  new Gauge({
    name: 'gemba_samples_in_total',
    help: 'Samples taken in by the pipeline',
    registers: [registry],
    collect() {
      this.set(status()?.samplesIn ?? 0);
    },
  });
  new Gauge({
    name: 'gemba_samples_out_total',
    help: 'Samples written out by the pipeline (historian)',
    registers: [registry],
    collect() {
      this.set(status()?.samplesOut ?? 0);
    },
  });
  new Gauge({
    name: 'gemba_pipeline_lag_messages',
    help: 'Bus messages not yet processed by the engine',
    registers: [registry],
    collect() {
      this.set(status()?.lag ?? 0);
    },
  });
  new Gauge({
    name: 'gemba_buffer_depth_batches',
    help: 'Batches waiting in store-and-forward buffers for the bus',
    registers: [registry],
    collect() {
      this.set(status()?.bufferDepth ?? 0);
    },
  });
  new Gauge({
    name: 'gemba_source_up',
    help: 'Per source and state: 1 for the state the source is in',
    labelNames: ['source', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of status()?.sources ?? []) {
        for (const st of SOURCE_STATES) this.set({ source: s.source, state: st }, s.state === st ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'gemba_live_clients',
    help: 'Connected WebSocket clients',
    registers: [registry],
    collect() {
      this.set(hub.stats.clients);
    },
  });
  new Gauge({
    name: 'gemba_live_seq',
    help: 'Sequence number of the latest live change',
    registers: [registry],
    collect() {
      this.set(hub.stats.seq);
    },
  });
  new Gauge({
    name: 'gemba_live_entries_sent_total',
    help: 'Live entries sent to WebSocket clients',
    registers: [registry],
    collect() {
      this.set(hub.stats.entriesSent);
    },
  });
  new Gauge({
    name: 'gemba_live_entries_conflated_total',
    help: 'Live entries replaced by a newer value before a slow client got them',
    registers: [registry],
    collect() {
      this.set(hub.stats.entriesConflated);
    },
  });
  new Gauge({
    name: 'gemba_live_resumes_total',
    help: 'WebSocket subscriptions resumed after a reconnect from the last sequence number',
    registers: [registry],
    collect() {
      this.set(hub.stats.resumes);
    },
  });
  new Gauge({
    name: 'gemba_live_snapshots_total',
    help: 'Snapshots sent to WebSocket subscribers',
    registers: [registry],
    collect() {
      this.set(hub.stats.snapshots);
    },
  });
  const requests = new Counter({
    name: 'gemba_api_requests_total',
    help: 'API requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  return { registry, requests };
}
