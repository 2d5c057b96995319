-- wrk script: POST one PNG to the inspect route; counts answers by status and prints a JSON summary.
-- env: IMAGE (path of the PNG), KEY (an operator key).
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    local f = assert(io.open(os.getenv("IMAGE"), "rb"))
    wrk.method = "POST"
    wrk.body = f:read("*all")
    f:close()
    wrk.headers["Content-Type"] = "image/png"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
    statuses = {}
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
        'WRK_JSON {"requests": %d, "seconds": %.3f, "rps": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, ' ..
        '"max_ms": %.2f, "statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout, e.status))
end
