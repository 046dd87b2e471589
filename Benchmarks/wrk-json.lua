-- wrk -s wrk-json.lua: after wrk's usual text, one JSON line with the figures run.sh reads
-- (latencies in milliseconds; non_2xx counts answers outside 2xx/3xx).
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"requests_per_second":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"non_2xx":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
end

-- WRK_METHOD=POST (and WRK_BODY) in the environment send that method and body instead of GET.
if os.getenv("WRK_METHOD") then
  wrk.method = os.getenv("WRK_METHOD")
  wrk.body = os.getenv("WRK_BODY") or ""
end

-- With WRK_PATHS=<file> in the environment, each request takes the next path of that file (one
-- per line; each thread starts at its own offset) instead of the URL's.
local file = os.getenv("WRK_PATHS")
if file and file ~= "" then
  local paths = {}
  for line in io.lines(file) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  local next_index = 1
  init = function(args)
    next_index = math.random(#paths)
  end
  request = function()
    local path = paths[next_index]
    next_index = next_index % #paths + 1
    return wrk.format(nil, path)
  end
end
