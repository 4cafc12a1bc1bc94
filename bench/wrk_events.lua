-- wrk script: POST the pre-signed events of a file ("signature<TAB>body" per line), one per
-- request, each wrk thread its own share of the lines in order, so no event is sent twice.
-- Usage: wrk -t2 -c32 -d10s -s bench/wrk_events.lua http://127.0.0.1:PORT -- events.tsv 2

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  events = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      events[#events + 1] = wrk.format("POST", "/api/v1/payment/webhook",
        {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
    end
    i = i + 1
  end
  total = #events
  sent = 0
end

function request()
  sent = sent + 1
  return events[((sent - 1) % #events) + 1]
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("thread %d sent %d of %d\n", t:get("id"), t:get("sent"),
      t:get("total")))
  end
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%s %.3f ms\n", p, latency:percentile(p) / 1000))
  end
  local e = summary.errors
  io.write(string.format("summary requests %d duration_us %d status %d connect %d read %d " ..
    "write %d timeout %d\n", summary.requests, summary.duration, e.status, e.connect, e.read,
    e.write, e.timeout))
end
