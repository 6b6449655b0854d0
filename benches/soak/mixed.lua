-- The soak's mixed load, one client per wrk thread: reserve a random slot
-- (about half the requests), confirm or cancel one of the thread's own
-- reservations, and now and then list free slots. Every hold is confirmed or
-- cancelled later, and every confirmed booking cancelled, so slots keep
-- churning for as long as the run lasts.
--
--   SOAK_TOKENS=tok1,tok2 wrk -t2 -c16 -d10m -s mixed.lua URL -- SLOT_FILE PROVIDER
--
-- wrk's response() does not say which request it answers, so answers are
-- told apart by their body. done() prints one line per (status, kind):
--   SOAK <status> <kind> <count>

local threads = {}
local next_token = 1

function setup(thread)
   local tokens = {}
   for token in string.gmatch(os.getenv("SOAK_TOKENS") or "", "[^,]+") do
      table.insert(tokens, token)
   end
   if #tokens == 0 then error("SOAK_TOKENS is empty") end
   thread:set("token", tokens[(next_token - 1) % #tokens + 1])
   thread:set("id", next_token)
   next_token = next_token + 1
   table.insert(threads, thread)
end

local slots = {}
local queue = {}   -- { id = ..., confirmed = bool }, oldest first
counts = {}  -- "status kind" -> count; global, so done() can read it per thread
local headers = {}
local provider

function init(args)
   local file, p = args[1], args[2]
   if not file or not p then error("usage: ... -s mixed.lua URL -- SLOT_FILE PROVIDER") end
   provider = p
   for line in io.lines(file) do
      if line ~= "" then table.insert(slots, line) end
   end
   if #slots == 0 then error("no slots in " .. file) end
   headers["Authorization"] = "Bearer " .. token
   headers["Content-Type"] = "application/json"
   math.randomseed(os.time() + id * 7919)
end

function request()
   local roll = math.random()
   if roll < 0.1 then
      return wrk.format("GET", "/v1/providers/" .. provider .. "/slots?limit=50", headers)
   end
   if #queue > 0 and roll < 0.55 then
      local item = table.remove(queue, 1)
      if not item.confirmed and math.random() < 0.6 then
         return wrk.format("POST", "/v1/reservations/" .. item.id .. "/confirm", headers, "")
      end
      return wrk.format("DELETE", "/v1/reservations/" .. item.id, headers)
   end
   local slot = slots[math.random(#slots)]
   return wrk.format("POST", "/v1/slots/" .. slot .. "/reservations", headers, "")
end

local function kind(status, body)
   if status == 201 then return "reserved" end
   if status == 200 then
      if body:find('"slots":', 1, true) then return "listed" end
      if body:find('"status":"confirmed"', 1, true) then return "confirmed" end
      if body:find('"status":"cancelled"', 1, true) then return "cancelled" end
      return "other"
   end
   return body:match('"code":"([%w_]+)"') or "no-problem-body"
end

function response(status, hdrs, body)
   local k = kind(status, body)
   local key = status .. " " .. k
   counts[key] = (counts[key] or 0) + 1
   if k == "reserved" or k == "confirmed" then
      local rid = body:match('"id":"([^"]+)"')
      if rid then table.insert(queue, { id = rid, confirmed = (k == "confirmed") }) end
   end
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      local c = thread:get("counts")
      for key, n in pairs(c) do total[key] = (total[key] or 0) + n end
   end
   for key, n in pairs(total) do
      io.write(string.format("SOAK %s %d\n", key, n))
   end
   local e = summary.errors
   io.write(string.format("SOAKSUM %d %.1f %.3f %.3f %d %d %d %d %d\n",
      summary.requests, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      e.connect, e.read, e.write, e.timeout, e.status))
end
