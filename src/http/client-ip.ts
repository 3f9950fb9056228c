import { BlockList, isIP } from 'node:net';

/**
 * Which proxies in front of the server are trusted to append to X-Forwarded-For (TRUST_PROXY):
 * none (use the socket address), a number of hops, or the proxies' addresses as CIDRs.
 */
export type ProxyTrust =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'cidrs'; readonly cidrs: readonly string[] };

/**
 * The client's address: walk the chain X-Forwarded-For + socket address from the RIGHT and take the
 * first hop not added by a trusted proxy. A proxy that appends (nginx $proxy_add_x_forwarded_for,
 * HAProxy, most load balancers) puts what it saw at the right end; everything further left was sent
 * by the client and may be forged, so the leftmost entry (Koa's and Express's `proxy = true`) is never
 * trusted on its own.
 */
export function clientIpResolver(trust: ProxyTrust): (socketAddress: string, forwardedFor: string | undefined) => string {
  if (trust.kind === 'none') return (socketAddress) => normalise(socketAddress);
  if (trust.kind === 'hops') {
    return (socketAddress, forwardedFor) => {
      const chain = [...forwardedEntries(forwardedFor), normalise(socketAddress)];
      // hops = 1: the socket peer is our proxy, the entry it appended (one to the left) is the client.
      const candidate = chain[Math.max(0, chain.length - 1 - trust.hops)]!;
      return isIP(candidate) ? candidate : normalise(socketAddress);
    };
  }
  const trusted = blockList(trust.cidrs);
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (socketAddress, forwardedFor) => {
    const peer = normalise(socketAddress);
    if (!isTrusted(peer)) return peer; // not from our proxy: its X-Forwarded-For means nothing
    const entries = forwardedEntries(forwardedFor);
    let client = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const hop = entries[i]!;
      if (!isIP(hop)) break; // garbage left of a trusted hop: the last good address is the client
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}

/** `"false"`/`"0"` → none; `"true"` → 1 hop (kept as an alias); `"2"` → 2 hops; `"10.0.0.0/8, ::1"` → CIDRs. */
export function parseProxyTrust(value: string): ProxyTrust | { error: string } {
  const text = value.trim();
  if (text === 'false' || text === '0') return { kind: 'none' };
  if (text === 'true') return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return hops <= 32 ? { kind: 'hops', hops } : { error: 'at most 32 hops' };
  }
  const cidrs = text.split(',').map((part) => part.trim()).filter(Boolean);
  for (const cidr of cidrs) {
    if (!parseCidr(cidr)) return { error: `"${cidr}" is not an IP address or CIDR (expected false, a hop count or CIDRs)` };
  }
  return cidrs.length ? { kind: 'cidrs', cidrs } : { error: 'empty' };
}

function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } | null {
  const [address = '', prefixText, extra] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d+$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > max) return null;
  return { address, prefix, family: family === 6 ? 6 : 4 };
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr)!;
    const type = parsed.family === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(parsed.address, parsed.prefix, type);
    // A server listening on :: sees IPv4 peers as ::ffff:a.b.c.d; normalise() strips that, and
    // IPv4-mapped entries in the config are matched the same way.
  }
  return list;
}

function forwardedEntries(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',').map((entry) => normalise(stripPort(entry.trim())));
}

/** `1.2.3.4:5678` and `[::1]:80` → the address alone (some proxies append ports). */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort ? v4WithPort[1]! : entry;
}

function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
