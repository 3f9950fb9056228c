-- wrk script for bench/device-authorize.ts (adapted from /work/shared/peer-bench/lua/form.lua):
-- POSTs the fixed form body $BODY, tallies HTTP statuses and OAuth "error" codes, and prints one
-- JSON line prefixed "RESULT " at the end, which the driver parses.
--   BODY='client_id=demo-cli&scope=openid' wrk -t1 -c32 -d10s --latency -s bench/lua/form.lua URL
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BODY") or ""

statuses, errors = {}, {}

local threads = {}
function setup(thread)
  table.insert(threads, thread)
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
  local st, er, non200 = {}, {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      st[k] = (st[k] or 0) + v
      if k ~= 200 then non200 = non200 + v end
    end
    for k, v in pairs(t:get("errors")) do er[k] = (er[k] or 0) + v end
  end
  local s = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"non200":%d,"statuses":%s,"errors":%s,"socket":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    non200, tojson(st), tojson(er), s.connect, s.read, s.write, s.status, s.timeout))
end
