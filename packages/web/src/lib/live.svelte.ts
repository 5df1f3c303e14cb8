// The live twin in the browser: one WebSocket, snapshot then deltas, resume after a reconnect
// with the last sequence number, pause (updates are held, latest per key, and applied on resume).
import { token } from './api.ts';
import type {
  Alarm,
  BottleneckEntry,
  Kpi,
  ServerMessage,
  StateEntry,
  TwinEntry,
  ValueEntry,
} from './types.ts';

type Probe = (path: string, value: unknown, receivedAtMs: number) => void;

function keyOf(e: TwinEntry): string {
  return e.kind === 'alarm' ? `alarm:${e.alarm.id}` : `${e.kind}:${e.path}`;
}

class LiveTwin {
  values = $state<Record<string, ValueEntry>>({});
  states = $state<Record<string, StateEntry>>({});
  kpis = $state<Record<string, Kpi>>({});
  bottlenecks = $state<Record<string, BottleneckEntry>>({});
  alarms = $state<Record<string, Alarm>>({});
  connected = $state(false);
  paused = $state(false);
  /** Server (plant clock) time, ms; advanced locally between heartbeats. */
  now = $state(Date.now());
  /**
   * True once the server has told its clock: until then `now` is the browser's clock, which in an
   * accelerated demo is hours away from the plant's, so history-backed panels wait for it.
   */
  synced = $state(false);
  /**
   * How fast the plant clock runs against the local clock, as measured between server clock
   * reports: 1 in real time, the emulator's speed in an accelerated demo.
   */
  rate = $state(1);
  error = $state<string | null>(null);

  #ws: WebSocket | null = null;
  #epoch: string | undefined;
  #seq: number | undefined;
  #patterns: string[] = ['#'];
  #held = new Map<string, TwinEntry>();
  // The plant clock as last reported by the server (its rate is `rate`).
  #serverNow = Date.now();
  #localAt = Date.now();
  #retryMs = 500;
  #stopped = false;

  /** Opens the connection (and keeps it open: reconnects with backoff). */
  start(patterns: string[] = ['#']): void {
    this.#patterns = patterns;
    this.#stopped = false;
    this.#connect();
    setInterval(() => {
      this.now = this.#plantNow();
    }, 1000);
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }

  setPaused(p: boolean): void {
    this.paused = p;
    if (!p) {
      const held = [...this.#held.values()];
      this.#held.clear();
      this.#apply(held);
    }
  }

  #connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const base = location.pathname.replace(/[^/]*$/, '');
    const ws = new WebSocket(
      `${proto}//${location.host}${base}api/live?token=${encodeURIComponent(token())}`,
    );
    this.#ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.error = null;
      this.#retryMs = 500;
    };
    ws.onmessage = (ev) => this.#onMessage(JSON.parse(String(ev.data)) as ServerMessage);
    ws.onclose = () => {
      this.connected = false;
      if (this.#stopped) return;
      setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
    };
  }

  #send(msg: unknown): void {
    this.#ws?.send(JSON.stringify(msg));
  }

  #plantNow(): number {
    return Math.floor(this.#serverNow + (Date.now() - this.#localAt) * this.rate);
  }

  #syncClock(serverNow: number, estimateRate: boolean): void {
    const local = Date.now();
    const dl = local - this.#localAt;
    if (estimateRate && dl >= 1000) {
      const r = (serverNow - this.#serverNow) / dl;
      if (Number.isFinite(r) && r > 0) {
        this.rate = Math.min(10_000, Math.max(0.01, r));
      }
    }
    this.#serverNow = serverNow;
    this.#localAt = local;
    this.now = Math.floor(serverNow);
    this.synced = true;
  }

  #onMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'hello': {
        this.#syncClock(m.now, false);
        const resume = this.#epoch === m.epoch && this.#seq !== undefined;
        const sub: Record<string, unknown> = { type: 'subscribe', patterns: this.#patterns };
        if (resume) {
          sub.lastSeq = this.#seq;
          sub.epoch = this.#epoch;
        }
        this.#epoch = m.epoch;
        this.#send(sub);
        break;
      }
      case 'snapshot':
        this.#syncClock(m.now, true);
        this.#held.clear();
        this.#apply(m.entries, true);
        this.#seq = m.seq;
        break;
      case 'delta':
        if (this.paused) for (const e of m.entries) this.#held.set(keyOf(e), e);
        else this.#apply(m.entries);
        this.#seq = m.seq;
        break;
      case 'heartbeat':
      case 'pong':
        this.#syncClock(m.now, true);
        break;
      case 'error':
        this.error = `${m.error.code}: ${m.error.message}`;
        break;
    }
  }

  #apply(entries: TwinEntry[], replace = false): void {
    const probe = (globalThis as { gembaProbe?: Probe }).gembaProbe;
    const received = Date.now();
    if (replace) {
      this.alarms = {};
    }
    for (const e of entries) {
      switch (e.kind) {
        case 'value':
          this.values[e.path] = e;
          if (probe !== undefined) probe(e.path, e.value, received);
          break;
        case 'state':
          this.states[e.path] = e;
          break;
        case 'kpi':
          this.kpis[e.path] = e.kpi;
          break;
        case 'bottleneck':
          this.bottlenecks[e.path] = e;
          break;
        case 'alarm':
          if (!e.alarm.active && e.alarm.acknowledged) delete this.alarms[e.alarm.id];
          else this.alarms[e.alarm.id] = e.alarm;
          break;
      }
    }
  }
}

/** The one live twin of the page. */
export const live = new LiveTwin();
