import { join } from 'node:path';
import type { BrowsedVariable } from '@gemba/connect';
import { routeOpcuaLogs } from '@gemba/connect/opcua-logs';
import { createLogger, GembaError } from '@gemba/core';
import type { Command } from 'commander';

interface BrowseFlags {
  user?: string;
  passwordEnv?: string;
  securityMode: 'None' | 'Sign' | 'SignAndEncrypt';
  securityPolicy: 'None' | 'Basic256Sha256';
  pkiDir: string;
  acceptUnknownCertificate?: boolean;
  root?: string;
  maxNodes: string;
  json?: boolean;
}

/** A fixed-width table of browsed variables. */
export function renderVariables(vars: readonly BrowsedVariable[]): string {
  const rows = vars.map((v) => [v.nodeId, v.dataType, v.unit ?? '', v.writable ? 'rw' : 'r', v.browsePath]);
  const head = ['NODE ID', 'DATA TYPE', 'UNIT', 'ACCESS', 'BROWSE PATH'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line), `${vars.length} variables`].join('\n');
}

/** Registers `gemba connect ...`. */
export function registerConnectCommands(program: Command): void {
  const connect = program
    .command('connect')
    .description('talk to equipment: browse servers to write bindings');
  connect
    .command('browse <endpoint>')
    .description('list the variables of an OPC UA server with node ids, data types and units')
    .option('--user <name>', 'user name (default anonymous)')
    .option('--password-env <var>', 'environment variable holding the password')
    .option('--security-mode <mode>', 'None, Sign or SignAndEncrypt', 'None')
    .option('--security-policy <policy>', 'None or Basic256Sha256', 'None')
    .option('--pki-dir <dir>', 'certificate store and trust list folder', join('.gemba', 'pki'))
    .option('--accept-unknown-certificate', 'trust the server certificate on first use')
    .option('--root <nodeId>', 'start below this node instead of the Objects folder')
    .option('--max-nodes <n>', 'stop after this many nodes', '5000')
    .option('--json', 'print JSON instead of a table')
    .action(async (endpoint: string, flags: BrowseFlags) => {
      if (!endpoint.startsWith('opc.tcp://')) {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `'${endpoint}' is not an OPC UA endpoint (opc.tcp://host:port/path)`,
        );
      }
      if (!['None', 'Sign', 'SignAndEncrypt'].includes(flags.securityMode)) {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `--security-mode must be None, Sign or SignAndEncrypt`,
        );
      }
      // node-opcua's own chatter goes to stderr, and only when it is an error.
      routeOpcuaLogs(createLogger({ level: 'warn', destination: process.stderr }));
      const password = flags.passwordEnv === undefined ? undefined : process.env[flags.passwordEnv];
      const { browseServer } = await import('@gemba/connect');
      const vars = await browseServer(endpoint, {
        pkiDir: flags.pkiDir,
        securityMode: flags.securityMode,
        securityPolicy: flags.securityPolicy,
        username: flags.user,
        password,
        acceptUnknownCertificate: flags.acceptUnknownCertificate === true,
        maxNodes: Number(flags.maxNodes),
        ...(flags.root !== undefined ? { root: flags.root } : {}),
      });
      console.log(flags.json === true ? JSON.stringify(vars, null, 2) : renderVariables(vars));
    });
  connect
    .command('endpoints <endpoint>')
    .description('list the security modes, policies and logins an OPC UA server offers')
    .option('--pki-dir <dir>', 'certificate store and trust list folder', join('.gemba', 'pki'))
    .option('--json', 'print JSON instead of a table')
    .action(async (endpoint: string, flags: { pkiDir: string; json?: boolean }) => {
      if (!endpoint.startsWith('opc.tcp://')) {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `'${endpoint}' is not an OPC UA endpoint (opc.tcp://host:port/path)`,
        );
      }
      routeOpcuaLogs(createLogger({ level: 'warn', destination: process.stderr }));
      const { discoverEndpoints } = await import('@gemba/connect');
      const eps = await discoverEndpoints(endpoint, { pkiDir: flags.pkiDir });
      if (flags.json === true) {
        console.log(JSON.stringify(eps, null, 2));
        return;
      }
      for (const e of eps) {
        console.log(
          `${e.securityMode.padEnd(15)} ${e.securityPolicy.padEnd(22)} ${e.userTokens.join(', ').padEnd(30)} ${e.endpointUrl}`,
        );
      }
    });
}
