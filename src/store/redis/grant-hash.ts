import type { DeviceGrant, GrantStatus } from '../../domain/device-grant.js';

/**
 * A grant as the fields of a Redis hash, laid out to stay small (issue 13: ≤ 600 bytes of Redis per
 * pending grant with a 120-byte user agent; README, "Redis keys", has the table):
 * - one-letter field names, and the status as one letter;
 * - no device_code_hash field: the key is named by it, and every reader knows it;
 * - the values no script reads (user code, lifetime, requester IP, scope, resources) packed into one
 *   tab-separated field `x` (none of them can hold a tab: scope tokens and URIs exclude it, RFC 6749
 *   §3.3, RFC 3986; the user agent, which can, has its own field `a`);
 * - every value under 64 bytes, so that Redis keeps the hash as a listpack (hash-max-listpack-value,
 *   default 64): one longer value turns it into a hash table, about three times the memory. Longer
 *   `x` and `a` values are split into ≤ 63-byte pieces `x`, `x1`, `x2`, …; the fields the scripts read
 *   and write (client id, status, times, interval, subject) are stored whole;
 * - timestamps as integers (listpack stores them in 8 bytes, not 13 characters), and created_at as
 *   the grant's lifetime (expires_at − created_at: 3 bytes);
 * - absent optional values are absent fields, not "null" strings.
 */
export const GRANT_FIELDS = {
  clientId: 'c',
  status: 's',
  expiresAt: 'e',
  interval: 'i',
  lastPolledAt: 'p',
  subject: 'w',
  decidedAt: 'd',
  /** user code, lifetime (ms), requester IP, scope, resources: tab-separated. */
  packed: 'x',
  requesterUserAgent: 'a',
} as const;

/** The status letters the scripts compare (poll-grant.lua, decide-grant.lua). */
const STATUS_LETTER: Record<GrantStatus, string> = { pending: 'P', approved: 'A', denied: 'D', consumed: 'C' };
const STATUS_OF_LETTER: Record<string, GrantStatus> = { P: 'pending', A: 'approved', D: 'denied', C: 'consumed' };

/** Longest piece of a split value: below hash-max-listpack-value (64). */
const PIECE_BYTES = 63;

export function grantToHashFields(grant: DeviceGrant): string[] {
  const f = GRANT_FIELDS;
  const flat: string[] = [
    f.clientId, grant.clientId,
    f.status, STATUS_LETTER[grant.status],
    f.expiresAt, String(grant.expiresAt),
    f.interval, String(grant.interval),
  ];
  if (grant.lastPolledAt !== null) flat.push(f.lastPolledAt, String(grant.lastPolledAt));
  if (grant.subject !== null) flat.push(f.subject, grant.subject);
  if (grant.decidedAt !== null) flat.push(f.decidedAt, String(grant.decidedAt));
  const packed = [grant.userCode, String(grant.expiresAt - grant.createdAt), grant.requester.ip ?? '', grant.scope.join(' '), grant.resource.join(' ')];
  pushPieces(flat, f.packed, packed.join('\t'));
  if (grant.requester.userAgent !== null) pushPieces(flat, f.requesterUserAgent, grant.requester.userAgent);
  return flat;
}

/** The grant stored under `deviceCodeHash`, or null when the hash is empty (no such grant). */
export function grantFromHashFields(deviceCodeHash: string, hash: Record<string, string>): DeviceGrant | null {
  const f = GRANT_FIELDS;
  const status = hash[f.status];
  if (status === undefined) return null;
  const [userCode = '', lifetime = '0', ip = '', scope = '', resource = ''] = (joinPieces(hash, f.packed) ?? '').split('\t');
  const expiresAt = Number(hash[f.expiresAt]);
  return {
    deviceCodeHash,
    userCode,
    clientId: hash[f.clientId] ?? '',
    scope: scope ? scope.split(' ') : [],
    resource: resource ? resource.split(' ') : [],
    status: STATUS_OF_LETTER[status] ?? 'consumed',
    interval: Number(hash[f.interval]),
    createdAt: expiresAt - Number(lifetime),
    expiresAt,
    lastPolledAt: optionalNumber(hash[f.lastPolledAt]),
    subject: hash[f.subject] ?? null,
    decidedAt: optionalNumber(hash[f.decidedAt]),
    requester: { ip: ip || null, userAgent: joinPieces(hash, f.requesterUserAgent) ?? null },
  };
}

/** `value` as fields `name`, `name1`, `name2`, … of at most PIECE_BYTES bytes each (never splitting a character). */
function pushPieces(flat: string[], name: string, value: string): void {
  if (Buffer.byteLength(value) <= PIECE_BYTES) {
    flat.push(name, value);
    return;
  }
  let index = 0;
  let piece = '';
  let pieceBytes = 0;
  for (const char of value) {
    const charBytes = Buffer.byteLength(char);
    if (pieceBytes + charBytes > PIECE_BYTES) {
      flat.push(index === 0 ? name : `${name}${index}`, piece);
      index++;
      piece = '';
      pieceBytes = 0;
    }
    piece += char;
    pieceBytes += charBytes;
  }
  flat.push(index === 0 ? name : `${name}${index}`, piece);
}

/** The value pushPieces stored under `name`, or undefined when absent. */
function joinPieces(hash: Record<string, string>, name: string): string | undefined {
  const first = hash[name];
  if (first === undefined) return undefined;
  let value = first;
  for (let index = 1; hash[`${name}${index}`] !== undefined; index++) value += hash[`${name}${index}`];
  return value;
}

/** HGETALL as a flat [field, value, …] array (RESP2 shape, and ioredis's "legacy" RESP3 mapping). */
export function pairsToRecord(pairs: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) record[pairs[i]!] = pairs[i + 1]!;
  return record;
}

function optionalNumber(value: string | undefined): number | null {
  return value === undefined ? null : Number(value);
}
