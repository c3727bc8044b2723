-- mix.lua - the request mix of bench/waf/run.sh: ten requests in turn, eight
-- ordinary (queries, a form, JSON, a multipart upload) and two attacks
-- (SQL injection in the query, template injection in JSON), so 20% of the
-- answers are expected to be 403 wherever a WAF runs.
local reqs = {}

local function add(method, path, headers, body)
  reqs[#reqs + 1] = wrk.format(method, path, headers, body)
end

local form = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Host"] = "app.example" }
local json = { ["Content-Type"] = "application/json", ["Host"] = "app.example" }
local plain = { ["Host"] = "app.example", ["Accept"] = "text/html" }
local mp = { ["Content-Type"] = "multipart/form-data; boundary=XyZ", ["Host"] = "app.example" }

add("GET", "/search?q=flask+tutorial&page=2", plain)
add("GET", "/users/42?tab=profile", plain)
add("POST", "/comments", form, "name=O%27Brien&comment=Please+select+a+date+and+drop+us+a+line.&csrfmiddlewaretoken=abc123")
add("POST", "/api/notes", json, '{"title":"Release notes","body":"# Notes\\n\\n* faster search\\n* fixed a crash","tags":["a","b"],"n":3}')
add("GET", "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", plain)
add("GET", "/blog/2024/05/hello-world", plain)
add("POST", "/api/items", json, '{"name":"Chair","price":34.5,"description":"Oak, 120 cm. \\u00c7a va tr\\u00e8s bien."}')
add("POST", "/upload", mp, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nMeeting notes: select a venue.\r\n--XyZ--\r\n")
add("POST", "/api/render", json, '{"template":"{{ cycler.__init__.__globals__.os.popen(\'id\').read() }}"}')
add("GET", "/static/css/site.css", plain)

local i = 0
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
