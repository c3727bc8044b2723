-- mixed.lua - the soak's request mix (bench/soak/run.sh): four POSTs (a
-- form, JSON, a larger form) for every GET, all benign, and a count of the
-- answers by status that done() prints as one line: "statuses 200=N 502=N ...".
local reqs = {}
local function add(method, path, headers, body)
  reqs[#reqs + 1] = wrk.format(method, path, headers, body)
end
local form = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Host"] = "127.0.0.1" }
local json = { ["Content-Type"] = "application/json", ["Host"] = "127.0.0.1" }
add("POST", "/echo/comments", form, "name=Ann&comment=Nice+post%2C+thanks&n=1")
add("POST", "/echo/api/notes", json, '{"title":"notes","body":"short text","n":3}')
add("GET", "/echo/search?q=flask&page=2", { ["Host"] = "127.0.0.1" })
add("POST", "/echo/form", form, "a=" .. string.rep("x", 3000) .. "&b=2")
add("POST", "/echo/api/items", json, '{"name":"Chair","price":34.5}')

local i = 0
request = function()
  i = i % #reqs + 1
  return reqs[i]
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() counts = {} end
response = function(status)
  counts[status] = (counts[status] or 0) + 1
end
done = function()
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for s, n in pairs(c) do total[s] = (total[s] or 0) + n end
  end
  local out = "statuses"
  for s, n in pairs(total) do out = out .. " " .. s .. "=" .. n end
  io.write(out .. "\n")
end
