import { GembaError } from '@gemba/core';

/** The path of line `l` of plant `p` in a multi-plant model: `acme/plant<p>/assembly/line<l>`. */
export function multiPlantLinePath(p: number, l: number): string {
  return `acme/plant${p}/assembly/line${l}`;
}

/** The id a demo source gets for line `l` of plant `p`: `<id>-p<p>-l<l>`. */
export function multiPlantSourceId(sourceId: string, p: number, l: number): string {
  return `${sourceId}-p${p}-l${l}`;
}

/** Connection fields of one source that replace the model file's (e.g. the emulator's ports). */
export type SourceFields = Record<string, string | number>;

const OVERRIDABLE = new Set(['endpoint', 'host', 'port', 'url', 'groupId', 'unitId']);

/**
 * A plant model with `plants` sites of `lines` lines each, every line a copy of the demo line
 * (`acme/plant<p>/assembly/line<l>`), and a copy of each of the demo line's sources per line
 * (ids `<id>-p<p>-l<l>`, `base` the line's path). `fieldsOf(p, l)` gives each line's connection
 * fields keyed by the demo's source ids (the plant emulator's `sourceOverrides()` of the
 * emulator serving that line); they are written into the copies, so the file can be handed to
 * `gemba gateway` as it is.
 *
 * @param demoYaml the text of examples/demo-line/plant.yaml
 * @throws GembaError GEMBA_INVALID_ARGUMENT for counts below 1; GEMBA_CONFIG_INVALID when the
 * demo model's layout is not the expected one (sites, sources, products in this order).
 */
export function multiPlantModelYaml(
  demoYaml: string,
  plants: number,
  lines: number,
  fieldsOf: (p: number, l: number) => Record<string, SourceFields> = () => ({}),
): string {
  if (!Number.isInteger(plants) || plants < 1 || !Number.isInteger(lines) || lines < 1)
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `--plants ${plants} --lines ${lines}: both must be ≥ 1`);
  const sitesAt = demoYaml.indexOf('\nsites:\n');
  const sourcesAt = demoYaml.indexOf('\nsources:\n');
  const productsAt = demoYaml.indexOf('\nproducts:\n');
  if (sitesAt < 0 || sourcesAt < sitesAt || productsAt < sourcesAt)
    throw new GembaError(
      'GEMBA_CONFIG_INVALID',
      'the demo model has no sites, sources and products sections',
    );
  const sites = demoYaml.slice(sitesAt + '\nsites:\n'.length, sourcesAt);
  const linesAt = sites.indexOf('        lines:\n');
  if (linesAt < 0) throw new GembaError('GEMBA_CONFIG_INVALID', 'the demo model has no lines section');
  const siteHead = sites.slice(0, linesAt + '        lines:\n'.length);
  const lineBlock = sites.slice(linesAt + '        lines:\n'.length);
  // The source blocks, each from its `  - id:` line to the next (comments between are dropped).
  const sourceBlocks = demoYaml
    .slice(sourcesAt + '\nsources:\n'.length, productsAt)
    .split(/\n(?= {2}- id: )/)
    .map((b) => b.replace(/^(\s*#[^\n]*\n)+/, '').replace(/(\n\s*#[^\n]*)+\s*$/, ''))
    .filter((b) => b.startsWith('  - id: '));
  let out = `${demoYaml.slice(0, sitesAt)}\nsites:\n`;
  for (let p = 1; p <= plants; p++) {
    out += siteHead.replace('id: plant1', `id: plant${p}`).replace('name: Plant 1', `name: Plant ${p}`);
    for (let l = 1; l <= lines; l++)
      out += lineBlock.replace('id: line1', `id: line${l}`).replace('name: Line 1', `name: Line ${l}`);
  }
  out += '\nsources:\n';
  for (let p = 1; p <= plants; p++) {
    for (let l = 1; l <= lines; l++) {
      const fields = fieldsOf(p, l);
      for (const block of sourceBlocks) {
        const id = /^ {2}- id: (\S+)/.exec(block)?.[1] ?? '';
        const own = fields[id] ?? {};
        let copy = block
          .replace(`  - id: ${id}`, `  - id: ${multiPlantSourceId(id, p, l)}`)
          .replace(/\n {4}base: \S+/, `\n    base: ${multiPlantLinePath(p, l)}`);
        for (const [k, v] of Object.entries(own)) {
          if (k === 'topic') {
            // MQTT JSON topics are per binding.
            copy = copy.replace(/topic: [^,}\s]+/g, () => `topic: ${String(v)}`);
            continue;
          }
          if (!OVERRIDABLE.has(k)) continue;
          const line = `\n    ${k}: ${typeof v === 'number' ? v : JSON.stringify(v)}`;
          const re = new RegExp(`\\n {4}${k}: [^\\n]*`);
          copy = re.test(copy)
            ? copy.replace(re, () => line)
            : copy.replace(/\n {4}base: /, () => `${line}\n    base: `);
        }
        out += `${copy}\n\n`;
      }
    }
  }
  out += demoYaml.slice(productsAt + 1);
  return out;
}
