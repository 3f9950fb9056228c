import { describe, expect, it } from 'vitest';
import { ipBucket } from '../../src/ui/limiter.js';

describe('ipBucket: the key an address is limited under', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1234:5678:9abc:def0:1:2', '2001:db8:1234:5678::/64'],
    ['2001:db8:1234:5678::1', '2001:db8:1234:5678::/64'],
    ['2001:0db8:0000:0001:ffff::', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::FFFF:198.51.100.1', '198.51.100.1'],
    ['not an address', 'not an address'], // no colon: taken as it is, as before
  ])('%s → %s', (ip, bucket) => {
    expect(ipBucket(ip)).toBe(bucket);
  });

  it('puts every address of one /64 in one bucket, and neighbouring /64s apart', () => {
    expect(ipBucket('2001:db8:1:2::aaaa')).toBe(ipBucket('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(ipBucket('2001:db8:1:2::1')).not.toBe(ipBucket('2001:db8:1:3::1'));
  });
});
