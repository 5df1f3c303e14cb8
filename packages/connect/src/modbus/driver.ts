import {
  type Clock,
  type Logger,
  type ModbusSourceDef,
  type ResolvedBinding,
  SampleBatchBuilder,
  type SampleValue,
  type TimerHandle,
} from '@gemba/core';
import modbusSerial from 'modbus-serial';
import { Backoff } from '../source/backoff.ts';
import { BaseSource } from '../source/base-source.ts';
import { decodeRegisters, encodeRegisters } from './codec.ts';
import { type ModbusPoint, type PollGroup, planPolls, type ReadBlock } from './plan.ts';

/** Options of {@link ModbusSource}. */
export interface ModbusSourceOptions {
  logger: Logger;
  clock: Clock;
  /** Attempts after a timed-out request before the block is reported bad (default 1). */
  retries?: number;
}

// modbus-serial is CommonJS; under NodeNext its class is the default export's `default`.
const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

const TABLE_NAMES = {
  holding: 'holding registers',
  input: 'input registers',
  coil: 'coils',
  discrete: 'discrete inputs',
} as const;

/** Exception codes, Modbus Application Protocol v1.1b3 §7. */
const EXCEPTIONS: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

interface ModbusError {
  modbusCode?: number;
  name?: string;
  message?: string;
  errno?: string;
}

/**
 * Modbus TCP client source (modbus-serial): polls holding/input registers, coils and
 * discrete inputs in poll groups with their own rates, over one connection, requests in
 * series. Reads are coalesced (see `planPolls`). A failing read (exception response, timeout
 * after retries, NaN) makes that block's signals bad and reports the register range; a lost
 * connection makes every signal bad and reconnects with backoff. Writes go to holding
 * registers (FC16) and coils (FC5).
 */
export class ModbusSource extends BaseSource {
  readonly #def: ModbusSourceDef;
  readonly #groups: PollGroup[];
  readonly #points = new Map<string, ModbusPoint>();
  readonly #retries: number;
  readonly #backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  readonly #endpoint: string;
  #client: ModbusClient | undefined;
  #running = false;
  #timers = new Set<TimerHandle>();
  /** Serializes requests on the one connection. */
  #queue: Promise<unknown> = Promise.resolve();
  #consecutiveTimeouts = 0;
  /** Counts of requests and failures since start. */
  readonly counters = { reads: 0, readErrors: 0, registers: 0 };

