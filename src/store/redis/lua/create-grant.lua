-- Stores a new device grant and its user-code index in one atomic step with one shared TTL.
-- KEYS[1] user-code index   KEYS[2] grant hash (both with the user code's hash tag: one slot)
-- ARGV[1] TTL in ms (expiry + tombstone)   ARGV[2] the index's value: the device_code hash, without its tag when that is the index's own
-- ARGV[3..] field, value pairs of the grant hash (src/store/redis/grant-hash.ts)
-- Returns 1 when stored, 0 when a live grant already holds the user code (nothing is written).
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
