-- Officers searching with 100 ms between searches per connection (20 officers offer
-- about 200 searches/s): the latency a person sees when the server is busy, not saturated.
delay = function() return 100 end
local searches = {
  "/institutions?q=%E5%86%85%E7%A7%91",                -- 内科 (many matches)
  "/institutions?q=%E3%81%95%E3%82%81%E3%81%97%E3%81%BE", -- さめしま (hiragana for 鮫島? kanji names: few)
  "/institutions?q=%EF%BD%B8%EF%BE%98%EF%BE%86%EF%BD%AF%EF%BD%B8", -- ｸﾘﾆｯｸ (half-width)
  "/institutions?code=4610100283",
  "/institutions?target=1&paper=1",
  "/institutions?email=0&category=clinic",
  "/institutions?sort=name&page=20",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", searches[(i % #searches) + 1])
end
-- wrk reporter: one line with median, p95 and p99 latency (wrk's own output lacks p95).
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "requests/s %.0f | p50 %.2f ms | p95 %.2f ms | p99 %.2f ms | max %.2f ms | %d requests, %d socket errors, %d non-2xx/3xx\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, errors, summary.errors.status))
end
