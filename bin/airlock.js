#!/usr/bin/env node
// Runs the CLI straight from the TypeScript sources: tsx compiles on load, so a fresh
// checkout works after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
