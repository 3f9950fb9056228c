import type { DeviceGrant, GrantStatus } from '../../domain/device-grant.js';

/**
 * A grant as the fields of a Redis hash. Field names are snake_case so that `HGETALL` in redis-cli
 * reads like the README's table. Absent optional values are absent fields, not "null" strings.
 */
export function grantToHashFields(grant: DeviceGrant): string[] {
  const fields: Record<string, string | number | null> = {
    device_code_hash: grant.deviceCodeHash,
    user_code: grant.userCode,
    client_id: grant.clientId,
    scope: grant.scope.join(' '),
    resource: JSON.stringify(grant.resource),
    status: grant.status,
    interval: grant.interval,
    created_at: grant.createdAt,
    expires_at: grant.expiresAt,
    last_polled_at: grant.lastPolledAt,
    subject: grant.subject,
    decided_at: grant.decidedAt,
    requester_ip: grant.requester.ip,
    requester_user_agent: grant.requester.userAgent,
  };
  const flat: string[] = [];
  for (const [name, value] of Object.entries(fields)) if (value !== null) flat.push(name, String(value));
  return flat;
}

export function grantFromHashFields(hash: Record<string, string>): DeviceGrant | null {
  if (hash.device_code_hash === undefined) return null;
  return {
    deviceCodeHash: hash.device_code_hash,
    userCode: hash.user_code ?? '',
    clientId: hash.client_id ?? '',
    scope: hash.scope ? hash.scope.split(' ') : [],
    resource: hash.resource ? (JSON.parse(hash.resource) as string[]) : [],
    status: (hash.status ?? 'pending') as GrantStatus,
    interval: Number(hash.interval),
    createdAt: Number(hash.created_at),
    expiresAt: Number(hash.expires_at),
    lastPolledAt: optionalNumber(hash.last_polled_at),
    subject: hash.subject ?? null,
    decidedAt: optionalNumber(hash.decided_at),
    requester: { ip: hash.requester_ip ?? null, userAgent: hash.requester_user_agent ?? null },
  };
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
