import { describe, expect, it } from 'vitest';
import { parseTokenFastPath } from '../../src/cli/token-fast-path.js';

const noEnv = {};

describe('parseTokenFastPath: the plain forms of `devicegate token`, parsed without commander', () => {
  it('takes `token` alone with main.ts defaults: no selector, 60 s min validity, bare token', () => {
    expect(parseTokenFastPath(['token'], noEnv)).toEqual({
      selector: { issuer: undefined, clientId: undefined, profile: undefined },
      minValidity: 60,
      json: false,
    });
  });

  it('reads every option as `--name value` or `--name=value`, the last one winning', () => {
    expect(
      parseTokenFastPath(
        ['token', '--issuer', 'https://a.example', '--client-id=cli', '--profile', 'one', '--profile=two', '--min-validity', '0', '--json'],
        noEnv,
      ),
    ).toEqual({ selector: { issuer: 'https://a.example', clientId: 'cli', profile: 'two' }, minValidity: 0, json: true });
    expect(parseTokenFastPath(['token', '--min-validity=86400'], noEnv)?.minValidity).toBe(86_400);
  });

  it('falls back to DEVICEGATE_ISSUER / _CLIENT_ID / _PROFILE, which the command line overrides (even when empty, like commander)', () => {
    const env = { DEVICEGATE_ISSUER: 'https://env.example', DEVICEGATE_CLIENT_ID: 'env-cli', DEVICEGATE_PROFILE: '' };
    expect(parseTokenFastPath(['token'], env)?.selector).toEqual({ issuer: 'https://env.example', clientId: 'env-cli', profile: '' });
    expect(parseTokenFastPath(['token', '--profile', 'mcp', '--issuer=https://cli.example'], env)?.selector).toEqual({
      issuer: 'https://cli.example',
      clientId: 'env-cli',
      profile: 'mcp',
    });
  });

  it.each([
    ['another command', ['status']],
    ['no command', []],
    ['an option before the command', ['--profile', 'x', 'token']],
    ['help', ['token', '--help']],
    ['short help', ['token', '-h']],
    ['an unknown option', ['token', '--scope', 'openid']],
    ['a positional argument', ['token', 'extra']],
    ['the end-of-options marker', ['token', '--']],
    ['a missing value', ['token', '--profile']],
    ['an empty value', ['token', '--profile=']],
    ['a value that looks like an option', ['token', '--issuer', '--json']],
    ['a negative number', ['token', '--min-validity', '-1']],
    ['a fraction', ['token', '--min-validity', '1.5']],
    ['too many seconds', ['token', '--min-validity', '86401']],
    ['not a number', ['token', '--min-validity=soon']],
    ['a value on a flag', ['token', '--json=true']],
  ])('leaves %s to commander (null)', (_, args) => {
    expect(parseTokenFastPath(args, noEnv)).toBeNull();
  });
});
