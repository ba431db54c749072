#!/usr/bin/env node
// The `rwsplit-cluster` bin. It runs no app of its own: servers need `--app`, or use `--servers 0`.
import { runCli } from './command-line.js';

await runCli(process.argv.slice(2));
