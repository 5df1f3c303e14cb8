import type { Logger } from '@gemba/core';
import { type EmbeddedHistorian, openEmbeddedHistorian } from './embedded-historian.ts';
import { openPostgresHistorian, type PostgresHistorian } from './postgres-historian.ts';

/** Options of {@link openHistorian} beyond where the store is. */
export interface OpenHistorianOptions {
  logger?: Logger;
  /** PostgreSQL schema (PostgreSQL URLs only). Default `gemba`. */
  schema?: string;
}

/**
 * Opens a historian by location: a `postgres://` or `postgresql://` URL opens the PostgreSQL
 * backend, anything else is a folder for the embedded (DuckDB) backend.
 *
 * @example
 * const historian = await openHistorian(process.env.GEMBA_HISTORIAN ?? './data/historian', { logger });
 */
export function openHistorian(
  urlOrDir: string,
  options: OpenHistorianOptions = {},
): Promise<EmbeddedHistorian | PostgresHistorian> {
  if (/^postgres(ql)?:\/\//i.test(urlOrDir)) {
    return openPostgresHistorian({
      url: urlOrDir,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.schema === undefined ? {} : { schema: options.schema }),
    });
  }
  return openEmbeddedHistorian({
    dir: urlOrDir,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
