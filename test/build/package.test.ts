/**
 * The shipped package: built the way `npm ci` / `npm pack` build it (scripts/build.js), packed with the
 * package.json's `files`, and run by plain Node with no TypeScript loader — the README's library example,
 * the `polly` binary, and the list of files a user receives.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/process.js';

const run = promisify(execFile);
let tmp: string;
let pkg: string;
let app: string;

/** Plain node: no NODE_OPTIONS (vitest's or a loader's) reaches the child. */
function plainEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'polly-pkg-test-'));
  pkg = join(tmp, 'pkg');
  app = join(tmp, 'app');
  mkdirSync(pkg);
  await run(process.execPath, [join(REPO_ROOT, 'scripts/build.js'), '--out', join(pkg, 'dist')], { env: plainEnv() });
  for (const file of ['package.json', 'README.md', 'bin/polly.js']) cpSync(join(REPO_ROOT, file), join(pkg, file));
  cpSync(join(REPO_ROOT, 'deploy'), join(pkg, 'deploy'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'));
  // A user's project with polly installed: node_modules/polly is the package directory.
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(pkg, join(app, 'node_modules', 'polly'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module', private: true }));
}, 180_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the compiled package', () => {
  it('runs the README library example under plain node', async () => {
    const dataDir = join(tmp, 'data');
    writeFileSync(
      join(app, 'example.mjs'),
      `import { createPolly, createPollyFromFile } from 'polly';
const polly = await createPolly({ listen: '127.0.0.1:0', dataDir: ${JSON.stringify(dataDir)}, logLevel: 'warn' });
await polly.start();
const ready = await fetch(polly.url + '/readyz');
console.log(JSON.stringify({ url: polly.url, ready: ready.status, fromFile: typeof createPollyFromFile }));
await polly.stop();
`,
    );
    const { stdout } = await run(process.execPath, [join(app, 'example.mjs')], { cwd: app, env: plainEnv() });
    const line = stdout.trim().split('\n').pop()!;
    const out = JSON.parse(line) as { url: string; ready: number; fromFile: string };
    expect(out.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out.ready).toBe(200);
    expect(out.fromFile).toBe('function');
  });

  it('ships declarations that resolve through the exports map', async () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { createPolly, PollyError, type PollyInstance } from 'polly';
const polly: PollyInstance = await createPolly({ listen: '127.0.0.1:0' });
const url: string = polly.url;
export { url, PollyError };
`,
    );
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    await run(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), join(app, 'check.ts')],
      { cwd: app, env: plainEnv() },
    );
  });

  it('runs `polly version` from the compiled bin', async () => {
    const { stdout } = await run(process.execPath, [join(pkg, 'bin/polly.js'), 'version', '--url', 'http://127.0.0.1:9'], { env: plainEnv() });
    expect(stdout).toMatch(/^Client: \d+\.\d+\.\d+/m);
  });

  it('packs only what a user needs', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, env: plainEnv() });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const needed of ['package.json', 'README.md', 'bin/polly.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/api/csi/csi.proto']) {
      expect(files).toContain(needed);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/') || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });
});
