import { historianContractSuite, serviceSkipReason } from '@gemba/core/testing';
import { describe } from 'vitest';
import { openPostgresHistorian } from '../src/postgres-historian.ts';
import { dropSchema, PG_URL, randomSchema } from './pg-fixture.ts';

const skip = await serviceSkipReason('postgres');

describe.skipIf(skip !== undefined)('PostgreSQL historian', () => {
  historianContractSuite('PostgreSQL', async () => {
    const schema = randomSchema();
    let historian = await openPostgresHistorian({ url: PG_URL, schema });
    return {
      historian,
      reopen: async () => {
        await historian.close();
        historian = await openPostgresHistorian({ url: PG_URL, schema });
        return historian;
      },
      cleanup: async () => {
        await historian.close().catch(() => undefined);
        await dropSchema(PG_URL, schema);
      },
    };
  });
});
