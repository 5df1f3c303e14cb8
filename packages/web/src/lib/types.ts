// The wire types of the Gemba API as the dashboard reads them (docs/api.md). The dashboard
// talks to the server over HTTP/WebSocket only, so these mirror @gemba/server's JSON.
import type { MachineState, Quality, SampleValue } from '@gemba/core';

/** Re-exported from core (types only). */
export type { MachineState, Quality, SampleValue };

/** API roles, least privileged first. */
export type Role = 'viewer' | 'operator' | 'engineer' | 'admin';
/** Every role, least privileged first. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'engineer', 'admin'];

/** A signal as `GET /api/model` describes it. */
export interface SignalMeta {
  path: string;
  name: string;
  asset: string;
  station?: string;
  line?: string;
  description?: string;
  dataType: string;
  unit?: string;
  role: string;
  normal?: { min?: number; max?: number };
  range?: { min?: number; max?: number };
  limits?: { lolo?: number; lo?: number; hi?: number; hihi?: number };
  writable: boolean;
  enum?: 'packml' | Record<string, string>;
  periodMs?: number;
}

/** An asset as `GET /api/model` describes it. */
export interface AssetMeta {
  path: string;
  id: string;
  kind: 'enterprise' | 'site' | 'area' | 'line' | 'station' | 'buffer' | 'equipment';
  name: string;
  type?: string;
  parent?: string;
  children: string[];
  signals: string[];
  line?: string;
  station?: string;
}

/** A line with its stations in flow order and its buffers (paths). */
export interface LineMeta {
  path: string;
  id: string;
  name: string;
  stations: { path: string; id: string; name: string; type: string; order: number }[];
  buffers: { path: string; id: string; from: string; to: string; capacity: number }[];
}

/** The answer of `GET /api/model`. */
export interface ModelView {
  enterprise: string;
  name: string;
  timezone: string;
  assets: AssetMeta[];
  signals: SignalMeta[];
  lines: LineMeta[];
  products: { id: string; name?: string; idealCycleTimeS: Record<string, number> }[];
  shifts: { id: string; name?: string; start: string; end: string }[];
}

/** KPIs of a station or line (ratios 0..1, throughput in parts/h). */
export interface Kpi {
  path: string;
  fromMs: number;
  toMs: number;
  availability: number;
  performance: number;
  quality: number;
  oee: number;
  totalCount: number;
  goodCount: number;
  scrapCount: number;
  throughputPerHour: number;
  targetPerHour?: number;
}

/** ISA-18.2 priorities. */
export type AlarmPriority = 'low' | 'medium' | 'high' | 'urgent';

/** An alarm as the API reports it. */
export interface Alarm {
  id: string;
  source: string;
  area?: string;
  priority: AlarmPriority;
  message: string;
  active: boolean;
  acknowledged: boolean;
  raisedAt: number;
  clearedAt?: number;
  ackedAt?: number;
  ackedBy?: string;
  shelvedUntil?: number;
  shelvedBy?: string;
}

/** One live entry from the WebSocket, numbered by `seq`. */
export type TwinEntry =
  | { kind: 'value'; path: string; value: SampleValue | null; quality: Quality; ts: number; seq: number }
  | {
      kind: 'state';
      path: string;
      state: MachineState;
      sinceMs: number;
      reason?: string;
      faultCode?: number;
      seq: number;
    }
  | { kind: 'kpi'; path: string; kpi: Kpi; seq: number }
  | { kind: 'bottleneck'; path: string; station: string | null; sinceMs: number; seq: number }
  | { kind: 'alarm'; path: string; alarm: Alarm; seq: number };

/** A signal value entry. */
export type ValueEntry = Extract<TwinEntry, { kind: 'value' }>;
/** A station's machine state entry. */
export type StateEntry = Extract<TwinEntry, { kind: 'state' }>;
/** A line's bottleneck entry. */
export type BottleneckEntry = Extract<TwinEntry, { kind: 'bottleneck' }>;

/** Messages of the live WebSocket (docs/api.md). */
export type ServerMessage =
  | { type: 'hello'; epoch: string; seq: number; now: number; timezone: string; heartbeatMs: number }
  | { type: 'snapshot'; seq: number; now: number; patterns: string[]; entries: TwinEntry[] }
  | { type: 'delta'; seq: number; entries: TwinEntry[]; resumed?: boolean }
  | { type: 'heartbeat'; seq: number; now: number }
  | { type: 'pong'; seq: number; now: number }
  | { type: 'error'; error: { code: string; message: string } };

/** A mean with its 95 % confidence interval. */
export interface Estimate {
  mean: number;
  lo: number;
  hi: number;
}

/** The predicted outcome of one what-if scenario. */
export interface ScenarioResult {
  name: string;
  throughputPerHour: Estimate;
  scrapRate?: Estimate;
  bottleneck: { station: string; share: number };
  /** What the model cannot answer about this scenario. */
  warnings?: string[];
}

/** A what-if job as `GET /api/sim/jobs/{id}` reports it. */
export interface SimJob {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  progress: number;
  createdAt: number;
  createdBy: string;
  request: unknown;
  result?: {
    baseline: ScenarioResult;
    scenarios: ScenarioResult[];
    calibration?: { fromMs: number; toMs: number; throughputErrorPct: number; note?: string };
  };
  error?: string;
}

/** A historian event (state, alarm, audit, order, system). */
export interface HistorianEvent {
  id: string;
  kind: string;
  source: string;
  ts: number;
  data: Record<string, unknown>;
}

/** One line of a trend chart. */
export interface TrendSeries {
  label: string;
  unit?: string;
  ys: (number | null)[];
  dash?: boolean;
}
