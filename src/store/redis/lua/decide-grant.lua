-- The person's decision on a grant, once, atomically. Same rules as decideGrant() in
-- src/domain/poll-policy.ts (decisionBlocker), held to the same answers by the contract suite.
-- KEYS[1] user-code index (its value is the device_code hash; the grant key built from it shares the
--         index's hash tag: one slot, see README "Redis keys")
-- ARGV[1] now (ms)   ARGV[2] 'approve' | 'deny'   ARGV[3] subject
-- ARGV[4] grant key template: the key builder's grant key with `{}` where the routing tag goes
-- Returns 'approved' | 'denied' | 'not_found' | 'expired' | 'already_decided'
local device_code_hash = redis.call('GET', KEYS[1])
if not device_code_hash then
  return 'not_found'
end
-- Same naming as key-names.ts taggedName(): `<tag>.<digest>` → template with {tag}, then digest.
-- The index holds the digest alone when the hash's tag is the index's own (every grant this version
-- creates: 43 bytes, an embedded string), else the whole hash. Same naming as key-names.ts.
if not string.find(device_code_hash, '.', 1, true) then
  device_code_hash = string.match(KEYS[1], '{([^}]*)}') .. '.' .. device_code_hash
end
local tag, digest = string.match(device_code_hash, '^([%w_%-]+)%.(.+)$')
local brace = string.find(ARGV[4], '{}', 1, true)
local grant_key
if tag then
  grant_key = string.sub(ARGV[4], 1, brace) .. tag .. string.sub(ARGV[4], brace + 1) .. digest
else
  grant_key = string.sub(ARGV[4], 1, brace - 1) .. device_code_hash
end
-- Field names: src/store/redis/grant-hash.ts (s status: P pending, A approved, D denied, C consumed;
-- e expires_at, w subject, d decided_at).
local f = redis.call('HMGET', grant_key, 's', 'e')
if not f[1] then
  return 'not_found'
end
if tonumber(ARGV[1]) >= tonumber(f[2]) then
  return 'expired'
end
if f[1] ~= 'P' then
  return 'already_decided'
end
if ARGV[2] == 'deny' then
  redis.call('HSET', grant_key, 's', 'D', 'd', ARGV[1])
  return 'denied'
end

redis.call('HSET', grant_key, 's', 'A', 'w', ARGV[3], 'd', ARGV[1])
return 'approved'
