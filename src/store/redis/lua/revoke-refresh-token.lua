-- RFC 7009 §2.1: revokes the family (the grant) of a refresh token, in one atomic step.
-- KEYS[1] token hash   ARGV[1] family key template (see rotate-refresh-token.lua)   ARGV[2] client id
-- ARGV[3] now (ms)
-- Returns 1 when this call revoked the family; 0 when the token is unknown, expired at `now`, issued
-- to another client, or its family is already revoked. Used tokens still name their family.
local token = redis.call('HMGET', KEYS[1], 'family_id', 'client_id', 'expires_at')
local family_id, client_id, expires_at = token[1], token[2], tonumber(token[3])
if not family_id or not expires_at or expires_at <= tonumber(ARGV[3]) or client_id ~= ARGV[2] then
  return 0
end
local family_template = ARGV[1]
local brace = string.find(family_template, '{}', 1, true)
local family_key = string.sub(family_template, 1, brace) .. family_id .. string.sub(family_template, brace + 1)
if redis.call('GET', family_key) ~= 'active' then
  return 0
end
-- KEEPTTL: the marker's TTL already reaches the latest expiry of the family.
redis.call('SET', family_key, 'revoked', 'KEEPTTL')
return 1
