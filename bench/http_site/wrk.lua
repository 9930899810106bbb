-- wrk script of bench/http_intake.py. Arguments after `--`:
--   orders  MEMBERS_FILE TAG PATH KEY   POST a 3-line order for a random member, unique external_id
--   members MEMBERS_FILE TAG PATH KEY   GET PATH .. "/" .. a random member's id
--   rewards MEMBERS_FILE TAG PATH KEY   GET PATH .. "?member_id=" .. a random member's id
--   page    MEMBERS_FILE TAG PATH KEY   GET PATH as a random member signed in: the first column is a session
--                                       key (sent as the sessionid cookie, no API key)
-- MEMBERS_FILE has one "customer_id member_uuid" per line (page: "session_key member_uuid"). Counts
-- responses by status class and prints one line "WRKJSON {...}" when done. The order body must stay the
-- same as loadgen.py's order_body().

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local members = {}
local mode, tag, path, key
local counter = 0
n2xx, n4xx, n5xx, nother, first_error = 0, 0, 0, 0, ""

function init(args)
  mode, tag, path, key = args[1], args[3], args[4], args[5]
  for line in io.lines(args[2]) do
    local customer, id = line:match("^(%S+)%s+(%S+)$")
    table.insert(members, {customer, id})
  end
  math.randomseed(os.time() * 100 + tid)
end

local function order_body(customer)
  counter = counter + 1
  local books = math.random(10, 40)   -- 2 books at this price: the books multiplier
  local wine = math.random(8, 30)     -- 1 bottle: the wine SKU's fixed points
  local subtotal = 2 * books + wine + 25  -- and a 25.00 gift card, which never earns
  local tax = math.floor(subtotal * 19 / 100)
  return string.format(
    '{"external_id":"%s-%d-%d","member_external_id":"%s","currency":"EUR",' ..
    '"total":"%d.95","subtotal":"%d.00","tax":"%d.00","shipping":"4.95","discount":"0",' ..
    '"placed_at":"%s","lines":[' ..
    '{"sku":"BOOK-%d","name":"A book","category":"books","quantity":"2","unit_price":"%d.00","total":"%d.00"},' ..
    '{"sku":"WINE-RED-75","name":"Red wine","category":"wine","quantity":"1","unit_price":"%d.00","total":"%d.00"},' ..
    '{"sku":"GIFT-25","name":"Gift card","category":"gift card","quantity":"1","unit_price":"25.00","total":"25.00"}' ..
    ']}',
    tag, tid, counter, customer, subtotal + tax + 4, subtotal, tax, os.date("!%Y-%m-%dT%H:%M:%SZ"),
    books, books, 2 * books, wine, wine)
end

function request()
  local member = members[math.random(#members)]
  local headers = {["X-Api-Key"] = key, ["X-Forwarded-Proto"] = "https"}
  if mode == "orders" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, order_body(member[1]))
  end
  if mode == "rewards" then
    return wrk.format("GET", path .. "?member_id=" .. member[2], headers)
  end
  if mode == "page" then
    return wrk.format("GET", path, {["Cookie"] = "sessionid=" .. member[1], ["X-Forwarded-Proto"] = "https"})
  end
  return wrk.format("GET", path .. "/" .. member[2], headers)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    n2xx = n2xx + 1
  else
    if status >= 400 and status < 500 then n4xx = n4xx + 1
    elseif status >= 500 then n5xx = n5xx + 1
    else nother = nother + 1 end
    if first_error == "" then first_error = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local ok, c4, c5, other, err = 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("n2xx")
    c4 = c4 + thread:get("n4xx")
    c5 = c5 + thread:get("n5xx")
    other = other + thread:get("nother")
    if err == "" then err = thread:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"ok":%d,"4xx":%d,"5xx":%d,"other":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"first_error":"%s"}\n',
    summary.requests, summary.duration, ok, c4, c5, other, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    (err:gsub('[%c"\\]', " "))))
end
