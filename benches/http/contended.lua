-- POST /v1/slots/{slotId}/reservations, every request at ONE slot id, as a
-- client. With the slot free at the start, one request wins (201) and every
-- other is refused (409): this measures the losing side of the atomic hold.
--
--   wrk -t2 -c32 -d10s -s contended.lua http://127.0.0.1:PORT -- SLOT_ID TOKEN
--
-- done() prints one line for run.sh:
--   BENCH <requests/s> <p99 ms> <non-2xx> <socket errors>

function init(args)
   local slot, token = args[1], args[2]
   if not slot or not token then
      error("usage: wrk ... -s contended.lua URL -- SLOT_ID TOKEN")
   end
   wrk.method = "POST"
   wrk.path = "/v1/slots/" .. slot .. "/reservations"
   wrk.body = ""
   wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH %.1f %.3f %d %d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(99) / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end
