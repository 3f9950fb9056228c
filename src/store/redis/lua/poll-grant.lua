-- One poll of the token endpoint (RFC 8628 §3.4-3.5) in one atomic step. The same rules as
-- src/domain/poll-policy.ts decidePoll(); the shared contract suite keeps the two in agreement.
-- KEYS[1] grant hash   ARGV[1] client_id   ARGV[2] now (ms)
-- The policy's numbers are filled in from poll-policy.ts when the script is loaded (LuaScript constants):
-- one source, and three arguments fewer on every poll.
-- Returns {'invalid_grant'} | {'expired_token'} | {'slow_down', interval} | {'access_denied'}
--       | {'authorization_pending'} | {'approved', field, value, ...} (the consumed grant)
-- Field names: src/store/redis/grant-hash.ts (c client_id, s status, e expires_at, i interval, p last_polled_at);
-- status letters: P pending, A approved, D denied, C consumed.
local f = redis.call('HMGET', KEYS[1], 'c', 's', 'e', 'i', 'p')
local client_id, status = f[1], f[2]
-- RFC 8628 §3.4: the device_code must have been issued to this client; a redeemed code is spent.
if not client_id or client_id ~= ARGV[1] or status == 'C' then
  return {'invalid_grant'}
end
local now = tonumber(ARGV[2])
if now >= tonumber(f[3]) then
  return {'expired_token'}
end

local interval = tonumber(f[4])
local last = f[5] and tonumber(f[5])
-- Jitter leeway (pollLeewayMs): a share of the interval, capped.
local leeway = math.min($POLL_LEEWAY_MAX_MS, interval * $POLL_LEEWAY_MS_PER_INTERVAL_SECOND)
if last and now < last + interval * 1000 - leeway then
  -- RFC 8628 §3.5: slow_down adds 5 s for this and all later requests; persisted with the poll time.
  interval = interval + $SLOW_DOWN_INCREMENT_SECONDS
  redis.call('HSET', KEYS[1], 'i', interval, 'p', ARGV[2])
  return {'slow_down', interval}
end

if status == 'A' then
  -- Exactly once: the first poll after approval consumes the grant inside this script.
  redis.call('HSET', KEYS[1], 's', 'C', 'p', ARGV[2])
  local grant = redis.call('HGETALL', KEYS[1])
  table.insert(grant, 1, 'approved')
  return grant
end
redis.call('HSET', KEYS[1], 'p', ARGV[2])
if status == 'D' then
  return {'access_denied'}
end
return {'authorization_pending'}
