/**
 * `npm run build` (also run by `prepare`, so `npm pack`, `npm publish` and git installs build first):
 *   1. empties dist/ (a source file moved or deleted must not linger there as stale JavaScript);
 *   2. compiles src/ to dist/ with declarations (tsconfig.build.json);
 *   3. copies every file of src/ that is not TypeScript (the Lua scripts, the stylesheet, …) to the same
 *      place under dist/: the server reads them at run time relative to its own module
 *      (`new URL('./lua/…', import.meta.url)`), so they must sit beside the compiled JavaScript;
 *   4. makes the bin executable (npm does so on install; this is for running it from the checkout).
 * Files outside src/ that the server reads (openapi/, config/) resolve from dist/ exactly as from src/:
 * both are one level below the package root.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error(`build: tsc failed (exit ${compiled.status ?? compiled.signal})`);
  process.exit(1);
}

let copied = 0;
for (const file of filesUnder(src)) {
  if (file.endsWith('.ts')) continue;
  const target = join(dist, relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied++;
}

const { bin } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
for (const path of Object.values(bin)) chmodSync(join(root, path), 0o755);

console.error(`build: dist/ compiled from src/, ${copied} non-TypeScript files copied`);

function* filesUnder(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}
