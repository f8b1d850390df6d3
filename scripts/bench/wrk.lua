-- wrk script for scripts/bench.sh.
--
-- Environment:
--   BENCH_MODE    "get" (default): wrk sends its static request (fastest path, no Lua per request)
--                 "create": POST /api/v1/environments with a unique name per request
--                 "sequence": a deployment's whole life per sequence: POST /api/v1/deployments,
--                 then PATCH it to in_progress and to succeeded, each step sent when the
--                 previous answered; the components and environments come from
--                 BENCH_COMPONENT_IDS and BENCH_ENVIRONMENT_IDS (comma-separated UUIDs)
--   BENCH_RUN_ID  lowercase [a-z0-9] tag making names unique across runs (default "run")
--
-- Headers given with -H on the command line (Authorization) are part of wrk.headers and are
-- sent with every request, including those built here.
--
-- At the end one machine-readable line is printed:
--   BENCH requests=N duration_us=N rps=F p50_ms=F p99_ms=F non2xx=N connect=N read=N write=N timeout=N
-- where non2xx is wrk's count of HTTP status >= 400 and the last four are socket errors; in
-- "sequence" mode it ends with sequences=N, the sequences that reached succeeded.

local mode = os.getenv("BENCH_MODE") or "get"
local run_id = os.getenv("BENCH_RUN_ID") or "run"

local thread_index = 0
local threads = {}

-- Runs in the main Lua state once per thread, before the threads start.
function setup(thread)
   thread_index = thread_index + 1
   thread:set("tid", thread_index)
   table.insert(threads, thread)
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

if mode == "sequence" then
   local counter = 0
   local components, environments = {}, {}
   -- Deployments whose next step is due: {id, status}, first in first out.
   local due, first, last = {}, 1, 0
   sequences = 0

   local function split(text)
      local items = {}
      for item in string.gmatch(text or "", "[^,]+") do
         table.insert(items, item)
      end
      return items
   end

   function init(args)
      components = split(os.getenv("BENCH_COMPONENT_IDS"))
      environments = split(os.getenv("BENCH_ENVIRONMENT_IDS"))
      if #components == 0 or #environments == 0 then
         error("sequence mode needs BENCH_COMPONENT_IDS and BENCH_ENVIRONMENT_IDS")
      end
      wrk.headers["Content-Type"] = "application/json"
   end

   function request()
      if first <= last then
         local step = due[first]
         due[first] = nil
         first = first + 1
         return wrk.format("PATCH", "/api/v1/deployments/" .. step[1], nil,
            '{"status":"' .. step[2] .. '"}')
      end
      counter = counter + 1
      -- Threads start at different offsets so they rarely touch the same latest row.
      local n = counter + (tid or 0) * 7919
      local component = components[n % #components + 1]
      local environment = environments[math.floor(n / #components) % #environments + 1]
      local body = '{"componentId":"' .. component .. '","environmentId":"' .. environment ..
         '","version":"bench-' .. run_id .. '-' .. counter .. '","deployedBy":"bench"}'
      return wrk.format("POST", "/api/v1/deployments", nil, body)
   end

   function response(status, headers, body)
      if status ~= 200 and status ~= 201 then
         return
      end
      local id = string.match(body, '"id"%s*:%s*"([^"]+)"')
      local now = string.match(body, '"status"%s*:%s*"([^"]+)"')
      local next_status = nil
      if now == "pending" then
         next_status = "in_progress"
      elseif now == "in_progress" then
         next_status = "succeeded"
      elseif now == "succeeded" then
         sequences = sequences + 1
      end
      if id and next_status then
         last = last + 1
         due[last] = {id, next_status}
      end
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
   if mode == "sequence" then
      local total = 0
      for _, thread in ipairs(threads) do
         total = total + (thread:get("sequences") or 0)
      end
      io.write(string.format("BENCH_SEQUENCES sequences=%d\n", total))
   end
end
