/**
 * The only place Redis key names are built. No `{…}` in the names: braces are Redis Cluster hash
 * tags, and this layout targets a standalone or Sentinel-managed Redis (see README, "Redis keys").
 */
export interface KeyBuilder {
  /** Hash holding one grant's state, named by the SHA-256 of its device_code. */
  grant(deviceCodeHash: string): string;
  /** String holding the grant key name, named by the normalised user code. */
  userCodeIndex(userCode: string): string;
}

export function keyBuilder(prefix = 'devicegate:'): KeyBuilder {
  return {
    grant: (deviceCodeHash) => `${prefix}grant:${deviceCodeHash}`,
    userCodeIndex: (userCode) => `${prefix}user_code:${userCode}`,
  };
}
