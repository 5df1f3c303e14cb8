import { createServer, type Server, type Socket } from 'node:net';
import type { Logger, Model, SampleBatch } from '@gemba/core';

/** Options for {@link PlantModbusServer}. */
export interface PlantModbusServerOptions {
  model: Model;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  logger: Logger;
  /** Called for a write to a holding register pair that holds a setpoint; false refuses it. */
  onWrite: (signal: string, value: number) => boolean;
}

type Table = 'holding' | 'input' | 'coil' | 'discrete';
interface RegisterBinding {
  signal: string;
  table: Table;
  address: number;
  type: string;
}

/** Number of registers / bits in each table; addresses beyond answer "illegal data address". */
export const MODBUS_TABLE_SIZE = 64;

/**
 * Status bits served in both the coil and the discrete-input tables (read-only):
 * 0 running (Execute), 1 faulted (Aborted), 2..4 zone 1..3 within ±5 °C of its setpoint.
 */
export const MODBUS_STATUS_BITS = [
  'running',
  'faulted',
  'zone1-in-band',
  'zone2-in-band',
  'zone3-in-band',
] as const;

// Modbus Application Protocol v1.1b3 §7 exception codes.
const ILLEGAL_FUNCTION = 0x01;
const ILLEGAL_ADDRESS = 0x02;
const ILLEGAL_VALUE = 0x03;

/**
 * The oven PLC: a Modbus TCP server (Modbus Application Protocol v1.1b3 over TCP) whose
 * register map comes from the model's Modbus bindings. float32 and uint32 values span two
 * registers, high word first (big-endian word and byte order, "ABCD"). Answers FC 1, 2, 3, 4,
 * 5, 6, 15, 16 for any unit id. Writes to holding registers that hold a setpoint act on the
 * physics: a float32 written with FC16 applies at once; written word by word with FC6 it
 * applies when its second (low) word is written.
 */
export class PlantModbusServer {
  readonly #opts: PlantModbusServerOptions;
  readonly #input = new Uint16Array(MODBUS_TABLE_SIZE);
  readonly #holding = new Uint16Array(MODBUS_TABLE_SIZE);
  readonly #bits = new Uint8Array(MODBUS_TABLE_SIZE);
  readonly #bySignal = new Map<string, RegisterBinding[]>();
  readonly #holdingBindings: RegisterBinding[] = [];
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  #suspended = false;
  #zoneSetpoints = new Map<string, number>();
  #zoneTemps = new Map<string, number>();

  constructor(options: PlantModbusServerOptions) {
    this.#opts = options;
    for (const b of options.model.bindings) {
      if (!('table' in b)) continue;
      const rb: RegisterBinding = { signal: b.signalPath, table: b.table, address: b.address, type: b.type };
      const list = this.#bySignal.get(b.signalPath) ?? [];
      list.push(rb);
      this.#bySignal.set(b.signalPath, list);
      if (b.table === 'holding') this.#holdingBindings.push(rb);
    }
  }

  /** The port listened on; valid after start. */
  get port(): number {
    return this.#port;
  }

