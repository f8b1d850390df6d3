-- wrk script for scripts/bench.sh.
--
-- Environment:
--   BENCH_MODE    "get" (default): wrk sends its static request (fastest path, no Lua per request)
--                 "create": POST /api/v1/environments with a unique name per request
--   BENCH_RUN_ID  lowercase [a-z0-9] tag making names unique across runs (default "run")
--
-- Headers given with -H on the command line (Authorization) are part of wrk.headers and are
-- sent with every request, including those built here.
--
-- At the end one machine-readable line is printed:
--   BENCH requests=N duration_us=N rps=F p50_ms=F p99_ms=F non2xx=N connect=N read=N write=N timeout=N
-- where non2xx is wrk's count of HTTP status >= 400 and the last four are socket errors.

local mode = os.getenv("BENCH_MODE") or "get"
local run_id = os.getenv("BENCH_RUN_ID") or "run"

local thread_index = 0

-- Runs in the main Lua state once per thread, before the threads start.
function setup(thread)
   thread_index = thread_index + 1
   thread:set("tid", thread_index)
end

if mode == "create" then
   local counter = 0
   local prefix

   function init(args)
      -- tid is set by setup() in this thread's own Lua state.
      prefix = "bench-" .. run_id .. "-t" .. tostring(tid or 0) .. "-"
      wrk.method = "POST"
      wrk.path = "/api/v1/environments"
      wrk.headers["Content-Type"] = "application/json"
   end

   function request()
      counter = counter + 1
      local body = '{"name":"' .. prefix .. counter .. '"}'
      return wrk.format(nil, nil, nil, body)
   end
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local rps = 0
   if seconds > 0 then
      rps = summary.requests / seconds
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.2f p50_ms=%.3f p99_ms=%.3f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, rps,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      e.status, e.connect, e.read, e.write, e.timeout))
end
