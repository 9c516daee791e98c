#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (prepare) or `npm run build`.
// `run` exits only after stdout and stderr are drained (a pipe never gets a cut-off export).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  console.error('incident-bot: not built yet. Run `npm run build` (npm ci does it for you).');
  process.exit(1);
}
void require(entry).run(process.argv.slice(2));
