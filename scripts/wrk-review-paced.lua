-- The same searches with 500 ms between searches per connection: 20 officers offering
-- about 40 searches a second, the latency a person sees when the server is busy.
dofile("scripts/wrk-review.lua")
delay = function() return 500 end
