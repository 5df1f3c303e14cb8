import { randomUUID } from 'node:crypto';
import { type Clock, GembaError, type Logger, matchPath, validatePattern } from '@gemba/core';
import { z } from 'zod';
import { toErrorResponse } from './http-error.ts';
import { parseInput } from './route-spec.ts';
import { entryKey, type TwinEntry, type TwinPort } from './runtime/runtime.ts';

/** A twin entry as sent over the WebSocket: numbered by the hub's sequence. */
export type SeqEntry = TwinEntry & { seq: number };

/** Messages a client sends. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('subscribe'),
    /** MQTT-style namespace patterns (`acme/plant1/+/line1/#`). */
    patterns: z.array(z.string().min(1)).min(1).max(100),
    /** The last sequence number the client has applied; the hub resumes after it without gaps. */
    lastSeq: z.number().int().nonnegative().optional(),
    /** The hub epoch `lastSeq` belongs to (from `hello`); another epoch means a restarted server. */
    epoch: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), patterns: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ type: z.literal('ping') }),
]);
/** A message from a WebSocket client. */
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Messages the hub sends. */
export type ServerMessage =
  | { type: 'hello'; epoch: string; seq: number; now: number; timezone: string; heartbeatMs: number }
  | { type: 'snapshot'; seq: number; now: number; patterns: string[]; entries: SeqEntry[] }
  | { type: 'delta'; seq: number; entries: SeqEntry[]; resumed?: boolean }
  | { type: 'heartbeat'; seq: number; now: number }
  | { type: 'pong'; seq: number; now: number }
  | { type: 'error'; error: { code: string; message: string } };

/** The part of a WebSocket the hub uses (the `ws` package's WebSocket is one). */
export interface LiveSocket {
  send(data: string): void;
  readonly bufferedAmount: number;
  close(code?: number, reason?: string): void;
}

/** Options of {@link LiveHub}. */
export interface LiveHubOptions {
  twin: TwinPort;
  clock: Clock;
  logger: Logger;
  timezone: string;
  /** Changes kept for resuming after a reconnect. Default 100 000. */
  ringSize?: number;
  /** Heartbeat period, real ms. Default 5000. */
  heartbeatMs?: number;
  /** A client whose socket holds more than this many unsent bytes gets conflated updates. Default 256 KiB. */
  maxBufferedBytes?: number;
}

/** Figures for `/metrics`. */
export interface LiveHubStats {
  clients: number;
  seq: number;
  entriesSent: number;
  /** Entries replaced by a newer value of the same key before they were sent (conflation). */
  entriesConflated: number;
  resumes: number;
  snapshots: number;
}

/**
 * Fans the twin's change feed out to WebSocket clients. Every change gets a sequence number;
 * a client subscribes by namespace pattern and gets a snapshot, then deltas. A client that
 * reconnects with its last sequence number gets exactly what it missed (conflated to the latest
 * value per key) as long as the hub still holds it, else a fresh snapshot. A slow client's
 * updates are conflated to the latest value per key instead of queueing without bound.
 */