  constructor(def: ModbusSourceDef, bindings: readonly ResolvedBinding[], options: ModbusSourceOptions) {
    super(def.id, options.clock, options.logger.child({ component: 'connect.modbus', source: def.id }));
    this.#def = def;
    this.#groups = planPolls(def, bindings);
    this.#retries = options.retries ?? 1;
    this.#endpoint = `${def.host}:${def.port}`;
    for (const g of this.#groups)
      for (const b of g.blocks) for (const p of b.points) this.#points.set(p.signal, p);
  }

  get signals(): readonly string[] {
    return [...this.#points.keys()];
  }

  /** The planned poll groups and their reads. */
  get plan(): readonly PollGroup[] {
    return this.#groups;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.emitStatus('connecting', `connecting to ${this.#endpoint}`);
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (!this.#running) return;
    const client = new ModbusRTU();
    client.on('error', (err: unknown) => this.log.debug({ err }, 'modbus socket error'));
    try {
      await client.connectTCP(this.#def.host, { port: this.#def.port });
    } catch (err: unknown) {
      this.#failed(`cannot connect to ${this.#endpoint}: ${describe(err)}`);
      return;
    }
    if (!this.#running) {
      client.close(() => {});
      return;
    }
    client.setTimeout(this.#def.timeoutMs);
    client.on('close', () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#failed(`connection to ${this.#endpoint} closed`);
    });
    this.#client = client;
    this.#consecutiveTimeouts = 0;
    this.#backoff.reset();
    this.emitStatus('connected', `connected to ${this.#endpoint}`);
    for (const g of this.#groups) void this.#pollLoop(g, client);
  }

  /** Connection lost or refused: every signal bad, reconnect after a backoff. */
  #failed(reason: string): void {
    if (!this.#running) return;
    const delay = this.#backoff.next();
    this.log.warn({ endpoint: this.#endpoint, delayMs: delay }, reason);
    if (this.state !== 'disconnected') this.emitBad(this.#points.keys());
    this.emitStatus('disconnected', `${reason}; retrying in ${delay} ms`);
    const t = this.clock.setTimeout(() => {
      this.#timers.delete(t);
      void this.#connect();
    }, delay);
    this.#timers.add(t);
  }

  async #pollLoop(group: PollGroup, client: ModbusClient): Promise<void> {
    let next = this.clock.now();
    while (this.#running && this.#client === client) {
      await this.#pollOnce(group, client);
      if (!this.#running || this.#client !== client) return;
      next += group.intervalMs;
      const now = this.clock.now();
      // Missed polls (slow peer) are skipped, not bunched up.
      if (next <= now) {
        // Already due (a slow peer, or a very short interval): yield once, don't wait a timer tick.
        next = now;
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(() => {
          this.#timers.delete(t);
          resolve();
        }, next - now);
        this.#timers.add(t);
      });
    }
  }

  /** Reads every block of a group once and emits one batch. */
  async #pollOnce(group: PollGroup, client: ModbusClient): Promise<void> {
    const out = new SampleBatchBuilder(64);
    let bad = 0;
    for (const block of group.blocks) {
      const res = await this.#serial(() => this.#readBlock(client, block));
      if (this.#client !== client) return;
      const ts = this.clock.now();
      if (res.ok) {
        for (const p of block.points) {
          const v = decodePoint(res.data, block, p);
          if (typeof v === 'number' && !Number.isFinite(v)) {
            out.pushNumber(p.signal, ts, Number.NaN, 'bad');
            this.emitStatus(
              this.state,
              `${where(this.#endpoint, p.unitId, p.table, p.address, p.count)} (${p.signal}) decodes to ${v} as ${p.type}`,
              'nan-value',
              { signal: p.signal, register: p.address, table: p.table },
            );
            continue;
          }
          out.push(p.signal, ts, v, 'good');
        }
      } else {
        bad++;
        for (const p of block.points) out.pushNumber(p.signal, ts, Number.NaN, 'bad');
        this.emitStatus('degraded', res.reason, res.problem, {
          table: block.table,
          unitId: block.unitId,
          start: block.start,
          length: block.length,
        });
      }
    }
    if (bad === 0 && this.state === 'degraded')
      this.emitStatus('connected', `reads from ${this.#endpoint} succeed again`);
    this.emitBatch(out.build());
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  async #readBlock(
    client: ModbusClient,
    block: ReadBlock,
  ): Promise<
    | { ok: true; data: readonly number[] | readonly boolean[] }
    | { ok: false; reason: string; problem: string }
  > {
    const w = where(this.#endpoint, block.unitId, block.table, block.start, block.length);
    for (let attempt = 0; ; attempt++) {
      if (this.#client !== client)
        return { ok: false, reason: `${w}: connection lost`, problem: 'disconnected' };
      try {
        client.setID(block.unitId);
        this.counters.reads++;
        const r =
          block.table === 'holding'
            ? await client.readHoldingRegisters(block.start, block.length)
            : block.table === 'input'
              ? await client.readInputRegisters(block.start, block.length)
              : block.table === 'coil'
                ? await client.readCoils(block.start, block.length)
                : await client.readDiscreteInputs(block.start, block.length);
        this.#consecutiveTimeouts = 0;
        this.counters.registers += block.length;
        return { ok: true, data: r.data };
      } catch (err: unknown) {
        this.counters.readErrors++;
        const e = err as ModbusError;
        if (typeof e.modbusCode === 'number') {
          const name = EXCEPTIONS[e.modbusCode] ?? 'unknown exception';
          return {
            ok: false,
            reason: `${w}: Modbus exception ${e.modbusCode} (${name})`,
            problem: 'modbus-exception',
          };
        }
        const timedOut = e.name === 'TransactionTimedOutError' || /timed out/i.test(e.message ?? '');
        if (timedOut) {
          this.#consecutiveTimeouts++;
          if (attempt < this.#retries) continue;
          if (this.#consecutiveTimeouts >= 3 * (this.#retries + 1)) {
            // A peer that stopped answering on an open socket: start over with a new connection.
            this.#client = undefined;
            client.close(() => {});
            this.#failed(`${this.#endpoint} stopped answering (${this.#consecutiveTimeouts} timeouts)`);
          }
          return {
            ok: false,
            reason: `${w}: no answer within ${this.#def.timeoutMs} ms`,
            problem: 'timeout',
          };
        }
        return { ok: false, reason: `${w}: ${describe(err)}`, problem: 'read-failed' };
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.#running && this.state === 'stopped') return;
    this.#running = false;
    for (const t of this.#timers) this.clock.clearTimeout(t);
    this.#timers.clear();
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await new Promise<void>((resolve) => client.close(() => resolve()));
    this.emitStatus('stopped', 'stopped');
  }

  /**
   * Writes a holding register value (FC16, encoded by the binding's type and order) or a coil
   * (FC5).
   * @throws GembaError GEMBA_CONNECT_WRITE when the signal is not bound here, is read-only
   *   (input register, discrete input, bit field), or the peer refuses.
   */
  async write(signal: string, value: SampleValue): Promise<void> {
    const p = this.#points.get(signal);
    if (p === undefined) throw this.notWritable(signal, 'not bound to this source');
    if (p.table === 'input' || p.table === 'discrete')
      throw this.notWritable(signal, `${TABLE_NAMES[p.table]} are read-only`);
    if (p.bit !== undefined) throw this.notWritable(signal, 'bit fields cannot be written');
    const client = this.#client;
    if (client === undefined) throw this.notWritable(signal, `not connected to ${this.#endpoint}`);
    const num = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    if (!Number.isFinite(num)) throw this.notWritable(signal, `value ${String(value)} is not a number`);
    try {
      await this.#serial(async () => {
        client.setID(p.unitId);
        if (p.table === 'coil') await client.writeCoil(p.address, num !== 0);
        else await client.writeRegisters(p.address, encodeRegisters(num, p.type, p));
      });
    } catch (err: unknown) {
      const e = this.notWritable(
        signal,
        `${where(this.#endpoint, p.unitId, p.table, p.address, p.count)}: ${describe(err)}`,
      );
      e.cause = err;
      throw e;
    }
  }
}

function decodePoint(
  data: readonly number[] | readonly boolean[],
  block: ReadBlock,
  p: ModbusPoint,
): SampleValue {
  const off = p.address - block.start;
  if (block.table === 'coil' || block.table === 'discrete') return Boolean(data[off]);
  const regs = data as readonly number[];
  if (p.bit !== undefined) return (((regs[off] as number) >> p.bit) & 1) === 1;
  const v = decodeRegisters(regs, off, p.type, p);
  return p.type === 'bool' ? v !== 0 : v;
}

function where(
  endpoint: string,
  unitId: number,
  table: keyof typeof TABLE_NAMES,
  start: number,
  length: number,
): string {
  const range = length > 1 ? `${start}-${start + length - 1}` : `${start}`;
  return `${endpoint} unit ${unitId} ${TABLE_NAMES[table]} ${range}`;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
