#!/usr/bin/env node
// The package's bin: runs the TypeScript CLI (cli/main.ts) through tsx's CommonJS loader.
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
createRequire(import.meta.url)('../cli/main.ts');
