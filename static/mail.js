// The progress of a campaign, while its page is open (the page works without it).
(function () {
  var box = document.getElementById('progress');
  if (!box || box.getAttribute('data-live') !== '1') { return; }
  var url = box.getAttribute('data-url');
  var fmt = function (n) { return Number(n).toLocaleString('ja-JP'); };
  var set = function (id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } };
  var tick = function () {
    fetch(url, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) { return; }
        document.getElementById('progress-bar').value = c.percent;
        set('progress-percent', c.percent);
        set('n-sent', fmt(c.tally.sent));
        set('n-waiting', fmt(c.tally.waiting));
        set('n-sending', fmt(c.tally.sending));
        set('n-retry', fmt(c.tally.retry));
        set('n-failed', fmt(c.tally.failed));
        set('n-bounced', fmt(c.tally.bounced));
        set('n-skipped', fmt(c.tally.skipped));
        var state = document.getElementById('campaign-state');
        if (state.getAttribute('data-state') !== c.state) {
          // The state changed (finished, paused): the buttons change too.
          window.location.reload();
          return;
        }
        if (c.live) { window.setTimeout(tick, 2000); }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  };
  window.setTimeout(tick, 2000);
})();
