import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is served by the Polly server at /ui/ (src/api/rest/dashboard.ts) and speaks REST v1.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 200 },
  logLevel: 'warn',
});