export class LiveHub {
  readonly #opts: Required<Omit<LiveHubOptions, 'twin' | 'clock' | 'logger' | 'timezone'>>;
  readonly #twin: TwinPort;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #timezone: string;
  readonly #ring: SeqEntry[] = [];
  #ringStart = 0;
  #seq = 0;
  readonly #clients = new Set<LiveClient>();
  #unsubscribe: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly stats: LiveHubStats = {
    clients: 0,
    seq: 0,
    entriesSent: 0,
    entriesConflated: 0,
    resumes: 0,
    snapshots: 0,
  };

  constructor(options: LiveHubOptions) {
    this.#twin = options.twin;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#timezone = options.timezone;
    this.#opts = {
      ringSize: options.ringSize ?? 100_000,
      heartbeatMs: options.heartbeatMs ?? 5000,
      maxBufferedBytes: options.maxBufferedBytes ?? 256 * 1024,
    };
  }

  /** Identifies this hub's sequence numbers: a restarted server has a new epoch. */
  readonly epoch = randomUUID();

  /** The sequence number of the latest change. */
  get seq(): number {
    return this.#seq;
  }

  /** Starts following the twin and sending heartbeats. */
  start(): void {
    if (this.#unsubscribe !== undefined) return;
    this.#unsubscribe = this.#twin.subscribe((changes) => this.#onChanges(changes));
    this.#heartbeat = setInterval(() => {
      for (const c of this.#clients) c.heartbeat();
    }, this.#opts.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Stops following the twin and closes every client. */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    for (const c of [...this.#clients]) c.close(1001, 'server shutting down');
  }

  /** Attaches a connected socket; returns the client, whose `receive` takes its messages. */
  attach(socket: LiveSocket): LiveClient {
    const c = new LiveClient(this, socket);
    this.#clients.add(c);
    this.stats.clients = this.#clients.size;
    c.send({
      type: 'hello',
      epoch: this.epoch,
      seq: this.#seq,
      now: this.#clock.now(),
      timezone: this.#timezone,
      heartbeatMs: this.#opts.heartbeatMs,
    });
    return c;
  }

  /** @internal */
  detach(c: LiveClient): void {
    this.#clients.delete(c);
    this.stats.clients = this.#clients.size;
  }

  /** @internal */
  get options(): Readonly<Required<Omit<LiveHubOptions, 'twin' | 'clock' | 'logger' | 'timezone'>>> {
    return this.#opts;
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal */
  get log(): Logger {
    return this.#log;
  }

  /** @internal The current entries matching `patterns`, numbered with the current sequence. */
  snapshot(patterns: readonly string[]): SeqEntry[] {
    const seen = new Map<string, SeqEntry>();
    for (const p of patterns) {
      for (const e of this.#twin.snapshot(p)) seen.set(entryKey(e), { ...e, seq: this.#seq });
    }
    this.stats.snapshots++;
    return [...seen.values()];
  }

  /**
   * @internal The changes after `lastSeq` matching `patterns`, latest per key, or undefined
   * when the hub no longer holds all of them.
   */
  since(lastSeq: number, patterns: readonly string[]): SeqEntry[] | undefined {
    if (lastSeq > this.#seq) return undefined;
    const oldest = this.#ring.length === 0 ? this.#seq + 1 : (this.#ring[this.#ringStart] as SeqEntry).seq;
    if (lastSeq + 1 < oldest && lastSeq !== this.#seq) return undefined;
    const latest = new Map<string, SeqEntry>();
    const n = this.#ring.length;
    for (let i = 0; i < n; i++) {
      const e = this.#ring[(this.#ringStart + i) % n] as SeqEntry;
      if (e.seq <= lastSeq) continue;
      if (patterns.some((p) => matchPath(p, e.path))) latest.set(entryKey(e), e);
    }
    this.stats.resumes++;
    return [...latest.values()].sort((a, b) => a.seq - b.seq);
  }

  #onChanges(changes: readonly TwinEntry[]): void {
    const size = this.#opts.ringSize;
    for (const ch of changes) {
      const e = { ...ch, seq: ++this.#seq } as SeqEntry;
      if (this.#ring.length < size) this.#ring.push(e);
      else {
        this.#ring[this.#ringStart] = e;
        this.#ringStart = (this.#ringStart + 1) % size;
      }
      for (const c of this.#clients) c.offer(e);
    }
    this.stats.seq = this.#seq;
  }
}

/** One WebSocket client of the {@link LiveHub}. */
export class LiveClient {
  readonly #hub: LiveHub;
  readonly #socket: LiveSocket;
  readonly #patterns = new Set<string>();
  /** Entries not yet sent, latest per key (conflation). */
  readonly #pending = new Map<string, SeqEntry>();
  #flushScheduled = false;
  #closed = false;

  constructor(hub: LiveHub, socket: LiveSocket) {
    this.#hub = hub;
    this.#socket = socket;
  }

  /** The patterns the client is subscribed to. */
  get patterns(): string[] {
    return [...this.#patterns];
  }

  /** Handles one raw message from the client. Never throws: errors go back as `error` messages. */
  receive(raw: string): void {
    try {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (err: unknown) {
        throw new GembaError('GEMBA_API_INVALID_INPUT', 'WebSocket message is not JSON', { cause: err });
      }
      const msg = parseInput(clientMessageSchema, json, 'message');
      if (msg.type === 'ping') {
        this.send({ type: 'pong', seq: this.#deliveredSeq(), now: this.#hub.clock.now() });
      } else if (msg.type === 'subscribe') {
        this.#subscribe(msg.patterns, msg.epoch === this.#hub.epoch ? msg.lastSeq : undefined);
      } else {
        for (const p of msg.patterns) this.#patterns.delete(p);
        for (const [k, e] of this.#pending) {
          if (!this.#matches(e.path)) this.#pending.delete(k);
        }
      }
    } catch (err: unknown) {
      const { body } = toErrorResponse(err);
      this.send({ type: 'error', error: { code: body.error.code, message: body.error.message } });
    }
  }

  #subscribe(patterns: string[], lastSeq: number | undefined): void {
    for (const p of patterns) {
      try {
        validatePattern(p);
      } catch (err: unknown) {
        throw new GembaError('GEMBA_API_INVALID_INPUT', `invalid pattern '${p}'`, { cause: err });
      }
    }
    // Keep the order of the stream: what is pending goes out before the snapshot or replay.
    this.#flush(true);
    for (const p of patterns) this.#patterns.add(p);
    if (lastSeq !== undefined) {
      const missed = this.#hub.since(lastSeq, this.patterns);
      if (missed !== undefined) {
        this.send({ type: 'delta', seq: this.#hub.seq, entries: missed, resumed: true });
        return;
      }
    }
    this.send({
      type: 'snapshot',
      seq: this.#hub.seq,
      now: this.#hub.clock.now(),
      patterns,
      entries: this.#hub.snapshot(patterns),
    });
  }

  #matches(path: string): boolean {
    for (const p of this.#patterns) if (matchPath(p, path)) return true;
    return false;
  }

  /** @internal A new change from the hub. */
  offer(e: SeqEntry): void {
    if (this.#closed || !this.#matches(e.path)) return;
    const key = entryKey(e);
    if (this.#pending.has(key)) {
      this.#pending.delete(key);
      this.#hub.stats.entriesConflated++;
    }
    this.#pending.set(key, e);
    this.#scheduleFlush(0);
  }

  #scheduleFlush(delayMs: number): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const run = (): void => {
      this.#flushScheduled = false;
      this.#flush(false);
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs).unref();
  }

  #flush(force: boolean): void {
    if (this.#closed || this.#pending.size === 0) return;
    if (!force && this.#socket.bufferedAmount > this.#hub.options.maxBufferedBytes) {
      // The client is slow: keep conflating and try again shortly.
      this.#scheduleFlush(25);
      return;
    }
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    this.#hub.stats.entriesSent += entries.length;
    this.send({ type: 'delta', seq: this.#hub.seq, entries });
  }

  /** The highest sequence number after which nothing this client needs is unsent. */
  #deliveredSeq(): number {
    let min = this.#hub.seq;
    for (const e of this.#pending.values()) if (e.seq - 1 < min) min = e.seq - 1;
    return min;
  }

  /** @internal */
  heartbeat(): void {
    this.send({ type: 'heartbeat', seq: this.#deliveredSeq(), now: this.#hub.clock.now() });
  }

  /** Sends one message (dropped once closed). */
  send(msg: ServerMessage): void {
    if (this.#closed) return;
    try {
      this.#socket.send(JSON.stringify(msg));
    } catch (err: unknown) {
      this.#hub.log.warn({ err }, 'live client send failed; closing');
      this.close(1011, 'send failed');
    }
  }

  /** Closes the socket and detaches from the hub. */
  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.clear();
    this.#hub.detach(this);
    try {
      this.#socket.close(code, reason);
    } catch {
      // Closing an already-closed socket: nothing left to do.
    }
  }

  /** @internal Called when the socket closed from the other side. */
  closed(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#hub.detach(this);
  }
}
