import { describe, expect, it } from 'vitest';
import { refusedAddressReason } from '../../src/cimd/address-policy.js';
import { cacheLifetimeMs, CIMD_DEFAULTS } from '../../src/cimd/fetch-client-metadata.js';

const strict = { allowLoopback: false };
const loopbackAllowed = { allowLoopback: true };

describe('address policy (SSRF)', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['192.0.0.8', 'IETF'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:c0a8:0101::1', 'private'],
    ['::10.0.0.1', 'IPv4-compatible'],
    ['2001:db8::1', 'documentation'],
    ['[::1]', 'loopback'],
    ['not-an-ip', 'not an IP address'],
  ])('refuses %s (%s)', (address, why) => {
    expect(refusedAddressReason(address, strict)).toContain(why);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8'])(
    'allows public %s',
    (address) => {
      expect(refusedAddressReason(address, strict)).toBeNull();
    },
  );

  it('allow_loopback lets loopback through and nothing else', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '[::1]']) expect(refusedAddressReason(address, loopbackAllowed), address).toBeNull();
    for (const address of ['10.0.0.1', '192.168.0.1', '169.254.169.254', 'fd00::1', 'fe80::1', '::', '0.0.0.0', '::ffff:10.0.0.1']) {
      expect(refusedAddressReason(address, loopbackAllowed), address).not.toBeNull();
    }
  });
});

describe('cache lifetime from HTTP headers (clamped)', () => {
  const now = Date.UTC(2026, 0, 1);
  const life = (headers: Record<string, string>) => cacheLifetimeMs(headers, now, CIMD_DEFAULTS);
  it('uses max-age, s-maxage first, minus Age', () => {
    expect(life({ 'cache-control': 'public, max-age=600' })).toBe(600_000);
    expect(life({ 'cache-control': 'max-age=600, s-maxage=900' })).toBe(900_000);
    expect(life({ 'cache-control': 'max-age=600', age: '300' })).toBe(300_000);
  });
  it('uses Expires − Date without max-age; an invalid Expires is the minimum', () => {
    expect(life({ expires: new Date(now + 7_200_000).toUTCString(), date: new Date(now).toUTCString() })).toBe(7_200_000);
    expect(life({ expires: '0' })).toBe(60_000);
  });
  it('clamps to 60 s … 24 h; no-store and no-cache count as the minimum; no headers → 5 min', () => {
    expect(life({ 'cache-control': 'max-age=5' })).toBe(60_000);
    expect(life({ 'cache-control': 'max-age=31536000' })).toBe(86_400_000);
    expect(life({ 'cache-control': 'no-store' })).toBe(60_000);
    expect(life({ 'cache-control': 'no-cache, max-age=3600' })).toBe(60_000);
    expect(life({})).toBe(300_000);
  });
});
