import { describe, expect, it } from 'vitest';
import { matchPath, validatePattern } from './path.ts';
import { findUnit, unitConverter } from './units.ts';

describe('units', () => {
  it('converts within a dimension', () => {
    expect(unitConverter('°F', '°C')(212)).toBeCloseTo(100, 10);
    expect(unitConverter('degC', 'K')(0)).toBeCloseTo(273.15, 10);
    expect(unitConverter('kW', 'W')(1.5)).toBe(1500);
    expect(unitConverter('bar', 'kPa')(1)).toBeCloseTo(100, 10);
    expect(findUnit('pcs')?.symbol).toBe('parts');
  });

  it('refuses unknown units and different dimensions', () => {
    expect(() => unitConverter('furlong', 'm')).toThrow(
      expect.objectContaining({ code: 'GEMBA_INVALID_ARGUMENT' }),
    );
    expect(() => unitConverter('kW', 'bar')).toThrow(/cannot convert kW \(power\) to bar \(pressure\)/);
  });
});

describe('namespace patterns', () => {
  it('matches + and #', () => {
    expect(matchPath('acme/plant1/+/line1/#', 'acme/plant1/assembly/line1/oven/zone2/temperature')).toBe(
      true,
    );
    expect(matchPath('acme/plant1/+/line1/#', 'acme/plant1/assembly/line1')).toBe(true);
    expect(matchPath('acme/plant1/+/line2/#', 'acme/plant1/assembly/line1/oven')).toBe(false);
    expect(matchPath('acme/+', 'acme/plant1/assembly')).toBe(false);
    expect(matchPath('acme/plant1', 'acme/plant1')).toBe(true);
  });

  it('validates patterns', () => {
    expect(() => validatePattern('acme/#/x')).toThrow(/bad segment '#'/);
    expect(() => validatePattern('acme/pl ant')).toThrow(/bad segment/);
    validatePattern('acme/+/x/#');
  });
});
