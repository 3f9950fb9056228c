#!/usr/bin/env node
// `npm test` runs this first (the `pretest` script): it finds every program the tests drive and, when
// one is missing, installs it (root with apt-get, saying so in one line) or stops at once with the exact
// command to run. The tests themselves never skip for a missing program: they fail naming it.
//
// Plain JavaScript on purpose: it must run before anything else, on a machine with only Node and npm.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const chromium = process.env.DEVICEGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** What the tests run, and the Debian packages that bring each. */
const PREREQUISITES = [
  { what: 'redis-server (private Redis servers and clusters for the store tests)', found: () => onPath('redis-server'), packages: ['redis-server'] },
  { what: 'redis-cli (creates the Redis Cluster the cluster tests use)', found: () => onPath('redis-cli'), packages: ['redis-tools'] },
  { what: `Chromium at ${chromium} (real-browser tests through playwright-core)`, found: () => executable(chromium), packages: ['chromium', 'fonts-dejavu-core'] },
  { what: 'script (pseudo-terminal tests of the CLI)', found: () => onPath('script'), packages: ['util-linux'] },
  { what: 'openssl (private CA and TLS tests)', found: () => onPath('openssl'), packages: ['openssl'] },
];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && executable(join(dir, name)));
}

const missing = PREREQUISITES.filter((item) => !item.found());
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.flatMap((item) => item.packages))];
const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

if (!isRoot || !onPath('apt-get')) {
  process.stderr.write(
    `devicegate tests need: ${missing.map((item) => item.what).join('; ')}.\n` +
      (onPath('apt-get') ? `Run: sudo sh -c '${command}'\n` : `Install the packages ${packages.join(', ')} (Debian names) and run npm test again.\n`),
  );
  process.exit(1);
}

process.stderr.write(`devicegate tests: installing ${packages.join(' ')} (${command})\n`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
  const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (result.status !== 0) {
    process.stderr.write(`devicegate tests: apt-get ${args[0]} failed (exit ${result.status}); run: ${command}\n`);
    process.exit(1);
  }
}
const stillMissing = missing.filter((item) => !item.found());
if (stillMissing.length > 0) {
  process.stderr.write(`devicegate tests: still missing after install: ${stillMissing.map((item) => item.what).join('; ')}\n`);
  process.exit(1);
}
