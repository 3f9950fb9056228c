import { generateDeviceCode, generateUserCode, hashDeviceCode } from '../../src/domain/codes.js';
import type { DeviceGrant } from '../../src/domain/device-grant.js';

/** A pending grant as the domain would create it, with overrides. */
export function pendingGrant(now: number, overrides: Partial<DeviceGrant> = {}): DeviceGrant & { deviceCode: string } {
  const userCode = overrides.userCode ?? generateUserCode();
  const deviceCode = generateDeviceCode(userCode);
  return {
    deviceCode,
    deviceCodeHash: hashDeviceCode(deviceCode),
    userCode,
    clientId: 'demo-cli',
    scope: ['openid', 'profile'],
    resource: ['https://mcp.example.com/'],
    status: 'pending',
    interval: 5,
    createdAt: now,
    expiresAt: now + 900_000,
    lastPolledAt: null,
    subject: null,
    decidedAt: null,
    requester: { ip: '203.0.113.7', userAgent: 'curl/8.5.0' },
    ...overrides,
  };
}

/** The stored grant: what the repository returns (no raw device code). */
export function stored({ deviceCode: _, ...grant }: DeviceGrant & { deviceCode: string }): DeviceGrant {
  return grant;
}
