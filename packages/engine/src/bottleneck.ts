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
  // Roser: where the active period of one bottleneck overlaps the next bottleneck's, both are
  // shifting bottlenecks; the rest of a bottleneck's time it is the sole bottleneck.
  const sole = new Array<number>(stations.length).fill(0);
  const shifting = new Array<number>(stations.length).fill(0);
  let lastShifting = false;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k] as { a: number; b: number; p: Period };
    const st = seg.p.station;
    const overlaps: Array<[number, number]> = [];
    for (const other of [segs[k - 1]?.p, segs[k + 1]?.p]) {
      if (other === undefined || other.station === st) continue;
      const s0 = Math.max(fromMs, other.start, seg.p.start);
      const e0 = Math.min(toMs, other.end, seg.p.end);
      if (e0 > s0) overlaps.push([s0, e0]);
    }
    overlaps.sort((x, y) => x[0] - y[0]);
    let shiftMs = 0;
    let inSeg = 0;
    let cursorMs = Number.NEGATIVE_INFINITY;
    for (const [s0, e0] of overlaps) {
      const s1 = Math.max(s0, cursorMs);
      if (e0 > s1) {
        shiftMs += e0 - s1;
        inSeg += Math.max(0, Math.min(e0, seg.b) - Math.max(s1, seg.a));
        cursorMs = e0;
      }
    }
    shifting[st] = (shifting[st] as number) + shiftMs;
    sole[st] = (sole[st] as number) + (seg.b - seg.a) - inSeg;
    // The momentary bottleneck is shifting when its active period overlaps the previous
    // bottleneck's (a handover without a gap). The overlap itself always lies in the past: an
    // earlier bottleneck still active now would have the longer ongoing period and be it.
    if (k === segs.length - 1) lastShifting = overlaps.length > 0;
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
