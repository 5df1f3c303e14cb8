/**
 * PackML state codes (ANSI/ISA-TR88.00.02, state numbers as in the PackTags `StateCurrent`).
 * Stations that report a PackML state signal use these codes.
 */
export const PACKML_STATES = {
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
} as const satisfies Record<number, string>;

/** A PackML state name. */
export type PackmlState = (typeof PACKML_STATES)[keyof typeof PACKML_STATES];

/** The PackML code of each state name. */
export const PACKML_CODE: Readonly<Record<PackmlState, number>> = Object.fromEntries(
  Object.entries(PACKML_STATES).map(([code, name]) => [name, Number(code)]),
) as Record<PackmlState, number>;

/** Reason codes that go with PackML Suspended/Held in the demo line's `state_reason` signal. */
export const STATE_REASONS = {
  0: 'none',
  1: 'starved',
  2: 'blocked',
  3: 'micro-stop',
  4: 'maintenance',
} as const;

/**
 * The machine state Gemba derives per station (ISO 22400-2 time model): what the twin shows,
 * what OEE and the bottleneck are computed from.
 * - `running`: producing (PackML Execute).
 * - `starved` / `blocked`: ready but waiting for parts upstream / room downstream.
 * - `idle`: ready, not producing, for no upstream/downstream reason.
 * - `micro-stop`: a short stop (PackML Held), counted as performance loss.
 * - `down`: a fault (PackML Aborted / a fault code), unplanned downtime.
 * - `maintenance`: planned downtime.
 * - `stopped`: deliberately stopped.
 * - `offline`: no data (source disconnected or stale): unknown.
 */
export type MachineState =
  | 'running'
  | 'starved'
  | 'blocked'
  | 'idle'
  | 'micro-stop'
  | 'down'
  | 'maintenance'
  | 'stopped'
  | 'offline';

/** Every machine state, in display order. */
export const MACHINE_STATES: readonly MachineState[] = [
  'running',
  'starved',
  'blocked',
  'idle',
  'micro-stop',
  'down',
  'maintenance',
  'stopped',
  'offline',
];

/**
 * The `data` of a historian event of kind `state`: one station's state over an interval.
 * The engine writes one when a state ends (and `endMs` is then set); the event's `source` is
 * the station path, its `ts` the start, its `id` `${station}@${startMs}`.
 */
export interface StateEventData {
  state: MachineState;
  /** Free-text or coded reason (fault code, `starved`, ...). */
  reason?: string;
  faultCode?: number;
  startMs: number;
  endMs?: number;
  durationMs?: number;
  /** The production order running on the station's line when the state began. */
  order?: string;
  /** The product of that order. */
  product?: string;
}
