/**
 * One line of the emulator's ground-truth log (JSONL, one event per line). Only validation
 * tests read it; Gemba never does. `ts` is the emulator's time (ms since epoch).
 *
 * - `part-start` / `part-finish`: a part entered / left processing at a station
 *   (`outcome` good or scrap on finish).
 * - `scrap`: a part was scrapped, with the `cause` (`station` or `cure`) and, for cure scrap,
 *   the part's mean zone deviation `cureDeviationC`.
 * - `state`: a station's PackML state changed (`code`, `reason` code, `faultCode`).
 * - `failure` / `repair`: a breakdown began (with its planned `repairS`) / ended.
 * - `maintenance`: planned maintenance began / ended (`phase`).
 * - `setpoint`: a setpoint changed (`signal`, `value`, `previous`, `via` the protocol).
 * - `heater-degradation`: an oven zone's heater lost power (`powerFactor`) or recovered.
 * - `injection`: a fault was injected (`fault` as given).
 */
export type TruthEvent =
  | { ts: number; kind: 'part-start'; station: string; part: number }
  | { ts: number; kind: 'part-finish'; station: string; part: number; outcome: 'good' | 'scrap' }
  | {
      ts: number;
      kind: 'scrap';
      station: string;
      part: number;
      cause: 'station' | 'cure';
      cureDeviationC?: number;
    }
  | {
      ts: number;
      kind: 'state';
      station: string;
      code: number;
      state: string;
      reason: number;
      faultCode: number;
    }
  | { ts: number; kind: 'failure'; station: string; faultCode: number; repairS: number; cause: string }
  | { ts: number; kind: 'repair'; station: string; faultCode: number }
  | { ts: number; kind: 'maintenance'; station: string; phase: 'start' | 'end'; durationS?: number }
  | { ts: number; kind: 'setpoint'; signal: string; value: number; previous: number; via: string }
  | { ts: number; kind: 'heater-degradation'; zone: string; powerFactor: number; durationS?: number }
  | { ts: number; kind: 'injection'; fault: Record<string, unknown> };

/** Receives ground-truth events in time order. */
export type TruthListener = (event: TruthEvent) => void;
