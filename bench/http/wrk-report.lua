-- wrk script for bench/http/run.sh: after wrk's own report, prints one
-- machine-readable line, "BENCH {json}", with throughput, latency
-- percentiles (ms) and error counts. Non-2xx/3xx answers count as errors
-- (wrk's status errors), so a 401 from a misconfigured credential shows.
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH {"tool":"wrk","requests":%d,"seconds":%.3f,"rps":%.1f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
