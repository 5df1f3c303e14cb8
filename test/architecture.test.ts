import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering of DESIGN.md: each package may import only the packages listed here.
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  connect: ['core'],
  engine: ['core'],
  historian: ['core'],
  nats: ['core'],
  sim: ['core'],
  plant: ['core'],
  server: ['core', 'connect', 'engine', 'historian', 'nats', 'sim'],
  cli: ['core', 'connect', 'engine', 'historian', 'nats', 'sim', 'plant', 'server'],
  web: ['core'],
};

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGES = readdirSync(join(ROOT, 'packages')).filter((p) =>
  statSync(join(ROOT, 'packages', p)).isDirectory(),
);

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e === 'node_modules' || e === 'dist') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(sourceFiles(p));
    else if (/\.(ts|js|svelte)$/.test(e)) out.push(p);
  }
  return out;
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

interface ImportRef {
  file: string;
  spec: string;
  typeOnly: boolean;
}

function importsOf(file: string): ImportRef[] {
  const text = readFileSync(file, 'utf8');
  const out: ImportRef[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined)
      out.push({ file: relative(ROOT, file), spec, typeOnly: /^(import|export)\s+type\s/.test(m[0]) });
  }
  return out;
}

const isTestish = (file: string): boolean => /\.test\.ts$|\/test\/|\/testing\//.test(file);

/** True when package `name` declares the entry point `.${sub}` in its exports (e.g. `./testing`). */
function exportsEntry(name: string, sub: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as {
      exports?: Record<string, string>;
    };
    return m.exports?.[`.${sub}`] !== undefined;
  } catch {
    return false;
  }
}

/** Every import in `refs` (of a file in package `pkg`) that breaks the layering. */
function layerViolations(pkg: string, refs: readonly ImportRef[]): string[] {
  const dir = join(ROOT, 'packages', pkg);
  const violations: string[] = [];
  for (const ref of refs) {
    const m = /^@gemba\/([^/]+)(\/.*)?$/.exec(ref.spec);
    if (m !== null) {
      const target = m[1] as string;
      const sub = m[2];
      if (target !== pkg && !(ALLOWED[pkg] ?? []).includes(target)) {
        violations.push(`${ref.file}: ${pkg} may not import @gemba/${target}`);
      }
      if (sub !== undefined && !exportsEntry(target, sub)) {
        violations.push(`${ref.file}: deep import '${ref.spec}' (use the package's entry point)`);
      }
      if (sub === '/testing' && !isTestish(ref.file) && pkg !== target) {
        violations.push(`${ref.file}: production code imports ${ref.spec}`);
      }
      if (pkg === 'web' && !ref.typeOnly)
        violations.push(`${ref.file}: web may only 'import type' from @gemba/core`);
    } else if (ref.spec.startsWith('.')) {
      const target = resolve(join(ROOT, ref.file, '..'), ref.spec);
      if (!target.startsWith(`${dir}/`))
        violations.push(`${ref.file}: relative import '${ref.spec}' leaves the package`);
    }
  }
  return violations;
}

describe('architecture', () => {
  it('knows every package', () => {
    expect(PACKAGES.filter((p) => !(p in ALLOWED))).toEqual([]);
  });

  it('keeps imports within the layering of DESIGN.md, through public entry points only', () => {
    const violations: string[] = [];
    for (const pkg of PACKAGES) {
      const dir = join(ROOT, 'packages', pkg);
      for (const file of [...sourceFiles(join(dir, 'src')), ...sourceFiles(join(dir, 'test'))]) {
        violations.push(...layerViolations(pkg, importsOf(file)));
      }
    }
    expect(violations).toEqual([]);
  });

  it('declares every @gemba dependency it imports in package.json', () => {
    const missing: string[] = [];
    for (const pkg of PACKAGES) {
      const dir = join(ROOT, 'packages', pkg);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      const declared = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.devDependencies ?? {}),
      ]);
      for (const file of sourceFiles(join(dir, 'src'))) {
        for (const ref of importsOf(file)) {
          const m = /^(@gemba\/[^/]+)/.exec(ref.spec);
          if (m !== null && m[1] !== `@gemba/${pkg}` && !declared.has(m[1] as string)) {
            missing.push(`${ref.file}: imports ${m[1]} not declared in packages/${pkg}/package.json`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('has no cycle between packages', () => {
    const edges = new Map<string, Set<string>>();
    for (const pkg of PACKAGES) {
      const set = new Set<string>();
      for (const file of sourceFiles(join(ROOT, 'packages', pkg, 'src'))) {
        for (const ref of importsOf(file)) {
          const m = /^@gemba\/([^/]+)/.exec(ref.spec);
          if (m !== null && m[1] !== pkg) set.add(m[1] as string);
        }
      }
      edges.set(pkg, set);
    }
    const cycles: string[] = [];
    const visit = (node: string, stack: string[]): void => {
      if (stack.includes(node)) {
        cycles.push([...stack.slice(stack.indexOf(node)), node].join(' → '));
        return;
      }
      for (const next of edges.get(node) ?? []) visit(next, [...stack, node]);
    };
    for (const pkg of PACKAGES) visit(pkg, []);
    expect(cycles).toEqual([]);
  });

  it('catches a violation (the checks themselves work)', () => {
    const refs = importsOf(join(ROOT, 'test', 'fixtures', 'bad-imports.ts.txt')).map((r) => ({
      ...r,
      file: 'packages/sim/src/fake.ts',
    }));
    expect(refs.map((r) => r.spec)).toEqual([
      '@gemba/engine/src/twin.ts',
      '../../server/src/x.ts',
      '@gemba/core',
    ]);
    expect(layerViolations('sim', refs)).toEqual([
      'packages/sim/src/fake.ts: sim may not import @gemba/engine',
      "packages/sim/src/fake.ts: deep import '@gemba/engine/src/twin.ts' (use the package's entry point)",
      "packages/sim/src/fake.ts: relative import '../../server/src/x.ts' leaves the package",
    ]);
    expect(layerViolations('web', refs.slice(2))).toEqual([]);
    expect(layerViolations('web', [{ ...refs[2], typeOnly: false } as ImportRef])).toEqual([
      "packages/sim/src/fake.ts: web may only 'import type' from @gemba/core",
    ]);
  });
});
