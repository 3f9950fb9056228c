-- The person's decision on a grant, once, atomically. Same rules as decideGrant() in
-- src/domain/poll-policy.ts.
-- KEYS[1] user-code index (its value is the grant key; standalone/Sentinel Redis, see README)
-- ARGV[1] now (ms)   ARGV[2] 'approve' | 'deny'   ARGV[3] subject
-- ARGV[4] approved scopes, space-separated, or '*' to approve every requested scope
-- Returns 'approved' | 'denied' | 'not_found' | 'expired' | 'already_decided'
local grant_key = redis.call('GET', KEYS[1])
if not grant_key then
  return 'not_found'
end
local f = redis.call('HMGET', grant_key, 'status', 'expires_at', 'scope')
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

local scope = f[3] or ''
if ARGV[4] ~= '*' then
  -- The person may approve less than was asked, never more (RFC 6749 §3.3).
  local approved = {}
  for token in string.gmatch(ARGV[4], '%S+') do approved[token] = true end
  local kept = {}
  for token in string.gmatch(scope, '%S+') do
    if approved[token] then table.insert(kept, token) end
  end
  scope = table.concat(kept, ' ')
end
redis.call('HSET', grant_key, 'status', 'approved', 'subject', ARGV[3], 'scope', scope, 'decided_at', ARGV[1])
return 'approved'
