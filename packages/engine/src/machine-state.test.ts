import { PACKML_CODE } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { inferMachineState, packmlToMachineState } from './machine-state.ts';

describe('packmlToMachineState', () => {
  it('maps PackML states with their reasons', () => {
    expect(packmlToMachineState(PACKML_CODE.Execute, 0, 0)).toEqual({ state: 'running' });
    expect(packmlToMachineState(PACKML_CODE.Suspended, 1, 0)).toEqual({
      state: 'starved',
      reason: 'starved',
    });
    expect(packmlToMachineState(PACKML_CODE.Suspended, 2, 0)).toEqual({
      state: 'blocked',
      reason: 'blocked',
    });
    expect(packmlToMachineState(PACKML_CODE.Held, 3, 0)).toEqual({
      state: 'micro-stop',
      reason: 'micro-stop',
    });
    expect(packmlToMachineState(PACKML_CODE.Held, 0, 0)).toEqual({ state: 'micro-stop' });
    expect(packmlToMachineState(PACKML_CODE.Suspended, 4, 0)).toEqual({
      state: 'maintenance',
      reason: 'maintenance',
    });
    expect(packmlToMachineState(PACKML_CODE.Aborted, 0, 101)).toEqual({ state: 'down', reason: 'fault 101' });
    expect(packmlToMachineState(PACKML_CODE.Stopped, 0, 0)).toEqual({ state: 'stopped' });
    expect(packmlToMachineState(PACKML_CODE.Idle, 0, 0)).toEqual({ state: 'idle' });
    expect(packmlToMachineState(PACKML_CODE.Undefined, 0, 0).state).toBe('offline');
  });
});

describe('inferMachineState', () => {
  const base = {
    faultCode: 0,
    lastCountMs: 1000,
    nowMs: 1000,
    idleAfterMs: 60_000,
    upstreamLevel: 3,
    downstreamLevel: 2,
    downstreamCapacity: 10,
  };
  it('infers running, idle, starved, blocked and down', () => {
    expect(inferMachineState(base).state).toBe('running');
    expect(inferMachineState({ ...base, nowMs: 70_000 }).state).toBe('idle');
    expect(inferMachineState({ ...base, nowMs: 70_000, upstreamLevel: 0 }).state).toBe('starved');
    expect(inferMachineState({ ...base, nowMs: 70_000, downstreamLevel: 10 }).state).toBe('blocked');
    expect(inferMachineState({ ...base, faultCode: 7 })).toEqual({ state: 'down', reason: 'fault 7' });
  });
});
