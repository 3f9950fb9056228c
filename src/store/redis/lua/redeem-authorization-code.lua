-- Redeems one authorization code exactly once (RFC 6749 §4.1.2), atomically.
-- KEYS[1] code key
-- ARGV[1] now (ms)   ARGV[2] grant id the caller will issue   ARGV[3] how long a redeemed code is remembered (ms)
-- Returns {1, record}           first redemption: grant_id and forget_at = now + ARGV[3] recorded, key kept
--                               ARGV[3] ms so that a replay after the code's expiry is still detected
--         {2, record, grant_id} already redeemed: the first redemption's grant id, for revocation
--         {0}                   unknown or expired
local fields = redis.call('HMGET', KEYS[1], 'record', 'grant_id', 'forget_at')
local record, grant_id, forget_at = fields[1], fields[2], fields[3]
if not record then
  return {0}
end
if grant_id then
  -- The key's TTL ends the window too; `forget_at` makes the server's clock (ARGV[1]) the reference.
  if tonumber(forget_at) <= tonumber(ARGV[1]) then
    redis.call('DEL', KEYS[1])
    return {0}
  end
  return {2, record, grant_id}
end
-- The key's own TTL is the code's expiry; this check covers the last millisecond and clock skew
-- between instances (the server's clock is the reference, as for every other verb).
if tonumber(cjson.decode(record).expiresAt) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {0}
end
redis.call('HSET', KEYS[1], 'grant_id', ARGV[2], 'forget_at', tonumber(ARGV[1]) + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, record}
