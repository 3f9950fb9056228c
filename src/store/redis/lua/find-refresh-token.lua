-- Reads an active refresh token (for introspection) in one round trip: the token hash and its family
-- marker, consistently.
-- KEYS[1] token hash   ARGV[1] family key template (see rotate-refresh-token.lua)   ARGV[2] now (ms)
-- Returns the token's field, value pairs, or an empty array when it is unknown, expired at `now`, used,
-- or its family is revoked.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
  return {}
end
local token = {}
for i = 1, #fields, 2 do
  token[fields[i]] = fields[i + 1]
end
local expires_at = tonumber(token.expires_at)
if not expires_at or expires_at <= tonumber(ARGV[2]) or token.status ~= 'active' then
  return {}
end
local family_template = ARGV[1]
local brace = string.find(family_template, '{}', 1, true)
local family_key = string.sub(family_template, 1, brace) .. token.family_id .. string.sub(family_template, brace + 1)
if redis.call('GET', family_key) ~= 'active' then
  return {}
end
return fields
