#!/usr/bin/env node
// Entry point for `polly` / `npx polly`: the compiled CLI in dist/ (built by `npm ci` / `npm run build`).
// Runs under plain Node; for the TypeScript sources during development use `npm run polly -- …`.
try {
  await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('polly: the compiled build is missing (dist/); run `npm run build` (npm ci does it too)\n');
    process.exitCode = 1;
  } else throw err;
}
