import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigFile } from '../src/config.js';

const validClient = {
  client_id: 'cli',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
  scope: 'openid',
};

function configWith(file: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'devicegate-config-')), 'config.json');
  writeFileSync(path, typeof file === 'string' ? file : JSON.stringify(file));
  return path;
}

describe('config', () => {
  it('loads the bundled example with defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: '127.0.0.1', issuer: 'http://localhost:3000', redisUrl: undefined });
    expect(config.file.device_code).toEqual({ expires_in: 900, interval: 5 });
    expect(config.file.clients.map((c) => c.client_id)).toContain('demo-cli');
    expect(Object.isFrozen(config.file.clients[0])).toBe(true);
  });

  it('reads REDIS_CLUSTER_NODES as a list of seed URLs (spaces and empty entries ignored)', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000, rediss://u:p@10.0.0.2:7001,', DEVICEGATE_SECRET: 'x'.repeat(32) });
    expect(config.redisClusterNodes).toEqual(['redis://10.0.0.1:7000', 'rediss://u:p@10.0.0.2:7001']);
    expect(config.redisUrl).toBeUndefined();
  });

  it('derives the issuer from PORT and strips a trailing slash from ISSUER', () => {
    expect(loadConfig({ PORT: '8080' }).issuer).toBe('http://localhost:8080');
    expect(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer).toBe('https://auth.example.com');
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ ISSUER: 'not a url' }, /ISSUER/],
    [{ ISSUER: 'https://auth.example.com/?x=1' }, /ISSUER/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL/],
    [{ REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000,http://127.0.0.1:7001' }, /REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: ' , ' }, /REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000' }, /DEVICEGATE_SECRET: required with REDIS_CLUSTER_NODES/],
    [
      { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000', DEVICEGATE_SECRET: 'x'.repeat(32) },
      /REDIS_URL, REDIS_CLUSTER_NODES: set one of them/,
    ],
    [{ DEVICEGATE_CONFIG: '/nonexistent/devicegate.json' }, /DEVICEGATE_CONFIG.*ENOENT/],
  ])('refuses environment %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it.each([
    ['{ not json', /not valid JSON/],
    [{ clients: [] }, /clients: /],
    [{ clients: [{ ...validClient, device_code: { interval: 0 } }] }, /clients\[0\]\.device_code\.interval/],
    [{ device_code: { expires_in: 10, interval: 5 }, clients: [validClient] }, /device_code\.expires_in/],
    [{ clients: [{ ...validClient, token_endpoint_auth_method: 'client_secret_basic' }] }, /clients\[0\]\.client_secret_hash/],
    [{ clients: [{ ...validClient, token_endpoint_auth_method: 'private_key_jwt' }] }, /clients\[0\]\.token_endpoint_auth_method/],
    [{ clients: [validClient, validClient] }, /client_id values must be unique/],
    [{ clients: [{ ...validClient, scope: 'a  b' }] }, /clients\[0\]\.scope/],
    [{ clients: [{ ...validClient, typo_field: true }] }, /typo_field/],
  ])('refuses config file %j naming the field', (file, message) => {
    expect(() => parseConfigFile(typeof file === 'string' ? file : JSON.stringify(file))).toThrow(ConfigError);
    expect(() => parseConfigFile(typeof file === 'string' ? file : JSON.stringify(file))).toThrow(message);
  });

  it('stops start-up with a message naming the field and exit code 78', () => {
    const path = configWith({ clients: [{ ...validClient, device_code: { interval: 0 } }] });
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DEVICEGATE_CONFIG: path, PORT: '0' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('clients[0].device_code.interval');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
