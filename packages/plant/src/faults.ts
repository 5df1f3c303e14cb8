import { GembaError } from '@gemba/core';
import type { SensorFault } from './signal-table.ts';

/** A protocol endpoint of the plant that can be dropped. */
export type PlantEndpointKind = 'opcua' | 'modbus' | 'mqtt';

/**
 * A fault to inject into the running plant (durations in seconds of emulator time):
 * - `breakdown`: the station goes to Aborted with fault code 900 (or `faultCode`) now, repaired after `durationS`;
 * - `maintenance`: the station is stopped for planned maintenance (reason 4); a press gets a new bearing;
 * - `comms-loss`: the endpoint drops every connection and refuses new ones for `durationS`
 *   (`mqtt`: the Sparkplug node's connection dies without DISCONNECT, so the broker publishes
 *   NDEATH; it reconnects with a new bdSeq; the energy meter goes away too);
 * - `spike` / `freeze` / `drift`: a sensor misreads (see {@link SensorFault});
 * - `malformed-sparkplug`: `count` (default 1) payloads that are not Sparkplug protobuf on a
 *   device's DDATA topic;
 * - `silent`: the Sparkplug node stops publishing for `durationS` without NDEATH.
 */
export type PlantFault =
  | { kind: 'breakdown'; station: string; durationS: number; faultCode?: number }
  | { kind: 'maintenance'; station: string; durationS: number }
  | { kind: 'comms-loss'; endpoint: PlantEndpointKind; durationS: number }
  | SensorFault
  | { kind: 'malformed-sparkplug'; count?: number; device?: string }
  | { kind: 'silent'; durationS: number };

const KINDS = [
  'breakdown',
  'maintenance',
  'comms-loss',
  'spike',
  'freeze',
  'drift',
  'malformed-sparkplug',
  'silent',
];

/**
 * Checks an untrusted fault description (from the control endpoint or the command line).
 * @throws GembaError GEMBA_INVALID_ARGUMENT naming the missing or invalid field.
 */
export function parseFault(input: unknown): PlantFault {
  if (typeof input !== 'object' || input === null) {
    throw new GembaError('GEMBA_INVALID_ARGUMENT', 'a fault must be a JSON object with a "kind"');
  }
  const o = input as Record<string, unknown>;
  const kind = o.kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind)) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `unknown fault kind ${JSON.stringify(kind)} (one of ${KINDS.join(', ')})`,
    );
  }
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `fault '${kind}' needs a string '${k}'`);
    }
    return v;
  };
  const num = (k: string, optional = false): number | undefined => {
    const v = o[k];
    if (v === undefined && optional) return undefined;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `fault '${kind}' needs a number '${k}'`);
    }
    return n;
  };
  const positive = (k: string): number => {
    const n = num(k) as number;
    if (n <= 0) throw new GembaError('GEMBA_INVALID_ARGUMENT', `fault '${kind}': '${k}' must be positive`);
    return n;
  };
  switch (kind) {
    case 'breakdown': {
      const faultCode = num('faultCode', true);
      return {
        kind,
        station: str('station'),
        durationS: positive('durationS'),
        ...(faultCode === undefined ? {} : { faultCode }),
      };
    }
    case 'maintenance':
      return { kind, station: str('station'), durationS: positive('durationS') };
    case 'comms-loss': {
      const endpoint = str('endpoint');
      if (endpoint !== 'opcua' && endpoint !== 'modbus' && endpoint !== 'mqtt') {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `fault 'comms-loss': endpoint must be opcua, modbus or mqtt`,
        );
      }
      return { kind, endpoint, durationS: positive('durationS') };
    }
    case 'spike': {
      const durationS = num('durationS', true);
      return {
        kind,
        signal: str('signal'),
        value: num('value') as number,
        ...(durationS === undefined ? {} : { durationS }),
      };
    }
    case 'freeze':
      return { kind, signal: str('signal'), durationS: positive('durationS') };
    case 'drift':
      return {
        kind,
        signal: str('signal'),
        perHour: num('perHour') as number,
        durationS: positive('durationS'),
      };
    case 'malformed-sparkplug': {
      const count = num('count', true);
      const device = o.device;
      return {
        kind,
        ...(count === undefined ? {} : { count }),
        ...(typeof device === 'string' ? { device } : {}),
      };
    }
    default:
      return { kind: 'silent', durationS: positive('durationS') };
  }
}
