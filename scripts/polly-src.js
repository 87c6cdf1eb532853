#!/usr/bin/env node
// Development entry point: runs the TypeScript CLI (src/cli/main.ts) through tsx without a build.
// Used by `npm run polly -- …` and by the tests that spawn `polly` as a process, so that they always run
// the sources under test, never a stale dist/. The shipped entry point is bin/polly.js (compiled code).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
