import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkModel, loadModelFile, parseModel } from './loader.ts';

const DEMO = new URL('../../../../examples/demo-line/plant.yaml', import.meta.url);
const demoText = readFileSync(DEMO, 'utf8');

/** Line (1-based) of the first occurrence of `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' not in text`);
  return text.slice(0, at).split('\n').length;
}

describe('the demo line model', () => {
  it('loads with its hierarchy, topology and bindings', async () => {
    const m = await loadModelFile(DEMO.pathname);
    const line = m.line('acme/plant1/assembly/line1');
    expect(line?.stations.map((s) => s.id)).toEqual(['press', 'weld', 'oven', 'assembly', 'test', 'pack']);
    expect(
      line?.buffers.map((b) => `${b.from.split('/').pop()}>${b.to.split('/').pop()}:${b.capacity}`),
    ).toEqual(['press>weld:10', 'weld>oven:10', 'oven>assembly:8', 'assembly>test:10', 'test>pack:10']);
    const t = m.requireSignal('acme/plant1/assembly/line1/oven/zone2/temperature');
    expect(t.def).toMatchObject({ unit: '°C', role: 'process_value', normal: { min: 175, max: 185 } });
    expect(t.station).toBe('acme/plant1/assembly/line1/oven');
    expect(t.line).toBe('acme/plant1/assembly/line1');
    expect(t.source).toBe('modbus-oven');
    // Every signal of the demo line is bound to exactly one source.
    expect(m.signals.every((s) => s.source !== undefined)).toBe(true);
    expect(m.bindings).toHaveLength(m.signals.length);
    expect(m.signalByRole('acme/plant1/assembly/line1/press', 'state')?.path).toBe(
      'acme/plant1/assembly/line1/press/state',
    );
    expect(m.matchSignals('acme/plant1/+/line1/+/zone2/#').map((s) => s.name)).toEqual([
      'temperature',
      'setpoint',
      'heater_output',
    ]);
    expect(m.signals.map((s) => s.index)).toEqual([...m.signals.keys()]);
  });
});

describe('model problems', () => {
  it('reports five different mistakes as five messages, each with line and column', () => {
    const bad = demoText
      .replace('{ id: press, name: Press, type: press }', '{ id: press, name: Press, type: presss }')
      .replace('{ id: press-weld, from: press, to: weld,', '{ id: press-weld, from: press, to: wled,')
      .replace('unit: mm/s', 'unit: mm/ss')
      .replace('{ signal: weld/state, nodeId:', '{ signal: weld/stat, nodeId:')
      .replace('  - id: opcua-press-weld\n', '  - id: opcua-press-weld\n    colour: blue\n');
    const { model, problems } = checkModel(bad, 'bad.yaml');
    expect(model).toBeUndefined();
    expect(problems.map((p) => p.message)).toEqual([
      "unknown key 'colour'",
      expect.stringContaining("'mm/ss' is not a unit"),
      expect.stringContaining("unknown type 'presss'"),
      expect.stringContaining("ends at unknown station 'wled'"),
      "binding to missing signal 'acme/plant1/assembly/line1/weld/stat'",
    ]);
    expect(problems[0]).toMatchObject({ file: 'bad.yaml', line: lineOf(bad, 'colour'), column: 5 });
    expect(problems[1]).toMatchObject({
      line: lineOf(bad, 'mm/ss'),
      yamlPath: 'types.press.signals.vibration.unit',
    });
    expect(problems[2]).toMatchObject({
      line: lineOf(bad, 'presss'),
      yamlPath: 'sites[0].areas[0].lines[0].stations[0].type',
    });
    expect(problems[3]).toMatchObject({
      line: lineOf(bad, 'wled'),
      yamlPath: 'sites[0].areas[0].lines[0].buffers[0].to',
    });
    expect(problems[4]).toMatchObject({
      line: lineOf(bad, 'weld/stat,'),
      yamlPath: 'sources[0].bindings[9].signal',
    });
  });

  it('finds duplicate paths, double bindings, bad ranges, unknown products and time zones', () => {
    const bad = demoText
      .replace('{ id: weld, name: Weld, type: station }', '{ id: press, name: Weld, type: station }')
      .replace('timezone: Europe/Berlin', 'timezone: Mars/Olympus')
      .replace('normal: { min: 175, max: 185 }', 'normal: { min: 185, max: 175 }')
      .replace('product: widget-a\n    line:', 'product: widget-z\n    line:')
      .replace(
        '- { signal: press/state_reason, nodeId: "ns=1;s=press.state_reason" }',
        '- { signal: press/state, nodeId: "ns=1;s=press.state_reason" }',
      );
    const { problems } = checkModel(bad, 'bad.yaml');
    const msgs = problems.map((p) => p.message);
    expect(msgs).toContain("duplicate path 'acme/plant1/assembly/line1/press'");
    expect(msgs).toContain("'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)");
    expect(msgs).toContain('normal.min (185) is above normal.max (175)');
    expect(msgs).toContain("unknown product 'widget-z'");
    expect(msgs).toContain(
      "signal 'acme/plant1/assembly/line1/press/state' is already bound by source 'opcua-press-weld'",
    );
    for (const p of problems) expect(p.line).toBeGreaterThan(0);
  });

  it("reads a condition signal's renewal job and refuses a three-point estimate out of order", () => {
    const { model } = checkModel(demoText, 'plant.yaml');
    expect(model?.requireSignal('acme/plant1/assembly/line1/press/vibration').def.renewal).toEqual({
      job: 'Replace the main bearing',
      durationMin: { min: 60, likely: 80, max: 140 },
    });
    const bad = demoText.replace('{ min: 60, likely: 80, max: 140 }', '{ min: 60, likely: 150, max: 140 }');
    const { problems } = checkModel(bad, 'bad.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      message: 'a three-point estimate needs min <= likely <= max',
      line: lineOf(bad, 'likely: 150'),
      yamlPath: 'types.press.signals.vibration.renewal.durationMin',
    });
    const negative = demoText.replace('{ min: 60, likely: 80, max: 140 }', '-5');
    expect(checkModel(negative, 'bad.yaml').problems[0]?.yamlPath).toBe(
      'types.press.signals.vibration.renewal.durationMin',
    );
  });

  it('reports YAML syntax errors with their position', () => {
    const { problems } = checkModel('gemba: 1\nsites: [\n  - id: x\n', 'broken.yaml');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ file: 'broken.yaml', yamlPath: '(syntax)' });
    expect(problems[0]?.line).toBeGreaterThan(1);
  });

  it('reports missing required fields and wrong types', () => {
    const { problems } = checkModel('gemba: 2\nenterprise: { name: x }\nsites: []\n', 'tiny.yaml');
    const paths = problems.map((p) => p.yamlPath);
    expect(paths).toContain('gemba');
    expect(paths).toContain('enterprise.id');
    expect(paths).toContain('sites');
  });

  it('throws one GembaError listing every problem from parseModel', () => {
    expect(() => parseModel('gemba: 1\n', 'x.yaml')).toThrow(
      expect.objectContaining({ code: 'GEMBA_MODEL_INVALID', message: expect.stringContaining('x.yaml:') }),
    );
  });

  it('names a missing file', async () => {
    await expect(loadModelFile('/nonexistent/plant.yaml')).rejects.toMatchObject({
      code: 'GEMBA_MODEL_FILE_NOT_FOUND',
    });
  });
});
