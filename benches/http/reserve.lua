-- POST /v1/slots/{slotId}/reservations on DISTINCT slots, as a client.
-- FILE holds slot ids, one per line. Thread k of NTHREADS takes the ids on
-- lines k, k+NTHREADS, k+2*NTHREADS, ... (a disjoint share), and each request
-- takes that thread's next id. Should a thread run out, it starts its share
-- again (those repeats answer 409 and show as non-2xx) and done() says so.
--
--   wrk -t2 -c32 -d10s -s reserve.lua http://127.0.0.1:PORT -- FILE NTHREADS TOKEN
--
-- done() prints one line for run.sh:
--   BENCH <requests/s> <p99 ms> <non-2xx> <socket errors>

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   local file, nthreads, token = args[1], tonumber(args[2]), args[3]
   if not file or not nthreads or not token then
      error("usage: wrk ... -s reserve.lua URL -- FILE NTHREADS TOKEN")
   end
   ids = {}
   local line_no = 0
   for line in io.lines(file) do
      if line ~= "" then
         if line_no % nthreads == tid then
            ids[#ids + 1] = line
         end
         line_no = line_no + 1
      end
   end
   if #ids == 0 then
      error("thread " .. tid .. " has no slot ids in " .. file)
   end
   headers = {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = "Bearer " .. token,
   }
   cursor = 0
   wrapped = 0
end

function request()
   cursor = cursor + 1
   if cursor > #ids then
      cursor = 1
      wrapped = wrapped + 1
   end
   -- An empty body, so the request carries Content-Length: 0.
   return wrk.format("POST", "/v1/slots/" .. ids[cursor] .. "/reservations", headers, "")
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      local w = thread:get("wrapped")
      if w and w > 0 then
         io.write(string.format("WARNING thread %d ran out of slot ids %d time(s)\n",
            thread:get("tid"), w))
      end
   end
   local e = summary.errors
   io.write(string.format("BENCH %.1f %.3f %d %d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(99) / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end
