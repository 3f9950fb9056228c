-- wrk script for bench/poll.ts (adapted from /work/shared/peer-bench/lua/form.lua): token polls, one
-- device code per request, cycling through $CODES_FILE (one code a line), body $BODY_PREFIX .. code.
-- Tallies HTTP statuses and OAuth "error" codes and prints one JSON line prefixed "RESULT ".
--
-- $STATE_FILE (optional) holds the index to start from and receives, at the end, the index of the next
-- code not yet sent: consecutive wrk runs (warm-up, measured window, retries) continue the cycle instead
-- of starting over at code 1, so every code is polled once per pass of the whole list, never sooner.
-- With -tT threads (tell it $THREADS), thread t sends codes start+t, start+t+T, … (mod the list length).
--   CODES_FILE=codes.txt BODY_PREFIX='grant_type=…&client_id=demo-cli&device_code=' STATE_FILE=next.txt \
--     wrk -t1 -c32 -d10s --latency -s bench/lua/poll.lua http://127.0.0.1:PORT/oauth/token
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local codes_file = os.getenv("CODES_FILE") or error("CODES_FILE is required")
local prefix = os.getenv("BODY_PREFIX") or ""
local state_file = os.getenv("STATE_FILE")

local function read_start()
  if not state_file or state_file == "" then return 0 end
  local f = io.open(state_file, "r")
  if not f then return 0 end
  local n = tonumber(f:read("*l") or "") or 0
  f:close()
  return n
end

-- Every Lua state (the main one for setup/done, one per thread) reads the list.
local codes = {}
for line in io.lines(codes_file) do
  if #line > 0 then codes[#codes + 1] = line end
end
if #codes == 0 then error("no codes in " .. codes_file) end
local start = read_start() % #codes

statuses, errors = {}, {}
sent = 0 -- requests this thread has sent (a global, so that done() can read it with thread:get)
tid = 0
local stride = tonumber(os.getenv("THREADS") or "1") or 1

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

request = function()
  local i = (start + tid + sent * stride) % #codes + 1
  sent = sent + 1
  return wrk.format(nil, nil, nil, prefix .. codes[i])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 then
    local e = (body and body:match('"error"%s*:%s*"([^"]+)"')) or "unparsed"
    errors[e] = (errors[e] or 0) + 1
  end
end

local function tojson(t)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s":%d', tostring(k), v) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local st, er, non200, most = {}, {}, 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      st[k] = (st[k] or 0) + v
      if k ~= 200 then non200 = non200 + v end
    end
    for k, v in pairs(t:get("errors")) do er[k] = (er[k] or 0) + v end
    local n = t:get("sent") or 0
    if n > most then most = n end
  end
  local nxt = (start + most * #threads) % #codes
  if state_file and state_file ~= "" then
    local f = assert(io.open(state_file, "w"))
    f:write(tostring(nxt), "\n")
    f:close()
  end
  local s = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"non200":%d,"statuses":%s,"errors":%s,"socket":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"codes":%d,"start":%d,"next":%d,"sent":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    non200, tojson(st), tojson(er), s.connect, s.read, s.write, s.status, s.timeout,
    #codes, start, nxt, most * #threads))
end
