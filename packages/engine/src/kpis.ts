import type { MachineState } from '@gemba/core';
import { MACHINE_STATES } from '@gemba/core';
import { overlapMs } from './shift-calendar.ts';
import type { PartEvents, StateInterval, StationTracker } from './station-tracker.ts';
import type { DowntimeReason, Oee, StateDurations, Throughput } from './types.ts';

const HOUR_MS = 3_600_000;

/** Zero durations for every machine state. */
export function emptyDurations(): StateDurations {
  const d = {} as StateDurations;
  for (const s of MACHINE_STATES) d[s] = 0;
  return d;
}

/** Time per state of intervals, ms. */
export function stateDurations(intervals: readonly StateInterval[]): StateDurations {
  const d = emptyDurations();
  for (const x of intervals) d[x.state] += x.endMs - x.startMs;
  return d;
}

/** Increments of a counter with ts inside sorted disjoint intervals [a, b). */
export function countIn(events: PartEvents, planned: ReadonlyArray<readonly [number, number]>): number {
  let n = 0;
  // (a - ε, b - ε] approximates [a, b) for the counter's "after" semantics.
  for (const [a, b] of planned) n += events.sum(a - 1e-6, b - 1e-6);
  return n;
}

/** Whether a state counts as actual production time (ISO 22400-2 APT; micro-stops are a speed loss). */
export function isProducing(state: MachineState): boolean {
  return state === 'running' || state === 'micro-stop';
}

/**
 * ISO 22400-2 OEE of one station over [fromMs, toMs) within planned operation time `planned`.
 * PBT = POT − PDOT (maintenance); APT = running + micro-stop time; A = APT / PBT;
 * E = ICT × PQ / APT; Q = GQ / PQ; OEE = A × E × Q.
 */
export function computeOee(
  tracker: StationTracker,
  fromMs: number,
  toMs: number,
  planned: ReadonlyArray<readonly [number, number]>,
  idealCycleTimeS: number,
): Oee {
  let pot = 0;
  for (const [a, b] of planned) pot += b - a;
  let apt = 0;
  let pdot = 0;
  let adot = 0;
  for (const x of tracker.intervalsIn(fromMs, toMs)) {
    const p = overlapMs(x.startMs, x.endMs, planned);
    if (p <= 0) continue;
    if (isProducing(x.state)) apt += p;
    else if (x.state === 'maintenance') pdot += p;
    else if (x.state === 'down') adot += p;
  }
  const pq = countIn(tracker.produced, planned);
  let gq = countIn(tracker.good, planned);
  const sq = countIn(tracker.scrap, planned);
  // A station reporting scrap but no good counter: good = produced − scrap.
  if (tracker.good.ts.length === 0 && Number.isNaN(tracker.lastCounter[1] as number))
    gq = Math.max(0, pq - sq);
  return oeeFrom({
    fromMs,
    toMs,
    pbt: pot - pdot,
    apt,
    pdot,
    adot,
    pq,
    gq,
    sq,
    ict: idealCycleTimeS,
  });
}

/** OEE figures from ISO 22400-2 base quantities. */
export function oeeFrom(q: {
  fromMs: number;
  toMs: number;
  pbt: number;
  apt: number;
  pdot: number;
  adot: number;
  pq: number;
  gq: number;
  sq: number;
  ict: number;
}): Oee {
  const availability = q.pbt > 0 ? q.apt / q.pbt : Number.NaN;
  const effectiveness = q.apt > 0 && Number.isFinite(q.ict) ? (q.ict * 1000 * q.pq) / q.apt : Number.NaN;
  const qualityRate = q.pq > 0 ? q.gq / q.pq : Number.NaN;
  return {
    fromMs: q.fromMs,
    toMs: q.toMs,
    plannedBusyTimeMs: q.pbt,
    actualProductionTimeMs: q.apt,
    plannedDownTimeMs: q.pdot,
    unplannedDownTimeMs: q.adot,
    producedQuantity: q.pq,
    goodQuantity: q.gq,
    scrapQuantity: q.sq,
    idealCycleTimeS: q.ict,
    availability,
    effectiveness,
    qualityRate,
    oee: availability * effectiveness * qualityRate,
  };
}

/** Throughput of a counter over trailing windows ending at `nowMs`, parts/h. */
export function throughput(
  events: PartEvents,
  nowMs: number,
  shiftPlanned: ReadonlyArray<readonly [number, number]>,
): Throughput {
  let shiftMs = 0;
  for (const [a, b] of shiftPlanned) shiftMs += Math.min(b, nowMs) - a;
  return {
    partsPerHour1m: (events.sum(nowMs - 60_000, nowMs) * HOUR_MS) / 60_000,
    partsPerHour15m: (events.sum(nowMs - 900_000, nowMs) * HOUR_MS) / 900_000,
    partsPerHour60m: (events.sum(nowMs - HOUR_MS, nowMs) * HOUR_MS) / HOUR_MS,
    partsPerHourShift: shiftMs > 0 ? (countIn(events, shiftPlanned) * HOUR_MS) / shiftMs : 0,
  };
}

/** Non-running time by state and reason, longest first (Pareto). */
export function downtimePareto(intervals: readonly StateInterval[]): DowntimeReason[] {
  const by = new Map<string, DowntimeReason>();
  for (const x of intervals) {
    if (x.state === 'running') continue;
    const key = x.reason === undefined ? x.state : `${x.state}:${x.reason}`;
    let r = by.get(key);
    if (r === undefined) {
      r = { reason: key, state: x.state, durationMs: 0, count: 0 };
      by.set(key, r);
    }
    r.durationMs += x.endMs - x.startMs;
    r.count++;
  }
  return [...by.values()].sort((a, b) => b.durationMs - a.durationMs);
}

/**
 * MTBF and MTTR (ISO 22400-2: mean operating time between failures, mean time to repair) over
 * intervals: failures are `down` intervals (adjacent ones with different reasons are one failure
 * only when separated by another state).
 */
export function reliability(intervals: readonly StateInterval[]): { mtbfMs: number; mttrMs: number } {
  let failures = 0;
  let repairMs = 0;
  let operatingMs = 0;
  let prev: MachineState | undefined;
  for (const x of intervals) {
    const d = x.endMs - x.startMs;
    if (x.state === 'down') {
      if (prev !== 'down') failures++;
      repairMs += d;
    } else if (isProducing(x.state)) operatingMs += d;
    prev = x.state;
  }
  return failures > 0
    ? { mtbfMs: operatingMs / failures, mttrMs: repairMs / failures }
    : { mtbfMs: Number.NaN, mttrMs: Number.NaN };
}

/** Mean actual cycle time over [fromMs, toMs): running time per part produced, s; NaN without parts. */
export function actualCycleTimeS(tracker: StationTracker, fromMs: number, toMs: number): number {
  let run = 0;
  for (const x of tracker.intervalsIn(fromMs, toMs)) if (isProducing(x.state)) run += x.endMs - x.startMs;
  const n = tracker.produced.sum(fromMs, toMs);
  return n > 0 ? run / 1000 / n : Number.NaN;
}
