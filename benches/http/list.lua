-- GET /v1/providers/{provider}/slots?limit=50 with a bearer token.
-- The same request every time: the first page of the provider's calendar.
--
--   wrk -t2 -c32 -d10s -s list.lua http://127.0.0.1:PORT -- PROVIDER TOKEN
--
-- done() prints one line for run.sh:
--   BENCH <requests/s> <p99 ms> <non-2xx> <socket errors>

function init(args)
   local provider, token = args[1], args[2]
   if not provider or not token then
      error("usage: wrk ... -s list.lua URL -- PROVIDER TOKEN")
   end
   wrk.method = "GET"
   wrk.path = "/v1/providers/" .. provider .. "/slots?limit=50"
   wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
   local e = summary.errors
   -- wrk counts a status >= 400 as a status error; these routes answer no 3xx.
   io.write(string.format("BENCH %.1f %.3f %d %d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(99) / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end
