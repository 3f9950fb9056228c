import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { verifySecret } from '../../src/domain/password.js';

const run = (input: string) =>
  spawnSync(process.execPath, ['bin/devicegate.mjs', 'hash-password'], { input, encoding: 'utf8', timeout: 20_000 });

describe('devicegate hash-password', () => {
  it('prints a hash of the first stdin line that verifies', async () => {
    const result = run('correct horse\n');
    expect(result.status).toBe(0);
    expect(await verifySecret('correct horse', result.stdout.trim())).toBe(true);
  });

  it('refuses empty input with a usage exit code', () => {
    const result = run('');
    expect(result.status).toBe(2); // usage, like every other command
    expect(result.stderr).toContain('no password on stdin');
  });
});
