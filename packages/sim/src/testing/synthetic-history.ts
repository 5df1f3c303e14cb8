import {
  type Historian,
  type HistorianEvent,
  type Model,
  SampleBatchBuilder,
  type StateEventData,
} from '@gemba/core';
import type { LineConfig } from '../line/line-config.ts';
import { type RunResult, type SimState, simulateLine } from '../line/line-sim.ts';
import { standardNormal } from '../random/distributions.ts';
import { Rng } from '../random/rng.ts';

/** Options of {@link writeSyntheticHistory}. */
export interface SyntheticHistoryOptions {
  seed: number;
  /** Wall-clock time of simulated t = 0, ms since epoch. */
  fromMs: number;
  /** Simulated seconds to record. */
  horizonS: number;
  /** Period of the oven zone temperature samples, s (default 10). */
  zonePeriodS?: number;
  /** Sensor noise on zone temperatures, °C (default 0.2). */
  zoneNoiseC?: number;
}

/**
 * Writes what the engine would have recorded had the line run as `config` says: state events
 * per station (kind `state`), raw counter samples at every finished part, oven zone
 * temperatures (every `zonePeriodS`, plus the cure temperature at each oven part) and
 * setpoints. For calibration tests: calibrating from this history must recover `config`.
 */
export async function writeSyntheticHistory(
  historian: Historian,
  model: Model,
  config: LineConfig,
  options: SyntheticHistoryOptions,
): Promise<RunResult> {
  const line = model.line(config.line);
  if (line === undefined) throw new Error(`no line ${config.line}`);
  const pathOf = new Map(line.stations.map((s) => [s.id, s.path]));
  const ms = (t: number): number => options.fromMs + Math.round(t * 1000);
  const events: HistorianEvent[] = [];
  const open = new Map<string, { state: SimState; start: number }>();
  const close = (id: string, t: number): void => {
    const o = open.get(id);
    const path = pathOf.get(id) as string;
    if (o === undefined || ms(t) <= o.start) return;
    const data: StateEventData = {
      state: o.state,
      startMs: o.start,
      endMs: ms(t),
      durationMs: ms(t) - o.start,
    };
    events.push({
      id: `${path}@${o.start}`,
      kind: 'state',
      source: path,
      ts: o.start,
      data: data as unknown as Record<string, unknown>,
    });
  };
  for (const s of config.stations) open.set(s.id, { state: 'starved', start: options.fromMs });
  const counts = new Map(config.stations.map((s) => [s.id, { total: 0, good: 0, scrap: 0 }]));
  let batch = new SampleBatchBuilder(4096);
  const pending: Promise<void>[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    pending.push(historian.append(batch.build()));
    batch = new SampleBatchBuilder(4096);
  };
  const oven = config.oven;
  const ovenPath = oven === undefined ? undefined : pathOf.get(oven.station);
  const result = simulateLine(
    config,
    { seed: options.seed, horizonS: options.horizonS },
    {
      state(id, state, t) {
        close(id, t);
        open.set(id, { state, start: ms(t) });
      },
      part(id, t, scrap, cure) {
        const c = counts.get(id) as { total: number; good: number; scrap: number };
        c.total++;
        if (scrap) c.scrap++;
        else c.good++;
        const path = pathOf.get(id) as string;
        batch.pushNumber(`${path}/parts_total`, ms(t), c.total);
        batch.pushNumber(`${path}/parts_good`, ms(t), c.good);
        batch.pushNumber(`${path}/parts_scrap`, ms(t), c.scrap);
        if (cure !== undefined && oven !== undefined)
          batch.pushNumber(`${ovenPath}/${oven.qualityZone}/temperature`, ms(t), cure);
        if (batch.length > 4000) flush();
      },
    },
  );
  for (const s of config.stations) close(s.id, options.horizonS);
  // Oven zones: the same first-order response as the model, sampled with sensor noise.
  if (oven !== undefined && ovenPath !== undefined) {
    const rng = new Rng(options.seed, 'synthetic/zones');
    const period = options.zonePeriodS ?? 10;
    const noise = options.zoneNoiseC ?? 0.2;
    for (const z of oven.zones) {
      const changes = (oven.setpointChanges ?? [])
        .filter((c) => c.zone === z.id)
        .sort((a, b) => a.atS - b.atS);
      let sp = z.setpointC;
      let goal = Math.min(sp, z.ambientC + z.maxRiseC);
      let temp = z.initialC ?? goal;
      let t0 = 0;
      let k = 0;
      batch.pushNumber(`${ovenPath}/${z.id}/setpoint`, ms(0), sp);
      for (let t = 0; t < options.horizonS; t += period) {
        while (k < changes.length && (changes[k] as { atS: number }).atS <= t) {
          const ch = changes[k++] as { atS: number; setpointC: number };
          temp = goal + (temp - goal) * Math.exp(-(ch.atS - t0) / z.timeConstantS);
          t0 = ch.atS;
          sp = ch.setpointC;
          goal = Math.min(sp, z.ambientC + z.maxRiseC);
          batch.pushNumber(`${ovenPath}/${z.id}/setpoint`, ms(ch.atS), sp);
        }
        const v = goal + (temp - goal) * Math.exp(-(t - t0) / z.timeConstantS) + noise * standardNormal(rng);
        // Leave the quality zone's per-part samples alone where a periodic sample would land on the same ms.
        batch.pushNumber(`${ovenPath}/${z.id}/temperature`, ms(t) - 1, v);
        if (batch.length > 4000) flush();
      }
    }
  }
  flush();
  await Promise.all(pending);
  await historian.appendEvents(events);
  return result;
}
