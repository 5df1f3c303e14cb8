import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { historianContractSuite } from '@gemba/core/testing';
import { openEmbeddedHistorian } from './embedded-historian.ts';

historianContractSuite('embedded (DuckDB)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gemba-hist-'));
  let historian = await openEmbeddedHistorian({ dir });
  return {
    historian,
    reopen: async () => {
      await historian.close();
      historian = await openEmbeddedHistorian({ dir });
      return historian;
    },
    cleanup: async () => {
      await historian.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
