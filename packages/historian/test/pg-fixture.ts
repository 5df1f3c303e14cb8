import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The shared test server (trust auth); override with GEMBA_TEST_PG_URL. */
export const PG_URL = process.env.GEMBA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh schema name no other test uses. */
export function randomSchema(): string {
  return `hist_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}
