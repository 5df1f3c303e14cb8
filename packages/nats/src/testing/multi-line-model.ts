/**
 * A plant model with `plants` sites of `lines` lines each, every line a copy of the demo line
 * (`acme/plant<p>/assembly/line<l>`), without protocol sources: for scale-out tests and
 * benchmarks where samples are published straight to the bus.
 *
 * @param demoYaml the text of examples/demo-line/plant.yaml
 * @throws Error when the demo model's layout is not the expected one.
 */
export function multiLineModelYaml(demoYaml: string, plants: number, lines: number): string {
  const sitesAt = demoYaml.indexOf('\nsites:\n');
  const sourcesAt = demoYaml.indexOf('\nsources:\n');
  const productsAt = demoYaml.indexOf('\nproducts:\n');
  if (sitesAt < 0 || sourcesAt < 0 || productsAt < 0) throw new Error('unexpected demo model layout');
  const sites = demoYaml.slice(sitesAt + '\nsites:\n'.length, sourcesAt);
  const linesAt = sites.indexOf('        lines:\n');
  if (linesAt < 0) throw new Error('unexpected demo model layout (no lines)');
  const siteHead = sites.slice(0, linesAt + '        lines:\n'.length);
  const lineBlock = sites.slice(linesAt + '        lines:\n'.length);
  let out = `${demoYaml.slice(0, sitesAt)}\nsites:\n`;
  for (let p = 1; p <= plants; p++) {
    out += siteHead.replace('id: plant1', `id: plant${p}`).replace('name: Plant 1', `name: Plant ${p}`);
    for (let l = 1; l <= lines; l++)
      out += lineBlock.replace('id: line1', `id: line${l}`).replace('name: Line 1', `name: Line ${l}`);
  }
  out += `\nsources: []\n${demoYaml.slice(productsAt + 1)}`;
  return out;
}
