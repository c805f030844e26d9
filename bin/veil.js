#!/usr/bin/env node
// The compiled CLI (npm ci runs the build through the `prepare` script). Service role commands
// start from their own entry point, so the owner's CLI never loads server code.
import process from 'node:process';

const ROLES = new Set(['api', 'worker', 'scheduler', 'start', 'demo']);
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
await import(ROLES.has(command) ? '../dist/stack/main.js' : '../dist/producer/cli.js');
