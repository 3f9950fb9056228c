-- Stores one authorization code (src/store/authorization-code-redis.ts), unless its hash already exists.
-- KEYS[1] code key (named by the code's SHA-256)
-- ARGV[1] TTL in ms (the code's expiresAt - now, at most 60 000)   ARGV[2] the code record as JSON
-- The hash holds `record`; `grant_id` and `forget_at` are added by redemption. Returns 1 when stored, 0 when the key exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'record', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
