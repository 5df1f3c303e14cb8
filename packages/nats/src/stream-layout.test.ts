import { describe, expect, it } from 'vitest';
import { StreamLayout } from './stream-layout.ts';

describe('StreamLayout', () => {
  it('maps a line subject to the stream of its site', () => {
    expect(new StreamLayout().forSubject('gemba.samples.acme.plant1.assembly.line1')).toEqual({
      name: 'GEMBA_acme_plant1',
      subjects: 'gemba.samples.acme.plant1.>',
    });
  });

  it('maps filters that name the site literally, with wildcards below it', () => {
    const l = new StreamLayout({ namePrefix: 'X' });
    expect(l.forFilter('gemba.samples.acme.plant1.>').name).toBe('X_acme_plant1');
    expect(l.forFilter('gemba.samples.acme.plant1.*.line2').name).toBe('X_acme_plant1');
  });

  it('rejects filters spanning sites and subjects outside the sample namespace', () => {
    const l = new StreamLayout();
    expect(() => l.forFilter('gemba.samples.>')).toThrow(/spans several streams|must be/);
    expect(() => l.forFilter('gemba.samples.acme.*.line1')).toThrow(/spans several streams/);
    expect(() => l.forSubject('gemba.samples.acme.plant1')).toThrow(/must be/);
    expect(() => l.forSubject('other.acme.plant1.x')).toThrow(/must be/);
    expect(() => l.forSubject('gemba.samples.acme..x')).toThrow(/bad token/);
  });

  it('uses one stream per enterprise (or test prefix) with siteDepth 1', () => {
    const l = new StreamLayout({ siteDepth: 1 });
    expect(l.forSubject('gemba.samples.t1234.a.deeper')).toEqual({
      name: 'GEMBA_t1234',
      subjects: 'gemba.samples.t1234.>',
    });
    expect(() => new StreamLayout({ siteDepth: -1 })).toThrow(/siteDepth/);
    expect(() => new StreamLayout({ namePrefix: 'a.b' })).toThrow(/prefix/);
  });

  it('puts everything in one stream with siteDepth 0', () => {
    const l = new StreamLayout({ siteDepth: 0 });
    expect(l.forFilter('gemba.samples.>')).toEqual({ name: 'GEMBA', subjects: 'gemba.samples.>' });
    expect(l.forSubject('gemba.samples.acme.plant1.a.l1').name).toBe('GEMBA');
    expect(() => l.forSubject('gemba.samples')).toThrow(/must be/);
  });
});
