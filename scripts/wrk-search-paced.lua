-- Officers searching with 100 ms between searches per connection (20 officers offer
-- about 200 searches/s): the latency a person sees when the server is busy, not saturated.
dofile("scripts/wrk-search.lua")
delay = function() return 100 end
