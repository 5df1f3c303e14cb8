import type { ModbusSourceDef, ResolvedBinding } from '@gemba/core';
import { type ModbusType, registerCount } from './codec.ts';

/** Modbus data tables. */
export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';

/** One bound value: where it is and how to decode it. */
export interface ModbusPoint {
  signal: string;
  table: ModbusTable;
  unitId: number;
  address: number;
  /** Registers (or bits, for coil/discrete tables) it spans. */
  count: number;
  type: ModbusType;
  wordOrder: 'big' | 'little';
  byteOrder: 'big' | 'little';
  bit: number | undefined;
}

/** One read request: a contiguous range covering several points. */
export interface ReadBlock {
  table: ModbusTable;
  unitId: number;
  start: number;
  length: number;
  points: ModbusPoint[];
}

/** A poll group: blocks read together at one rate. */
export interface PollGroup {
  name: string;
  intervalMs: number;
  blocks: ReadBlock[];
}

/** Most registers in one read (Modbus Application Protocol v1.1b3 §6.3, §6.4). */
export const MAX_READ_REGISTERS = 125;
/** Most bits in one read (§6.1, §6.2). */
export const MAX_READ_BITS = 2000;
/** Unbound registers a read may span to join two ranges (cheaper than another round trip). */
const MAX_GAP = 16;

type ModbusBinding = ModbusSourceDef['bindings'][number] & ResolvedBinding;

/** The points of a source's bindings. */
export function modbusPoints(def: ModbusSourceDef, bindings: readonly ResolvedBinding[]): ModbusPoint[] {
  return (bindings as ModbusBinding[]).map((b) => {
    const bitTable = b.table === 'coil' || b.table === 'discrete';
    return {
      signal: b.signalPath,
      table: b.table,
      unitId: b.unitId ?? def.unitId,
      address: b.address,
      count: bitTable ? 1 : registerCount(b.type),
      type: bitTable ? 'bool' : b.type,
      wordOrder: b.wordOrder,
      byteOrder: b.byteOrder,
      bit: b.bit,
    };
  });
}

/**
 * Plans the reads: points grouped by poll group, unit id and table, sorted by address, and
 * adjacent (or nearly adjacent) ranges coalesced into reads of at most 125 registers or
 * 2000 bits.
 */
export function planPolls(def: ModbusSourceDef, bindings: readonly ResolvedBinding[]): PollGroup[] {
  const points = modbusPoints(def, bindings);
  const groups = new Map<string, { intervalMs: number; points: ModbusPoint[] }>();
  (bindings as ModbusBinding[]).forEach((b, i) => {
    const name = b.pollGroup ?? 'default';
    const intervalMs =
      b.pollGroup === undefined
        ? def.pollIntervalMs
        : (def.pollGroups[b.pollGroup]?.intervalMs ?? def.pollIntervalMs);
    let g = groups.get(name);
    if (g === undefined) {
      g = { intervalMs, points: [] };
      groups.set(name, g);
    }
    g.points.push(points[i] as ModbusPoint);
  });
  return [...groups].map(([name, g]) => ({ name, intervalMs: g.intervalMs, blocks: coalesce(g.points) }));
}

/** Coalesces points into read blocks (exported for tests). */
export function coalesce(points: readonly ModbusPoint[]): ReadBlock[] {
  const byKey = new Map<string, ModbusPoint[]>();
  for (const p of points) {
    const k = `${p.unitId}|${p.table}`;
    const list = byKey.get(k) ?? [];
    list.push(p);
    byKey.set(k, list);
  }
  const blocks: ReadBlock[] = [];
  for (const list of byKey.values()) {
    list.sort((a, b) => a.address - b.address);
    let cur: ReadBlock | undefined;
    for (const p of list) {
      const max = p.table === 'coil' || p.table === 'discrete' ? MAX_READ_BITS : MAX_READ_REGISTERS;
      const end = p.address + p.count;
      if (cur !== undefined && p.address <= cur.start + cur.length + MAX_GAP && end - cur.start <= max) {
        cur.length = Math.max(cur.length, end - cur.start);
        cur.points.push(p);
      } else {
        cur = { table: p.table, unitId: p.unitId, start: p.address, length: p.count, points: [p] };
        blocks.push(cur);
      }
    }
  }
  return blocks;
}
