import type { Quality, SampleValue } from '@gemba/core';

/**
 * The quality of an OPC UA status code: its top two bits are the severity (OPC UA Part 4
 * §7.39: 00 good, 01 uncertain, 10/11 bad).
 */
export function qualityOf(statusCode: number): Quality {
  const severity = (statusCode >>> 30) & 0b11;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/**
 * An OPC UA variant value as a sample value: numbers, booleans and strings as they are;
 * Int64/UInt64 (node-opcua's `[high, low]` pairs) as numbers; DateTime as ms since epoch;
 * LocalizedText as its text. Undefined for what Gemba does not take (arrays, structures).
 */
export function sampleValueOf(v: unknown, dataTypeName: string | undefined): SampleValue | undefined {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v) && v.length === 2 && (dataTypeName === 'Int64' || dataTypeName === 'UInt64')) {
    const [hi, lo] = v as [number, number];
    return dataTypeName === 'Int64' ? (hi | 0) * 2 ** 32 + (lo >>> 0) : (hi >>> 0) * 2 ** 32 + (lo >>> 0);
  }
  if (
    typeof v === 'object' &&
    v !== null &&
    'text' in v &&
    typeof (v as { text: unknown }).text === 'string'
  ) {
    return (v as { text: string }).text;
  }
  return undefined;
}
