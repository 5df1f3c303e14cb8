import type { DataType, SampleValue } from '@gemba/core';

/** The result of extracting one binding's value from a JSON payload. */
export type JsonExtract =
  | { ok: true; value: SampleValue; ts: number | undefined }
  | { ok: false; problem: 'mapping-mismatch' | 'wrong-type' | 'bad-timestamp'; reason: string; ts?: number };

/** Parses a JSON payload; returns undefined when it is not JSON. */
export function parseJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Follows a dotted path with array indexes (`meter.readings[0].value`); undefined when absent. */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const m of path.matchAll(SEGMENT)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = m[1] ?? Number(m[2]);
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/**
 * Extracts a binding's value (and timestamp) from a parsed document, checking it against the
 * signal's data type. Numbers for numeric signals (finite), booleans (or 0/1) for `bool`,
 * strings for `string`. A timestamp is ms since epoch or an ISO 8601 string.
 */
export function extract(
  doc: unknown,
  field: string,
  timestampField: string | undefined,
  dataType: DataType,
): JsonExtract {
  const raw = getPath(doc, field);
  let ts: number | undefined;
  if (timestampField !== undefined) {
    const t = getPath(doc, timestampField);
    ts = typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : Number.NaN;
    if (!Number.isFinite(ts)) {
      return {
        ok: false,
        problem: 'bad-timestamp',
        reason: `timestamp field '${timestampField}' is ${JSON.stringify(t) ?? 'missing'}`,
      };
    }
  }
  if (raw === undefined || raw === null || typeof raw === 'object') {
    return {
      ok: false,
      problem: 'mapping-mismatch',
      reason: `field '${field}' is ${raw === undefined ? 'missing' : `${JSON.stringify(raw).slice(0, 60)}`}`,
      ...(ts !== undefined ? { ts } : {}),
    };
  }
  const wrong = (): JsonExtract => ({
    ok: false,
    problem: 'wrong-type',
    reason: `field '${field}' is ${typeof raw} ${JSON.stringify(raw).slice(0, 60)}, the signal is ${dataType}`,
    ...(ts !== undefined ? { ts } : {}),
  });
  switch (dataType) {
    case 'bool':
      if (typeof raw === 'boolean') return { ok: true, value: raw, ts };
      if (raw === 0 || raw === 1) return { ok: true, value: raw === 1, ts };
      return wrong();
    case 'string':
      return typeof raw === 'string' ? { ok: true, value: raw, ts } : wrong();
    default:
      if (typeof raw === 'number' && Number.isFinite(raw)) {
        if ((dataType === 'int' || dataType === 'uint') && !Number.isInteger(raw)) return wrong();
        if (dataType === 'uint' && raw < 0) return wrong();
        return { ok: true, value: raw, ts };
      }
      return wrong();
  }
}
