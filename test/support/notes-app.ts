// The notes app as the suites and benchmarks run it on each server. Typed here, where both sides meet:
// the app describes how it starts (examples/notes-app/src/cluster-app.ts) without depending on the harness.
import type { AppSpec } from '@rwsplit/cluster';
import { notesApp } from '../../examples/notes-app/src/cluster-app.js';

export const NOTES_APP: AppSpec = notesApp;
