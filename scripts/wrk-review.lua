-- Officers searching report statuses (報告状況検索), one filter at a time.
-- The fiscal year comes from the FY environment variable.
local fy = os.getenv("FY") or "2026"
local searches = {
  "status=submitted", "status=none", "status=awaiting", "kind=periodic",
  "category=clinic", "f1=1", "ah=1", "cc=0", "proxy=1", "paper=1", "email=0",
  "q=%E5%86%85%E7%A7%91", "code=4610100283", "sort=submitted&dir=desc", "page=10",
  "sort=status", "status=returned&sort=name",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/review?fy=" .. fy .. "&" .. searches[(i % #searches) + 1])
end
dofile("scripts/wrk-report.lua")
