import { GembaError } from './errors.ts';

/** A physical dimension; units convert only within one. */
export type Dimension =
  | 'temperature'
  | 'ratio'
  | 'velocity'
  | 'current'
  | 'voltage'
  | 'power'
  | 'energy'
  | 'pressure'
  | 'frequency'
  | 'time'
  | 'count'
  | 'mass'
  | 'length'
  | 'flow'
  | 'force'
  | 'torque'
  | 'dimensionless';

/** A unit: `si = value * factor + offset` in the dimension's base unit. */
export interface UnitInfo {
  symbol: string;
  dimension: Dimension;
  factor: number;
  offset: number;
  name: string;
}

const U = (symbol: string, dimension: Dimension, name: string, factor = 1, offset = 0): UnitInfo => ({
  symbol,
  dimension,
  factor,
  offset,
  name,
});

/** Every unit the model file accepts, by symbol. */
export const UNITS: ReadonlyMap<string, UnitInfo> = new Map(
  [
    U('K', 'temperature', 'kelvin'),
    U('°C', 'temperature', 'degree Celsius', 1, 273.15),
    U('°F', 'temperature', 'degree Fahrenheit', 5 / 9, 273.15 - (32 * 5) / 9),
    U('%', 'ratio', 'percent', 0.01),
    U('1', 'dimensionless', 'one'),
    U('m/s', 'velocity', 'metre per second'),
    U('mm/s', 'velocity', 'millimetre per second', 0.001),
    U('m/min', 'velocity', 'metre per minute', 1 / 60),
    U('A', 'current', 'ampere'),
    U('mA', 'current', 'milliampere', 0.001),
    U('V', 'voltage', 'volt'),
    U('W', 'power', 'watt'),
    U('kW', 'power', 'kilowatt', 1000),
    U('J', 'energy', 'joule'),
    U('kWh', 'energy', 'kilowatt hour', 3.6e6),
    U('Pa', 'pressure', 'pascal'),
    U('kPa', 'pressure', 'kilopascal', 1000),
    U('bar', 'pressure', 'bar', 1e5),
    U('Hz', 'frequency', 'hertz'),
    U('rpm', 'frequency', 'revolution per minute', 1 / 60),
    U('s', 'time', 'second'),
    U('ms', 'time', 'millisecond', 0.001),
    U('min', 'time', 'minute', 60),
    U('h', 'time', 'hour', 3600),
    U('parts', 'count', 'parts'),
    U('count', 'count', 'count'),
    U('parts/h', 'frequency', 'parts per hour', 1 / 3600),
    U('kg', 'mass', 'kilogram'),
    U('g', 'mass', 'gram', 0.001),
    U('t', 'mass', 'tonne', 1000),
    U('m', 'length', 'metre'),
    U('mm', 'length', 'millimetre', 0.001),
    U('µm', 'length', 'micrometre', 1e-6),
    U('L/min', 'flow', 'litre per minute', 1 / 60000),
    U('m³/h', 'flow', 'cubic metre per hour', 1 / 3600),
    U('N', 'force', 'newton'),
    U('kN', 'force', 'kilonewton', 1000),
    U('N·m', 'torque', 'newton metre'),
  ].map((u) => [u.symbol, u]),
);

/** ASCII spellings accepted for symbols that are awkward to type. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['degC', '°C'],
  ['degF', '°F'],
  ['C', '°C'],
  ['percent', '%'],
  ['um', 'µm'],
  ['Nm', 'N·m'],
  ['m3/h', 'm³/h'],
  ['l/min', 'L/min'],
  ['pcs', 'parts'],
]);

/** Looks up a unit by symbol or alias; undefined when it is not a unit. */
export function findUnit(symbol: string): UnitInfo | undefined {
  return UNITS.get(symbol) ?? UNITS.get(ALIASES.get(symbol) ?? '');
}

/**
 * A function converting values from one unit to another.
 * @throws GembaError GEMBA_INVALID_ARGUMENT for unknown units or different dimensions.
 */
export function unitConverter(from: string, to: string): (value: number) => number {
  const a = findUnit(from);
  const b = findUnit(to);
  if (a === undefined || b === undefined) {
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `unknown unit '${a === undefined ? from : to}'`);
  }
  if (a.dimension !== b.dimension) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `cannot convert ${a.symbol} (${a.dimension}) to ${b.symbol} (${b.dimension})`,
    );
  }
  const gain = a.factor / b.factor;
  const offset = (a.offset - b.offset) / b.factor;
  return (v: number) => v * gain + offset;
}
