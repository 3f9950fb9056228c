-- Stores the first refresh token of a new family, and the family marker, in one atomic step.
-- KEYS[1] refresh token hash   KEYS[2] family marker
-- ARGV[1] TTL in ms (the token's expiresAt - now)   ARGV[2..] field, value pairs of the token hash
-- The family marker is a string, `active` until revoked, whose TTL always reaches the latest expiry of
-- any token of the family (rotation extends it), so a revocation outlives every token it covers.
-- Returns 1 when stored, 0 when the token or the family already exists (nothing is written).
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], 'active', 'PX', ARGV[1])
return 1
