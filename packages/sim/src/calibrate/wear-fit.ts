import type { Sample } from '@gemba/core';
import type { DistributionSpec } from '../random/distributions.ts';
import { median } from '../stats/robust.ts';

/** A span of station time in one state, ms (running and down spans are what the wear fit reads). */
export interface StateSpan {
  state: string;
  start: number;
  end: number;
}

/** A failure after which the condition signal fell back: the worn part was renewed. */
export interface WearFailure {
  /** When the station went down, ms. */
  atMs: number;
  /** When it ran again, ms. */
  repairedMs: number;
  /** The condition level just before the failure (median while running in the last minutes). */
  level: number;
  /** The level after the renewal (median while running in the first minutes). */
  newLevel: number;
}

/** A station's condition signal fitted as wear: ln(level) grows linearly with running time. */
export interface WearFit {
  /** The condition signal's path. */
  signal: string;
  /** Growth of ln(level) per running second, with its standard error (least squares). */
  growthPerS: { value: number; se: number };
  /** Running share of wall time in the window (to move the level in time outside it). */
  runningShare: number;
  /** The fitted level at the window's start and end (and after renewals inside it), ms → level. */
  levels: { atMs: number; level: number; renewal?: boolean }[];
  /** Renewals seen over the history (failures after which the level fell). */
  failures: WearFailure[];
  /** The level at which the part fails: from the renewals seen, else the signal's hihi limit. */
  failAt: DistributionSpec;
  failAtSource: 'observed' | 'limit';
  /** The level of a renewed part (after renewals seen, else the lowest fitted level). */
  newLevel: number;
  /** Residual sd of ln(level) around the fitted line (5-min medians). */
  residualSd: number;
  notes: string[];
}

const BUCKET_MS = 300_000;
/** Samples this close to a change of state are left out (the signal lags the state by a period). */
const EDGE_MS = 2_000;
/** A renewal: the level after the repair is below this fraction of the level before. */
const RENEWAL_RATIO = 0.6;
/** The spread of a failure level known from one renewal or a limit only (relative sd). */
const DEFAULT_FAIL_CV = 0.05;

/**
 * Fits a condition signal (e.g. bearing vibration) as wear: measured while the station runs,
 * its logarithm grows linearly with running time (exponential growth, as bearing damage does),
 * and a failure after which the level falls back (below 60 % of the level before) is a renewal
 * of the worn part. The growth comes from the window (`windowFromMs`–`windowToMs`), the failure
 * level from the renewals over the whole history given; without any renewal the signal's
 * high-high alarm limit (`hihiLimit`, e.g. the ISO 10816-3 zone D boundary) is taken as the
 * failure level. Returns undefined when the signal does not grow (growth under 3 standard
 * errors) or there is too little data, or when no failure level is known.
 *
 * Needs `spans` (the station's running and down spans over the history, sorted) and the
 * signal's raw samples over the same history.
 */
