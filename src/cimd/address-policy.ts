import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Which IP addresses a client metadata document may be fetched from. A document URL is chosen by
 * whoever writes a client_id, so fetching it is a server-side request forgery vector (draft
 * §6 / RFC 9700 §4.15-style concerns): the server must never connect to its own network. The check
 * runs on the address actually connected to (after DNS resolution, on every connection), so DNS
 * rebinding and IPv4-in-IPv6 spellings cannot route around it.
 */

/** IPv4 ranges that are never public unicast (RFC 6890 special-purpose registry, RFC 1918, RFC 6598…). */
const IPV4_REFUSED: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified / "this network" (RFC 1122)'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (RFC 3927)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0', 24, 'documentation (RFC 5737)'],
  ['192.88.99.0', 24, '6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking (RFC 2544)'],
  ['198.51.100.0', 24, 'documentation (RFC 5737)'],
  ['203.0.113.0', 24, 'documentation (RFC 5737)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved, and broadcast'],
];

/** IPv6 ranges that are never public unicast. Embedded-IPv4 forms are unwrapped before this list. */
const IPV6_REFUSED: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated, RFC 4291)'],
  ['100::', 64, 'discard-only (RFC 6666)'],
  ['2001::', 32, 'Teredo tunnel (RFC 4380)'],
  ['2001:db8::', 32, 'documentation (RFC 3849)'],
  ['fc00::', 7, 'unique local (RFC 4193)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated, RFC 3879)'],
  ['ff00::', 8, 'multicast'],
];

const refusedV4 = blockList(IPV4_REFUSED, 'ipv4');
const refusedV6 = blockList(IPV6_REFUSED, 'ipv6');

function blockList(ranges: readonly [string, number, string][], type: 'ipv4' | 'ipv6'): { list: BlockList; ranges: typeof ranges }[] {
  return ranges.map((range) => {
    const list = new BlockList();
    list.addSubnet(range[0], range[1], type);
    return { list, ranges: [range] };
  });
}

export interface AddressPolicy {
  /** Let loopback addresses (127.0.0.0/8, ::1) through: tests and development only. Nothing else. */
  readonly allowLoopback: boolean;
}

/**
 * Why `address` must not be connected to, or null when it is a public unicast address. IPv4-mapped
 * (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`) addresses are judged
 * by the IPv4 address they carry. Anything that is not an IP address is refused.
 */
export function refusedAddressReason(address: string, policy: AddressPolicy): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(bare)) return refusedIpv4Reason(bare, policy);
  if (!isIPv6(bare)) return 'not an IP address';
  const bytes = ipv6Bytes(bare);
  const embedded = embeddedIpv4(bytes);
  if (embedded !== null) return refusedIpv4Reason(embedded, policy);
  if (policy.allowLoopback && bytes.every((byte, i) => byte === (i === 15 ? 1 : 0))) return null;
  const hit = refusedV6.find(({ list }) => list.check(bare, 'ipv6'));
  return hit ? `${bare} is ${hit.ranges[0]![2]}` : null;
}

function refusedIpv4Reason(address: string, policy: AddressPolicy): string | null {
  if (policy.allowLoopback && address.startsWith('127.')) return null;
  const hit = refusedV4.find(({ list }) => list.check(address, 'ipv4'));
  return hit ? `${address} is ${hit.ranges[0]![2]}` : null;
}

/** The IPv4 address inside an IPv4-mapped, NAT64 well-known-prefix or 6to4 IPv6 address, else null. */
function embeddedIpv4(bytes: number[]): string | null {
  const zero = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  // 64:ff9b::a.b.c.d (RFC 6052) and 64:ff9b:1::/48 (RFC 8215, local use: judged by its tail too)
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && (zero(4, 12) || (bytes[4] === 0 && bytes[5] === 1))) {
    return bytes.slice(12).join('.');
  }
  // 2002:AABB:CCDD::/48 (RFC 3056)
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return bytes.slice(2, 6).join('.');
  return null;
}

/** 16 bytes of an IPv6 address (already checked with isIPv6), including a trailing dotted quad. */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0]!; // zone id
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.flatMap((group) => {
    const value = Number.parseInt(group || '0', 16);
    return [value >> 8, value & 0xff];
  });
}
