import type { SampleValue } from '@gemba/core';
import sparkplug from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';

const spB = sparkplug.get('spBv1.0');
if (spB === null) throw new Error('sparkplug-payload has no spBv1.0 codec');
/** The Sparkplug B payload codec (Eclipse Tahu's). */
export const sparkplugCodec = spB;

/** A metric as the host needs it: numbers instead of `Long`. */
export interface DecodedMetric {
  name: string | undefined;
  alias: number | undefined;
  /** Sparkplug data type name, e.g. `Int32`, `Double`, `Boolean`, `String`. */
  type: string | undefined;
  /** The value, or undefined when null or of a type Gemba does not take (DataSet, Template, Bytes). */
  value: SampleValue | undefined;
  isNull: boolean;
  timestamp: number | undefined;
}

/** A decoded payload. */
export interface DecodedPayload {
  timestamp: number | undefined;
  seq: number | undefined;
  metrics: DecodedMetric[];
}

/** A 64-bit field as a number (sparkplug-payload decodes them as `Long`). */
export function toNumber(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (
    typeof v === 'object' &&
    'toNumber' in v &&
    typeof (v as { toNumber: unknown }).toNumber === 'function'
  ) {
    return (v as { toNumber(): number }).toNumber();
  }
  return undefined;
}

function metricValue(m: UMetric): SampleValue | undefined {
  const v = m.value;
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  const n = toNumber(v);
  return n;
}

/**
 * Decodes a Sparkplug B payload (Sparkplug 3.0 §6.4). Throws on malformed protobuf; the
 * caller reports it.
 */
export function decodeSparkplug(bytes: Uint8Array): DecodedPayload {
  const p: UPayload = sparkplugCodec.decodePayload(bytes);
  const metrics: DecodedMetric[] = [];
  for (const m of p.metrics ?? []) {
    metrics.push({
      name: m.name ?? undefined,
      alias: toNumber(m.alias),
      type: m.type,
      value: metricValue(m as UMetric),
      isNull: m.isNull === true || m.value === null || m.value === undefined,
      timestamp: toNumber(m.timestamp),
    });
  }
  return { timestamp: toNumber(p.timestamp), seq: toNumber(p.seq), metrics };
}

/** Encodes a payload (NCMD/DCMD writes, and test edge nodes). */
export function encodeSparkplug(payload: UPayload): Uint8Array {
  return sparkplugCodec.encodePayload(payload);
}

/** The Sparkplug type for a value to write, when the birth did not say. */
export function inferType(value: SampleValue): 'Boolean' | 'Double' | 'String' {
  return typeof value === 'boolean' ? 'Boolean' : typeof value === 'number' ? 'Double' : 'String';
}
