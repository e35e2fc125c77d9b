#!/usr/bin/env node
// Entry point for the `bluemarble` command. Sources are TypeScript run through tsx's loader,
// so `npm ci && npm start` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
