import { format } from 'node:util';
import type { Logger } from '@gemba/core';
// node-opcua-debug (the loggers node-opcua-client uses, one copy in the tree) rather than the
// client itself: the CLI routes the logs before it loads anything heavy.
import { setErrorLogger, setWarningLogger } from 'node-opcua-debug';

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
