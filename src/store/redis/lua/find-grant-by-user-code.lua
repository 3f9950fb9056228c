-- A grant by its user code, in one round trip: the index, then the grant it names.
-- KEYS[1] user-code index   ARGV[1] grant key template (as decide-grant.lua)
-- Returns {} when there is no such grant, else {device_code_hash, field, value, ...}.
local device_code_hash = redis.call('GET', KEYS[1])
if not device_code_hash then
  return {}
end
-- The index holds the digest alone when the hash's tag is the index's own (every grant this version
-- creates: 43 bytes, an embedded string), else the whole hash. Same naming as key-names.ts.
if not string.find(device_code_hash, '.', 1, true) then
  device_code_hash = string.match(KEYS[1], '{([^}]*)}') .. '.' .. device_code_hash
end
local tag, digest = string.match(device_code_hash, '^([%w_%-]+)%.(.+)$')
local brace = string.find(ARGV[1], '{}', 1, true)
local grant_key
if tag then
  grant_key = string.sub(ARGV[1], 1, brace) .. tag .. string.sub(ARGV[1], brace + 1) .. digest
else
  grant_key = string.sub(ARGV[1], 1, brace - 1) .. device_code_hash
end
local fields = redis.call('HGETALL', grant_key)
if #fields == 0 then
  return {}
end
table.insert(fields, 1, device_code_hash)
return fields
