-- wrk script: POST a pre-built NDJSON body (BODY_FILE, e.g. 1000 order events) on every
-- request, keep-alive. events/s = wrk's req/s x the body's line count.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.body = f:read("*a")
f:close()

local bad = 0
function response(status, headers, body)
    if status ~= 200 and status ~= 207 and bad < 3 then
        bad = bad + 1
        io.stderr:write("batch: status " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
end
