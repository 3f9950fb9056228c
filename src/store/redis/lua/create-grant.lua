-- Stores a new device grant and its user-code index in one atomic step with one shared TTL; on a
-- standalone Redis it also counts the device authorization flood limit in the same step (one round trip).
-- KEYS[1] user-code index   KEYS[2] grant hash (both with the user code's hash tag: one slot)
-- KEYS[3..] optional flood-limit counters (rate-limiter-flexible's keys; never on a Redis Cluster: other slots)
-- ARGV[1] TTL in ms (expiry + tombstone)   ARGV[2] the index's value: the device_code hash, without its tag when that is the index's own
-- ARGV[3] the flood-limit window in ms (0 without counters)   ARGV[4 .. 3+#counters] each counter's limit, in KEYS order
-- then field, value pairs of the grant hash (src/store/redis/grant-hash.ts)
-- Returns 1 when stored, 0 when a live grant already holds the user code (nothing is written, nothing
-- counted), {'limited', ms} when a counter is over its limit: nothing is written, ms is the longest
-- remaining window of the refused counters (Retry-After), and the points taken from the others go back.
local counters = #KEYS - 2
if counters > 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
  end
  local window = tonumber(ARGV[3])
  local refusedFor = -1
  local taken = {}
  for i = 1, counters do
    local key = KEYS[2 + i]
    -- Fixed window: the first hit starts it.
    local count = redis.call('INCR', key)
    if count == 1 then
      redis.call('PEXPIRE', key, window)
    end
    if count > tonumber(ARGV[3 + i]) then
      local remaining = redis.call('PTTL', key)
      if remaining < 0 then
        -- A counter without expiry (not written by this script nor rate-limiter-flexible) would refuse forever.
        redis.call('PEXPIRE', key, window)
        remaining = window
      end
      if remaining > refusedFor then
        refusedFor = remaining
      end
    else
      taken[#taken + 1] = key
    end
  end
  if refusedFor >= 0 then
    for _, key in ipairs(taken) do
      redis.call('DECR', key)
    end
    return { 'limited', refusedFor }
  end
end
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 4 + counters))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
