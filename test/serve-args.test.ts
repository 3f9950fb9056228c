import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseServeArgs, SERVE_USAGE } from '../src/serve-args.js';

describe('parseServeArgs: devicegate serve [--config FILE]', () => {
  it('runs with no options, or with --config in either form (the last one wins)', () => {
    expect(parseServeArgs([])).toEqual({ kind: 'run' });
    expect(parseServeArgs(['--config', 'a.json'])).toEqual({ kind: 'run', configPath: 'a.json' });
    expect(parseServeArgs(['--config=a.json', '--config', 'b.json'])).toEqual({ kind: 'run', configPath: 'b.json' });
  });

  it('answers help for -h and --help', () => {
    expect(parseServeArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseServeArgs(['--config', 'a.json', '--help'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--config'], "option '--config <file>' argument missing"],
    [['--config='], "option '--config <file>' argument missing"],
    [['--port', '80'], "unknown option '--port'"],
    [['extra'], "unexpected argument 'extra'"],
  ])('refuses %j: %s', (args, message) => {
    expect(parseServeArgs(args)).toEqual({ kind: 'error', message });
  });
});

describe('devicegate serve (through the executable)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, ['bin/devicegate.mjs', 'serve', ...args], { encoding: 'utf8', timeout: 30_000 });

  it('--help prints the usage and exits 0 without starting anything', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(SERVE_USAGE);
  });

  it('a bad option is a usage error (exit 2) with the usage on stderr', () => {
    const result = run(['--bogus']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`devicegate serve: unknown option '--bogus'\n${SERVE_USAGE}`);
  });

  it('a config file that does not exist stops start-up with exit 78 naming it', () => {
    const result = run(['--config', '/nonexistent/devicegate.json']);
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('/nonexistent/devicegate.json');
  });
});
