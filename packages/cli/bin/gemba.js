#!/usr/bin/env node
// Node 20 cannot strip TypeScript types: register tsx's loader, then run the CLI's source.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
