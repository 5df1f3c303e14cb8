import type { MachineState } from '@gemba/core';
import { STATE_REASONS } from '@gemba/core';

/** A derived machine state with its reason. */
export interface DerivedState {
  state: MachineState;
  reason?: string;
}

function reasonState(reason: number, fallback: MachineState): MachineState {
  switch (reason) {
    case 1:
      return 'starved';
    case 2:
      return 'blocked';
    case 3:
      return 'micro-stop';
    case 4:
      return 'maintenance';
    default:
      return fallback;
  }
}

function reasonName(reason: number): string | undefined {
  if (reason === 0 || !Number.isFinite(reason)) return undefined;
  return (STATE_REASONS as Record<number, string>)[reason] ?? `reason ${reason}`;
}

/**
 * The machine state of a station from its PackML state code (ISA-TR88.00.02), its
 * `state_reason` code and its fault code. A non-zero fault code means `down` whatever the
 * PackML state, except while executing (a latched code that was not yet cleared).
 *
 * | PackML | machine state |
 * |---|---|
 * | Execute (6) | running |
 * | Suspended/Suspending/Unsuspending (5, 13, 14) | by reason: starved, blocked, micro-stop, maintenance; else idle |
 * | Held/Holding/Unholding (11, 10, 12) | by reason; else micro-stop |
 * | Aborting/Aborted (8, 9) | down |
 * | Stopped/Stopping/Clearing/Resetting (2, 7, 1, 15) | stopped (down with a fault code) |
 * | Idle/Starting/Completing/Complete (4, 3, 16, 17) | by reason; else idle |
 * | Undefined (0) or unknown | offline |
 */
export function packmlToMachineState(code: number, reason: number, faultCode: number): DerivedState {
  const faulted = Number.isFinite(faultCode) && faultCode !== 0;
  const why = reasonName(reason);
  const withReason = (state: MachineState): DerivedState =>
    why === undefined ? { state } : { state, reason: why };
  switch (code) {
    case 6:
      return { state: 'running' };
    case 8:
    case 9:
      return { state: 'down', reason: faulted ? `fault ${faultCode}` : (why ?? 'aborted') };
    case 1:
    case 2:
    case 7:
    case 15:
      return faulted ? { state: 'down', reason: `fault ${faultCode}` } : withReason('stopped');
    case 5:
    case 13:
    case 14:
      return faulted
        ? { state: 'down', reason: `fault ${faultCode}` }
        : withReason(reasonState(reason, 'idle'));
    case 10:
    case 11:
    case 12:
      return faulted
        ? { state: 'down', reason: `fault ${faultCode}` }
        : withReason(reasonState(reason, 'micro-stop'));
    case 3:
    case 4:
    case 16:
    case 17:
      return faulted
        ? { state: 'down', reason: `fault ${faultCode}` }
        : withReason(reasonState(reason, 'idle'));
    default:
      return { state: 'offline', reason: `packml ${code}` };
  }
}

/** What state inference looks at for a station without a PackML state signal. */
export interface InferenceInput {
  /** Current fault code (0 or NaN: none). */
  faultCode: number;
  /** Time of the last part-counter increase, ms; NaN when none yet. */
  lastCountMs: number;
  /** The time the state is inferred for, ms. */
  nowMs: number;
  /** k × ideal cycle time, ms: no count for longer than this means not running. */
  idleAfterMs: number;
  /** Level of the upstream buffer (NaN: none or unknown). */
  upstreamLevel: number;
  /** Level and capacity of the downstream buffer (NaN: none or unknown). */
  downstreamLevel: number;
  downstreamCapacity: number;
}

/**
 * Infers a station's state without a state signal: a fault code → down; a count within
 * `idleAfterMs` → running; else upstream buffer empty → starved; downstream buffer full →
 * blocked; else idle.
 */
export function inferMachineState(i: InferenceInput): DerivedState {
  if (Number.isFinite(i.faultCode) && i.faultCode !== 0)
    return { state: 'down', reason: `fault ${i.faultCode}` };
  if (Number.isFinite(i.lastCountMs) && i.nowMs - i.lastCountMs <= i.idleAfterMs) return { state: 'running' };
  if (i.upstreamLevel === 0) return { state: 'starved', reason: 'starved' };
  if (Number.isFinite(i.downstreamLevel) && i.downstreamLevel >= i.downstreamCapacity) {
    return { state: 'blocked', reason: 'blocked' };
  }
  return { state: 'idle' };
}
