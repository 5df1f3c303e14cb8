// Finding the PostgreSQL server binaries for the private test clusters, on made-up layouts.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin } from './fixtures/private-postgres.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A folder with an (empty, executable) initdb in it. */
function binWithInitdb(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'initdb'), '');
  chmodSync(join(dir, 'initdb'), 0o755);
  return dir;
}

describe('findPgBin', () => {
  it('takes the newest major version in the Debian layout that has initdb', () => {
    const root = mkdtempSync(join(tmpdir(), 'gemba-pgbin-'));
    dirs.push(root);
    binWithInitdb(join(root, '13', 'bin'));
    binWithInitdb(join(root, '9.6', 'bin'));
    binWithInitdb(join(root, '16', 'bin'));
    mkdirSync(join(root, '17', 'bin'), { recursive: true }); // client tools only: no initdb
    mkdirSync(join(root, 'notes'));
    expect(findPgBin({ PATH: '' }, root)).toBe(join(root, '16', 'bin'));
  });

  it('prefers GEMBA_PG_BIN, then falls back to a folder on PATH with initdb', () => {
    const root = mkdtempSync(join(tmpdir(), 'gemba-pgbin-'));
    dirs.push(root);
    binWithInitdb(join(root, 'debian', '15', 'bin'));
    expect(findPgBin({ GEMBA_PG_BIN: '/opt/pg/bin', PATH: '' }, join(root, 'debian'))).toBe('/opt/pg/bin');
    const onPath = binWithInitdb(join(root, 'usr', 'local', 'bin'));
    const other = join(root, 'usr', 'bin');
    mkdirSync(other, { recursive: true });
    expect(findPgBin({ PATH: `${other}:${onPath}` }, join(root, 'nowhere'))).toBe(onPath);
    expect(findPgBin({ PATH: other }, join(root, 'nowhere'))).toBeUndefined();
  });
});