export function fitWear(
  signal: string,
  samples: readonly Sample[],
  spans: readonly StateSpan[],
  windowFromMs: number,
  windowToMs: number,
  hihiLimit: number | undefined,
): WearFit | undefined {
  const notes: string[] = [];
  const running = spans.filter((s) => s.state === 'running');
  // Samples taken while running, away from the span's edges; with cumulative running seconds.
  const pts: { t: number; r: number; v: number }[] = [];
  let k = 0;
  let runBefore = 0;
  for (const s of samples) {
    if (typeof s.value !== 'number' || s.quality !== 'good' || !(s.value > 0)) continue;
    while (k < running.length && (running[k] as StateSpan).end <= s.ts) {
      const x = running[k] as StateSpan;
      runBefore += x.end - x.start;
      k++;
    }
    const x = running[k];
    if (x === undefined || s.ts < x.start + EDGE_MS || s.ts > x.end - EDGE_MS) continue;
    pts.push({ t: s.ts, r: (runBefore + s.ts - x.start) / 1000, v: s.value });
  }
  if (pts.length < 100) return undefined;
  const runAt = (t: number): number => {
    let sum = 0;
    for (const x of running) {
      if (x.start >= t) break;
      sum += Math.min(x.end, t) - x.start;
    }
    return sum / 1000;
  };
  // Renewals: a down span after which the running level fell back.
  const downs = spans.filter((s) => s.state === 'down');
  const failures: WearFailure[] = [];
  for (const d of downs) {
    const before = pts.filter((p) => p.t < d.start && p.t >= d.start - 600_000).map((p) => p.v);
    const after = pts.filter((p) => p.t > d.end && p.t <= d.end + 600_000).map((p) => p.v);
    if (before.length < 10 || after.length < 10) continue;
    const lb = median(before.slice(-120));
    const la = median(after.slice(0, 120));
    if (la < RENEWAL_RATIO * lb) failures.push({ atMs: d.start, repairedMs: d.end, level: lb, newLevel: la });
  }
  // Growth from the window: 5-min medians of ln(level) against running seconds, one intercept
  // per stretch between renewals, a common slope.
  const cuts = failures.map((f) => f.repairedMs);
  const segOf = (t: number): number => cuts.filter((c) => c <= t).length;
  const buckets = new Map<string, { seg: number; r: number[]; v: number[] }>();
  for (const p of pts) {
    if (p.t < windowFromMs || p.t >= windowToMs) continue;
    const seg = segOf(p.t);
    const key = `${seg}:${Math.floor(p.t / BUCKET_MS)}`;
    let b = buckets.get(key);
    if (b === undefined) {
      b = { seg, r: [], v: [] };
      buckets.set(key, b);
    }
    b.r.push(p.r);
    b.v.push(p.v);
  }
  const rows = [...buckets.values()]
    .filter((b) => b.v.length >= 10)
    .map((b) => ({ seg: b.seg, x: b.r.reduce((a, v) => a + v, 0) / b.r.length, y: Math.log(median(b.v)) }));
  if (rows.length < 6) return undefined;
  const segs = [...new Set(rows.map((r) => r.seg))];
  const mean = new Map<number, { x: number; y: number }>();
  for (const s of segs) {
    const rs = rows.filter((r) => r.seg === s);
    mean.set(s, {
      x: rs.reduce((a, r) => a + r.x, 0) / rs.length,
      y: rs.reduce((a, r) => a + r.y, 0) / rs.length,
    });
  }
  let sxx = 0;
  let sxy = 0;
  for (const r of rows) {
    const m = mean.get(r.seg) as { x: number; y: number };
    sxx += (r.x - m.x) ** 2;
    sxy += (r.x - m.x) * (r.y - m.y);
  }
  if (!(sxx > 0)) return undefined;
  const g = sxy / sxx;
  let sse = 0;
  for (const r of rows) {
    const m = mean.get(r.seg) as { x: number; y: number };
    sse += (r.y - m.y - g * (r.x - m.x)) ** 2;
  }
  const dof = Math.max(1, rows.length - segs.length - 1);
  const residualSd = Math.sqrt(sse / dof);
  const se = residualSd / Math.sqrt(sxx);
  if (!(g > 3 * se)) return undefined;
  const levelAt = (t: number): number => {
    const s = segOf(t);
    const m = mean.get(s) ?? mean.get(segs[segs.length - 1] as number);
    if (m === undefined) return Number.NaN;
    return Math.exp(m.y + g * (runAt(t) - m.x));
  };
  const levels: { atMs: number; level: number; renewal?: boolean }[] = [
    { atMs: windowFromMs, level: levelAt(windowFromMs) },
  ];
  for (const f of failures) {
    if (f.repairedMs > windowFromMs && f.repairedMs < windowToMs && mean.has(segOf(f.repairedMs)))
      levels.push({ atMs: f.repairedMs, level: levelAt(f.repairedMs), renewal: true });
  }
  levels.push({ atMs: windowToMs, level: levelAt(windowToMs) });
  const runningShare = (runAt(windowToMs) - runAt(windowFromMs)) / ((windowToMs - windowFromMs) / 1000);

  let failAt: DistributionSpec;
  let failAtSource: WearFit['failAtSource'];
  if (failures.length >= 2) {
    const ls = failures.map((f) => f.level);
    const m = ls.reduce((a, v) => a + v, 0) / ls.length;
    const sd = Math.sqrt(ls.reduce((a, v) => a + (v - m) ** 2, 0) / (ls.length - 1));
    failAt = { family: 'normal', mean: m, sd: Math.max(sd, 0.02 * m), min: 0 };
    failAtSource = 'observed';
  } else if (failures.length === 1) {
    const m = (failures[0] as WearFailure).level;
    failAt = { family: 'normal', mean: m, sd: DEFAULT_FAIL_CV * m, min: 0 };
    failAtSource = 'observed';
    notes.push(
      `one renewal seen: failure level ${m.toFixed(2)} with an assumed ${DEFAULT_FAIL_CV * 100} % spread`,
    );
  } else if (hihiLimit !== undefined && hihiLimit > 0) {
    failAt = { family: 'normal', mean: hihiLimit, sd: DEFAULT_FAIL_CV * hihiLimit, min: 0 };
    failAtSource = 'limit';
    notes.push(
      `no renewal seen: failure assumed at the signal's high-high limit ${hihiLimit} with a ${DEFAULT_FAIL_CV * 100} % spread`,
    );
  } else return undefined;
  const newLevel =
    failures.length > 0
      ? median(failures.map((f) => f.newLevel))
      : Math.min(...levels.map((l) => l.level).filter((x) => Number.isFinite(x)));
  if (failures.length === 0)
    notes.push(`no renewal seen: a new part assumed at the lowest fitted level ${newLevel.toFixed(2)}`);
  return {
    signal,
    growthPerS: { value: g, se },
    runningShare,
    levels,
    failures,
    failAt,
    failAtSource,
    newLevel,
    residualSd,
    notes,
  };
}
