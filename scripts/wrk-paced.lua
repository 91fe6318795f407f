-- wrk with think time: each connection waits 50 ms before each request, so 50
-- connections offer about 1,000 requests/s instead of as many as the server can take.
dofile("scripts/wrk-report.lua")
delay = function() return 50 end
