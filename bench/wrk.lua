-- wrk script: sends GET <path> with "Authorization: Bearer <token>", rotating over the tokens in
-- the file named by the TOKENS environment variable (one per line). One token = warm (the same
-- token every request); a pool larger than the edge's token cache = cold (every request is a
-- cache miss and a full verification). Prints one JSON line of results in done().
local tokens_file = os.getenv("TOKENS")
local path = os.getenv("BENCH_PATH") or "/api/items"
local requests = {}
local n = 0
local i = 0
local threads = 0

-- With several wrk threads each one takes its own share of the pool, so no token repeats
-- sooner than once per pool.
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
  all_threads = all_threads or {}
  table.insert(all_threads, thread)
  for _, t in ipairs(all_threads) do t:set("nthreads", threads) end
end

function init(args)
  local all = {}
  for line in io.lines(tokens_file) do
    if #line > 0 then all[#all + 1] = line end
  end
  if #all == 0 then error("no tokens in " .. tokens_file) end
  local step, first = nthreads or 1, (tid or 0) + 1
  if #all < step then step, first = 1, 1 end -- e.g. the warm case: one token for every thread
  for k = first, #all, step do
    n = n + 1
    requests[n] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. all[k] })
  end
  -- BENCH_OFFSET: where the previous slice of this worker's measurement stopped in the pool.
  i = math.floor((tonumber(os.getenv("BENCH_OFFSET") or "0") or 0) / step) % n
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.timeout, e.status))
end
