-- Rotates a refresh token (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2) in one atomic step: Redis runs a
-- script alone, so of N concurrent rotations of one token exactly one succeeds.
-- KEYS[1] presented token hash   KEYS[2] next token hash
-- ARGV[1] family key template (see below)   ARGV[2] client id
-- ARGV[3] now (ms)   ARGV[4] next token hash   ARGV[5] next TTL (ms)   ARGV[6] next expires_at (ms)
--
-- The family key is read from the presented token, so it cannot be declared in KEYS: the script
-- builds it from a template that the key builder produced.
-- The family key is the template ARGV[1] (the key builder's family key with `{}` where the id goes)
-- with the family id read from the token put in the braces: a Redis Cluster hash tag. The token's own
-- key carries the same tag (its hash starts with the family id), so both are in one slot.
--
-- Returns {'rotated', <field, value pairs of the presented token as it was>} | {'reused', family_id}
--       | {'invalid'} | {'conflict'} (the next token hash is already stored; nothing is written).
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return {'invalid'}
end
local token = {}
for i = 1, #fields, 2 do
  token[fields[i]] = fields[i + 1]
end
-- Unknown or expired at the caller's clock.
local expires_at = tonumber(token.expires_at)
if not expires_at or expires_at <= tonumber(ARGV[3]) then
  return {'invalid'}
end
-- RFC 6749 §6, §10.4: bound to the client it was issued to; another client changes nothing.
if token.client_id ~= ARGV[2] then
  return {'invalid'}
end
-- Revoked family (or, never expected, a missing marker: fail closed).
local family_template = ARGV[1]
local brace = string.find(family_template, '{}', 1, true)
local family_key = string.sub(family_template, 1, brace) .. token.family_id .. string.sub(family_template, brace + 1)
if redis.call('GET', family_key) ~= 'active' then
  return {'invalid'}
end
-- A used token presented again: revoke the whole family, keeping the marker's TTL (it already
-- reaches the latest expiry of the family).
if token.status ~= 'active' then
  redis.call('SET', family_key, 'revoked', 'KEEPTTL')
  return {'reused', token.family_id}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'conflict'}
end
-- The used token stays until its own expiry, so a replay is detected.
redis.call('HSET', KEYS[1], 'status', 'used')
-- RFC 6749 §6: the next token carries the original grant's scope, resource, subject and client.
redis.call('HSET', KEYS[2],
  'token_hash', ARGV[4], 'family_id', token.family_id, 'client_id', token.client_id,
  'subject', token.subject, 'scope', token.scope, 'resource', token.resource,
  'created_at', ARGV[3], 'expires_at', ARGV[6], 'status', 'active')
redis.call('PEXPIRE', KEYS[2], ARGV[5])
-- The family marker must outlive its newest token.
local ttl = tonumber(ARGV[5])
if redis.call('PTTL', family_key) < ttl then
  redis.call('PEXPIRE', family_key, ttl)
end
return {'rotated', unpack(fields)}
