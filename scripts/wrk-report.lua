-- wrk reporter: one line with median, p95 and p99 latency (wrk's own output lacks p95).
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "requests/s %.0f | p50 %.2f ms | p95 %.2f ms | p99 %.2f ms | max %.2f ms | %d requests, %d socket errors, %d non-2xx/3xx\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, errors, summary.errors.status))
end
