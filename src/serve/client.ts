// The one script the served pages load (from /app.js, same origin: the pages' policy allows no
// inline script, so a document text that slipped past escaping still could not run). On a live
// page it listens to /api/events and, on each change of the database, fetches the page's <main>
// again and swaps it in: the page updates without a reload and keeps its scroll position.

export const CLIENT_JS = `(function () {
  'use strict';
  var main = document.querySelector('main[data-live]');
  if (!main || typeof EventSource === 'undefined') return;
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname + location.search, { headers: { 'X-Heatdeath-Fragment': '1' }, cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          main.innerHTML = html;
          main.setAttribute('data-updates', String(Number(main.getAttribute('data-updates') || 0) + 1));
        }
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var events = new EventSource('/api/events');
  events.onmessage = refresh;
  window.addEventListener('pagehide', function () { events.close(); });
})();
`;
