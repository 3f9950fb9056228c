-- The person's decision on a grant, once, atomically. Same rules as decideGrant() in
-- src/domain/poll-policy.ts (decisionBlocker), held to the same answers by the contract suite.
-- KEYS[1] user-code index (its value is the grant key, which shares its hash tag: one slot, see README)
-- ARGV[1] now (ms)   ARGV[2] 'approve' | 'deny'   ARGV[3] subject
-- Returns 'approved' | 'denied' | 'not_found' | 'expired' | 'already_decided'
local grant_key = redis.call('GET', KEYS[1])
if not grant_key then
  return 'not_found'
end
local f = redis.call('HMGET', grant_key, 'status', 'expires_at')
if not f[1] then
  return 'not_found'
end
if tonumber(ARGV[1]) >= tonumber(f[2]) then
  return 'expired'
end
if f[1] ~= 'pending' then
  return 'already_decided'
end
if ARGV[2] == 'deny' then
  redis.call('HSET', grant_key, 'status', 'denied', 'decided_at', ARGV[1])
  return 'denied'
end

redis.call('HSET', grant_key, 'status', 'approved', 'subject', ARGV[3], 'decided_at', ARGV[1])
return 'approved'
