import type { MachineState, SignalMeta, ValueEntry } from './types.ts';

/** A number with sensible precision and its unit. */
export function fmtValue(v: unknown, unit?: string, digits?: number): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'ON' : 'OFF';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '—';
    const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
    return `${v.toFixed(d)}${unit !== undefined ? ` ${unit}` : ''}`;
  }
  return String(v);
}

/** A ratio 0..1 as a percentage. */
export function pct(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '—' : `${(r * 100).toFixed(1)} %`;
}

/** A time of day in the plant's time zone. */
export function fmtTime(ms: number, timeZone: string, withDate = false): string {
  if (!Number.isFinite(ms) || ms <= 0) return '—';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    ...(withDate ? { year: 'numeric', month: '2-digit', day: '2-digit' } : {}),
  }).format(ms);
}

/** A duration like `1 h 05 min` or `42 s`. */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 0) return '0 s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * Why a value must not look live: `bad`, `stale`, `no data`, or null when it is fine.
 * `clockRate` is plant time per wall time: acquisition periods are wall time, so in an
 * accelerated demo (×60) a value is stale only after 60× as much plant time.
 */
export function valueStatus(
  e: ValueEntry | undefined,
  meta: SignalMeta | undefined,
  nowMs: number,
  clockRate = 1,
): 'bad' | 'stale' | 'no data' | 'uncertain' | null {
  if (e === undefined || e.value === null || e.ts <= 0) return 'no data';
  if (e.quality === 'bad') return 'bad';
  // Counters, states and setpoints are reported by exception (OPC UA data changes, Sparkplug
  // report-by-exception): silence means "unchanged", so only continuously sampled values go stale.
  const period = meta?.periodMs;
  const continuous = meta?.role === 'process_value' || meta?.role === 'power' || meta?.role === 'energy';
  if (
    continuous &&
    period !== undefined &&
    nowMs - e.ts > Math.max(5 * period, 10_000) * Math.max(1, clockRate)
  )
    return 'stale';
  if (e.quality === 'uncertain') return 'uncertain';
  return null;
}

/** True when a numeric value is outside its normal range. */
export function outOfNormal(v: unknown, meta: SignalMeta | undefined): boolean {
  if (typeof v !== 'number' || meta?.normal === undefined) return false;
  const { min, max } = meta.normal;
  return (min !== undefined && v < min) || (max !== undefined && v > max);
}

/** ISA-101: states as text and shape; colour only where attention is needed. */
export const STATE_LOOK: Record<
  MachineState,
  { label: string; shape: string; attention: 'none' | 'low' | 'high' }
> = {
  running: { label: 'RUNNING', shape: '▶', attention: 'none' },
  starved: { label: 'STARVED', shape: '◁', attention: 'none' },
  blocked: { label: 'BLOCKED', shape: '▷', attention: 'none' },
  idle: { label: 'IDLE', shape: '‖', attention: 'none' },
  'micro-stop': { label: 'MICRO-STOP', shape: '◆', attention: 'low' },
  down: { label: 'DOWN', shape: '✖', attention: 'high' },
  maintenance: { label: 'MAINTENANCE', shape: '⚒', attention: 'none' },
  stopped: { label: 'STOPPED', shape: '■', attention: 'none' },
  offline: { label: 'OFFLINE', shape: '?', attention: 'low' },
};

/** A value of an enumerated signal as its name. */
export function enumName(v: unknown, meta: SignalMeta | undefined): string | undefined {
  if (meta?.enum === undefined || typeof v !== 'number') return undefined;
  if (meta.enum === 'packml') return PACKML[v];
  return meta.enum[String(v)];
}

const PACKML: Record<number, string> = {
  0: 'Undefined',
  1: 'Clearing',
  2: 'Stopped',
  3: 'Starting',
  4: 'Idle',
  5: 'Suspended',
  6: 'Execute',
  7: 'Stopping',
  8: 'Aborting',
  9: 'Aborted',
  10: 'Holding',
  11: 'Held',
  12: 'Unholding',
  13: 'Suspending',
  14: 'Unsuspending',
  15: 'Resetting',
  16: 'Completing',
  17: 'Complete',
};

/** Offset of `timeZone` from UTC at `utcMs`, ms (positive east of Greenwich). */
function tzOffsetMs(timeZone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(utcMs);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** A plant-local wall time `YYYY-MM-DDTHH:MM` in `timeZone` as ms since epoch (NaN if unreadable). */
export function plantLocalToMs(local: string, timeZone: string): number {
  const guess = Date.parse(`${local.length === 16 ? `${local}:00` : local}Z`);
  if (!Number.isFinite(guess)) return Number.NaN;
  const off = tzOffsetMs(timeZone, guess);
  return guess - tzOffsetMs(timeZone, guess - off);
}
