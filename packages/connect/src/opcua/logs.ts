import { format } from 'node:util';
import type { Logger } from '@gemba/core';
import { setErrorLogger, setWarningLogger } from 'node-opcua-client';

/**
 * Sends node-opcua's own warnings (chatty: certificate creation, Node version notes) to
 * `logger` at debug level and its errors at warn level, instead of stdout. node-opcua keeps
 * these loggers process-wide, so the last call wins; the gateway and the CLI call it.
 */
export function routeOpcuaLogs(logger: Logger): void {
  const log = logger.child({ component: 'node-opcua' });
  setWarningLogger((...args: unknown[]) => log.debug(format(...args)));
  setErrorLogger((...args: unknown[]) => log.warn(format(...args)));
}
