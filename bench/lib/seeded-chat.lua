-- wrk: a chat completion per request, each with its own seed (run, thread and request number: no seed
-- is sent twice in a run), so a gateway's cache never answers; args: model, max_tokens, key (or "-"),
-- the run's number. With temperature 0 the answer is the same for every seed.
-- setup runs in the main state and gives each thread its number as the global thread_id (a local of
-- that name here would hide it), so the seeds of two threads never meet.
local next_id = 0
local threads = {}
function setup(thread)
    next_id = next_id + 1
    thread:set("thread_id", next_id)
    threads[#threads + 1] = thread
end
local count = 0
function init(args)
    model, max_tokens, key, run = args[1], args[2], args[3], tonumber(args[4])
    headers = { ["Content-Type"] = "application/json" }
    if key ~= "-" then headers["Authorization"] = "Bearer " .. key end
end
function request()
    count = count + 1
    local body = string.format('{"model":"%s","messages":[{"role":"user","content":"What is the capital of France?"}],'
        .. '"temperature":0,"max_tokens":%s,"seed":%d}', model, max_tokens, run * 100000000 + thread_id * 1000000 + count)
    return wrk.format("POST", "/v1/chat/completions", headers, body)
end
-- A cache hit would measure infer's cache, not the upstream: count them (the scripts fail on any).
hits = 0
function response(status, response_headers, body)
    if (response_headers["X-Cache"] or response_headers["x-cache"]) == "HIT" then hits = hits + 1 end
end
function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("hits") end
    io.write(string.format("cache hits: %d\n", total))
end