  /** Every signal path served over Modbus. */
  get signals(): string[] {
    return [...this.#bySignal.keys()];
  }

  /** Starts listening on 127.0.0.1. */
  async start(): Promise<void> {
    await this.#listen(this.#opts.port);
    this.#opts.logger.info({ host: '127.0.0.1', port: this.#port }, 'Modbus TCP server listening');
  }

  #listen(port: number): Promise<void> {
    const server = createServer((sock) => this.#accept(sock));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#opts.logger.warn({ err }, 'Modbus server error'));
        const addr = server.address();
        this.#port = typeof addr === 'object' && addr !== null ? addr.port : port;
        resolve();
      });
    });
  }

  #accept(sock: Socket): void {
    this.#sockets.add(sock);
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (data: Buffer) => {
      buf = buf.length === 0 ? data : Buffer.concat([buf, data]);
      // MBAP header: transaction id (2), protocol id (2), length (2), unit id (1).
      while (buf.length >= 7) {
        const len = buf.readUInt16BE(4);
        if (len < 2 || len > 254) {
          sock.destroy();
          return;
        }
        if (buf.length < 6 + len) break;
        const frame = buf.subarray(0, 6 + len);
        buf = buf.subarray(6 + len);
        const reply = this.#handle(frame.subarray(7), frame.readUInt8(6));
        const out = Buffer.alloc(7 + reply.length);
        out.writeUInt16BE(frame.readUInt16BE(0), 0);
        out.writeUInt16BE(0, 2);
        out.writeUInt16BE(reply.length + 1, 4);
        out.writeUInt8(frame.readUInt8(6), 6);
        reply.copy(out, 7);
        sock.write(out);
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.#sockets.delete(sock));
  }

  #handle(pdu: Buffer, _unit: number): Buffer {
    const fc = pdu.readUInt8(0);
    const ex = (code: number): Buffer => Buffer.from([fc | 0x80, code]);
    if (pdu.length < 5) return ex(ILLEGAL_VALUE);
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    switch (fc) {
      case 0x01:
      case 0x02: {
        if (qty < 1 || qty > 2000) return ex(ILLEGAL_VALUE);
        if (addr + qty > MODBUS_TABLE_SIZE) return ex(ILLEGAL_ADDRESS);
        const bytes = Math.ceil(qty / 8);
        const out = Buffer.alloc(2 + bytes);
        out.writeUInt8(fc, 0);
        out.writeUInt8(bytes, 1);
        for (let i = 0; i < qty; i++)
          if (this.#bits[addr + i]) out[2 + (i >> 3)] = (out[2 + (i >> 3)] as number) | (1 << (i & 7));
        return out;
      }
      case 0x03:
      case 0x04: {
        if (qty < 1 || qty > 125) return ex(ILLEGAL_VALUE);
        if (addr + qty > MODBUS_TABLE_SIZE) return ex(ILLEGAL_ADDRESS);
        const table = fc === 0x03 ? this.#holding : this.#input;
        const out = Buffer.alloc(2 + 2 * qty);
        out.writeUInt8(fc, 0);
        out.writeUInt8(2 * qty, 1);
        for (let i = 0; i < qty; i++) out.writeUInt16BE(table[addr + i] as number, 2 + 2 * i);
        return out;
      }
      case 0x05:
      case 0x0f:
        // The status bits are read-only.
        return ex(addr < MODBUS_TABLE_SIZE ? ILLEGAL_VALUE : ILLEGAL_ADDRESS);
      case 0x06: {
        if (addr >= MODBUS_TABLE_SIZE) return ex(ILLEGAL_ADDRESS);
        const code = this.#write(addr, [qty], true);
        return code === 0 ? Buffer.from(pdu.subarray(0, 5)) : ex(code);
      }
      case 0x10: {
        const count = pdu.readUInt8(5);
        if (qty < 1 || qty > 123 || count !== 2 * qty || pdu.length < 6 + count) return ex(ILLEGAL_VALUE);
        if (addr + qty > MODBUS_TABLE_SIZE) return ex(ILLEGAL_ADDRESS);
        const words: number[] = [];
        for (let i = 0; i < qty; i++) words.push(pdu.readUInt16BE(6 + 2 * i));
        const code = this.#write(addr, words, false);
        return code === 0 ? Buffer.from(pdu.subarray(0, 5)) : ex(code);
      }
      default:
        return ex(ILLEGAL_FUNCTION);
    }
  }

  /** Writes holding registers; returns 0 or a Modbus exception code. */
  #write(addr: number, words: number[], single: boolean): number {
    const end = addr + words.length;
    const touched = this.#holdingBindings.filter((b) => b.address < end && b.address + width(b.type) > addr);
    if (touched.length === 0) return ILLEGAL_ADDRESS;
    const staged = this.#holding.slice();
    words.forEach((w, i) => {
      staged[addr + i] = w;
    });
    for (const b of touched) {
      const w = width(b.type);
      // A single-register write to the first word of a two-word value is staged until the
      // second word arrives (FC6 cannot write a float32 at once).
      if (single && w === 2 && addr === b.address) continue;
      const value = decode(staged, b.address, b.type);
      if (!this.#opts.onWrite(b.signal, value)) return ILLEGAL_VALUE;
    }
    this.#holding.set(staged);
    return 0;
  }

  /** Serves the latest values of the signals in `batch`. */
  update(batch: SampleBatch): void {
    for (let i = 0; i < batch.length; i++) {
      const signal = batch.signals[i] as string;
      const value = batch.num[i] as number;
      const list = this.#bySignal.get(signal);
      if (list !== undefined) {
        for (const b of list) {
          if (b.table === 'input') encode(this.#input, b.address, b.type, value);
          else if (b.table === 'holding') encode(this.#holding, b.address, b.type, value);
        }
      }
      this.#status(signal, value);
    }
  }

  #status(signal: string, value: number): void {
    const name = signal.slice(signal.lastIndexOf('/') + 1);
    const owner = signal.slice(0, signal.lastIndexOf('/'));
    const zone = owner.slice(owner.lastIndexOf('/') + 1);
    if (name === 'state' && this.#bySignal.has(signal)) {
      this.#bits[0] = value === 6 ? 1 : 0;
      this.#bits[1] = value === 9 ? 1 : 0;
      return;
    }
    if (name !== 'temperature' && name !== 'setpoint') return;
    const idx = Number(zone.replace(/^zone/, ''));
    if (!(idx >= 1 && idx <= 3)) return;
    (name === 'temperature' ? this.#zoneTemps : this.#zoneSetpoints).set(zone, value);
    const t = this.#zoneTemps.get(zone);
    const sp = this.#zoneSetpoints.get(zone);
    this.#bits[1 + idx] = t !== undefined && sp !== undefined && Math.abs(t - sp) <= 5 ? 1 : 0;
  }

  /** Drops every connection and stops listening until {@link PlantModbusServer.resume}. */
  async suspend(): Promise<void> {
    if (this.#suspended || this.#server === undefined) return;
    this.#suspended = true;
    const server = this.#server;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port after {@link PlantModbusServer.suspend}. */
  async resume(): Promise<void> {
    if (!this.#suspended) return;
    this.#suspended = false;
    await this.#listen(this.#port);
  }

  /** Closes every connection and the listener. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server !== undefined && !this.#suspended)
      await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function width(type: string): number {
  return type === 'float64' ? 4 : type === 'float32' || type === 'uint32' || type === 'int32' ? 2 : 1;
}

const scratch = Buffer.alloc(8);

function encode(table: Uint16Array, addr: number, type: string, value: number): void {
  if (addr + width(type) > table.length) return;
  switch (type) {
    case 'float32':
      scratch.writeFloatBE(value, 0);
      break;
    case 'float64':
      scratch.writeDoubleBE(value, 0);
      break;
    case 'uint32':
      scratch.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(value))) >>> 0, 0);
      break;
    case 'int32':
      scratch.writeInt32BE(Math.max(-0x80000000, Math.min(0x7fffffff, Math.round(value))), 0);
      break;
    case 'int16':
      scratch.writeInt16BE(Math.max(-0x8000, Math.min(0x7fff, Math.round(value))), 0);
      break;
    default:
      scratch.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(value))), 0);
  }
  for (let i = 0; i < width(type); i++) table[addr + i] = scratch.readUInt16BE(2 * i);
}

function decode(table: Uint16Array, addr: number, type: string): number {
  for (let i = 0; i < width(type); i++) scratch.writeUInt16BE(table[addr + i] ?? 0, 2 * i);
  switch (type) {
    case 'float32':
      return scratch.readFloatBE(0);
    case 'float64':
      return scratch.readDoubleBE(0);
    case 'uint32':
      return scratch.readUInt32BE(0);
    case 'int32':
      return scratch.readInt32BE(0);
    case 'int16':
      return scratch.readInt16BE(0);
    default:
      return scratch.readUInt16BE(0);
  }
}
