import type { MachineState } from '@gemba/core';
import type { StateInterval } from './station-tracker.ts';
import type { Bottleneck, BottleneckShare } from './types.ts';

/**
 * Whether a state is "active" in the active-period method (Roser, Nakano, Tanaka 2001/2002):
 * working, in a micro-stop, broken down or under maintenance are active; waiting for parts
 * (starved), waiting to deliver (blocked), idle, stopped and offline are not.
 */
export function isActive(state: MachineState): boolean {
  return state === 'running' || state === 'micro-stop' || state === 'down' || state === 'maintenance';
}

interface Period {
  station: number;
  start: number;
  end: number;
}

/** Merges a station's intervals into its active periods (contiguous runs of active states). */
export function activePeriods(intervals: readonly StateInterval[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const x of intervals) {
    if (!isActive(x.state) || x.endMs <= x.startMs) continue;
    const last = out[out.length - 1];
    if (last !== undefined && x.startMs <= last[1]) last[1] = Math.max(last[1], x.endMs);
    else out.push([x.startMs, x.endMs]);
  }
  return out;
}

/**
 * The bottleneck of a line over [fromMs, toMs) by the active-period method: at each moment the
 * station with the longest active period covering that moment is the bottleneck; where the
 * active periods of successive bottlenecks overlap, the bottleneck is shifting, elsewhere it is
 * the sole bottleneck. `stations` are the station paths, `intervals` their state intervals
 * clipped to the window (same order).
 */
export function computeBottleneck(
  line: string,
  stations: readonly string[],
  intervals: ReadonlyArray<readonly StateInterval[]>,
  fromMs: number,
  toMs: number,
): Bottleneck {
  const periods: Period[][] = stations.map((_, i) =>
    activePeriods(intervals[i] ?? []).map(([start, end]) => ({ station: i, start, end })),
  );
  const bounds = new Set<number>([fromMs, toMs]);
  for (const ps of periods)
    for (const p of ps)
      bounds.add(Math.max(fromMs, Math.min(toMs, p.start))).add(Math.max(fromMs, Math.min(toMs, p.end)));
  const points = [...bounds].sort((a, b) => a - b);
  const cursor = new Array<number>(stations.length).fill(0);
  // Segments with their bottleneck period.
  const segs: Array<{ a: number; b: number; p: Period }> = [];
  for (let k = 0; k + 1 < points.length; k++) {
    const a = points[k] as number;
    const b = points[k + 1] as number;
    if (b <= a) continue;
    let best: Period | undefined;
    for (let s = 0; s < stations.length; s++) {
      const ps = periods[s] as Period[];
      let c = cursor[s] as number;
      while (c < ps.length && (ps[c] as Period).end <= a) c++;
      cursor[s] = c;
      const p = ps[c];
      if (p === undefined || p.start > a) continue;
      if (best === undefined || p.end - p.start > best.end - best.start) best = p;
    }
    if (best === undefined) continue;
    const last = segs[segs.length - 1];
    if (last !== undefined && last.p === best && last.b === a) last.b = b;
    else segs.push({ a, b, p: best });
  }
  const sole = new Array<number>(stations.length).fill(0);
  const shifting = new Array<number>(stations.length).fill(0);
  let lastShifting = false;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k] as { a: number; b: number; p: Period };
    const prev = segs[k - 1]?.p;
    const next = segs[k + 1]?.p;
    const covers = (p: Period | undefined, t: number): boolean =>
      p !== undefined && p.station !== seg.p.station && p.start <= t && p.end > t;
    // Split the segment where a neighbouring bottleneck's period overlaps it.
    let overlapStart = seg.b;
    let overlapEnd = seg.a;
    if (prev !== undefined && prev.station !== seg.p.station && prev.end > seg.a) {
      overlapStart = seg.a;
      overlapEnd = Math.min(seg.b, prev.end);
    }
    if (next !== undefined && next.station !== seg.p.station && next.start < seg.b) {
      overlapStart = Math.min(overlapStart, Math.max(seg.a, next.start));
      overlapEnd = Math.max(overlapEnd, seg.b);
    }
    const shiftMs = Math.max(0, overlapEnd - overlapStart);
    const len = seg.b - seg.a;
    shifting[seg.p.station] = (shifting[seg.p.station] as number) + Math.min(len, shiftMs);
    sole[seg.p.station] = (sole[seg.p.station] as number) + len - Math.min(len, shiftMs);
    if (k === segs.length - 1) lastShifting = covers(prev, seg.b - 1e-6) || covers(next, seg.b - 1e-6);
  }
  const total = toMs - fromMs;
  const shares: BottleneckShare[] = stations.map((station, i) => {
    const so = total > 0 ? (sole[i] as number) / total : 0;
    const sh = total > 0 ? (shifting[i] as number) / total : 0;
    return { station, soleShare: so, shiftingShare: sh, share: so + sh };
  });
  shares.sort((a, b) => b.share - a.share);
  const lastSeg = segs[segs.length - 1];
  const momentary =
    lastSeg !== undefined && lastSeg.b >= toMs ? (stations[lastSeg.p.station] as string) : null;
  const top = shares[0];
  return {
    line,
    momentary,
    shifting: momentary !== null && lastShifting,
    fromMs,
    toMs,
    shares,
    average: top !== undefined && top.share > 0 ? top.station : null,
  };
}
