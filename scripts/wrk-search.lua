-- Officers searching: each request picks one of several typical searches.
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
dofile("scripts/wrk-report.lua")
