// `npm start`: the cluster's own command (flags as `rwsplit-cluster` takes them) with the notes app on
// every server. The harness ships no app; this repository's choice of one lives here, not in the package.
import { runCli } from '@rwsplit/cluster';
import { notesApp } from '../examples/notes-app/src/cluster-app.js';

await runCli(process.argv.slice(2), { app: notesApp });
