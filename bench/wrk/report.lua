-- wrk script for bench/load.py: stops each thread after a request budget (the run is
-- bounded in count as well as time) and prints one JSON line with the figures.
-- Usage: wrk -s report.lua URL -- <max requests per thread>

local max_requests = 0
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  max_requests = tonumber(args[1] or "0") or 0
  done_requests = 0
end

function response(status, headers, body)
  done_requests = done_requests + 1
  if max_requests > 0 and done_requests >= max_requests then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
