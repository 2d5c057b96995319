-- wrk script for the soak: a mix of valid inspections and client mistakes on the inspect route.
-- env: DIR (a folder holding valid_*.png, truncated.png, corrupt.bin, oversized.bin, text.txt), KEY (an operator key).
-- Every answer is counted by status; a 5xx other than 503 is a failure of the service.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local data = f:read("*all")
    f:close()
    return data
end

function init(args)
    local dir = os.getenv("DIR")
    local key = os.getenv("KEY")
    local good = "/api/v1/products/bottle/inspect"
    local function req(path, type, body, auth)
        return wrk.format("POST", path, {["Content-Type"] = type, ["Authorization"] = "Bearer " .. auth}, body)
    end
    requests = {}
    -- weights out of 100: valid 80, then each mistake a few times.
    local i = 0
    while true do
        local body = read(dir .. "/valid_" .. i .. ".png")
        if not body then break end
        for _ = 1, 8 do table.insert(requests, req(good, "image/png", body, key)) end
        i = i + 1
    end
    local valid = #requests
    local mistakes = {
        {4, req(good, "image/png", read(dir .. "/truncated.png"), key)},
        {4, req(good, "image/png", read(dir .. "/corrupt.bin"), key)},
        {4, req(good, "text/plain", read(dir .. "/text.txt"), key)},
        {1, req(good, "image/png", read(dir .. "/oversized.bin"), key)},
        {3, req(good, "image/png", read(dir .. "/valid_0.png"), "pc_not_a_real_key")},
        {3, req("/api/v1/products/no-such-product/inspect", "image/png", read(dir .. "/valid_0.png"), key)},
        {1, req(good, "image/png", "", key)},
    }
    -- scale mistakes so valid ones are 80% of the mix
    local unit = valid / 80
    for _, m in ipairs(mistakes) do
        for _ = 1, math.max(1, math.floor(m[1] * unit + 0.5)) do table.insert(requests, m[2]) end
    end
    statuses = {}
    math.randomseed(os.time() + #threads)
end

function request()
    return requests[math.random(#requests)]
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local counts = {}
    for _, t in ipairs(threads) do
        for status, n in pairs(t:get("statuses")) do
            counts[tostring(status)] = (counts[tostring(status)] or 0) + n
        end
    end
    local parts = {}
    for status, n in pairs(counts) do table.insert(parts, string.format('"%s": %d', status, n)) end
    local e = summary.errors
    io.write(string.format(
        'WRK_JSON {"requests": %d, "seconds": %.3f, "rps": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
        '"statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout, e.status))
end
