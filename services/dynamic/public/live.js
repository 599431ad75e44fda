/* global document, location, CSS, EventSource */
// Live price updates for the stock pages: Server-Sent Events on the stock list, WebSocket on the
// followed-stocks page (data-live on <body>), so both transports are exercised in a browser.
// Each event carries the changed rows; cells of rows on this page are updated in place.
'use strict';
(function () {
  var mode = document.body.getAttribute('data-live');
  if (mode !== 'sse' && mode !== 'ws') return;
  var status = document.getElementById('live-status');
  function setStatus(state, text) {
    if (!status) return;
    status.setAttribute('data-state', state);
    status.textContent = text;
  }
  function fixed(n) {
    return Number(n).toFixed(2);
  }
  function signed(n) {
    return (n > 0 ? '+' : '') + fixed(n);
  }
  function apply(event) {
    if (!event || event.type !== 'quotes' || !Array.isArray(event.changes)) return;
    event.changes.forEach(function (c) {
      var row = document.querySelector('tr[data-code="' + CSS.escape(c.code) + '"]');
      if (!row) return;
      var cell = function (cls) {
        return row.querySelector('td.' + cls);
      };
      if (cell('price')) cell('price').textContent = fixed(c.price);
      if (cell('high')) cell('high').textContent = fixed(c.high);
      if (cell('turnover')) cell('turnover').textContent = fixed(c.turnoverPct) + '%';
      if (cell('date')) cell('date').textContent = c.date;
      var change = cell('change');
      if (change) {
        var span = document.createElement('span');
        span.className = c.changePct > 0 ? 'up' : c.changePct < 0 ? 'down' : 'flat';
        span.textContent = signed(c.changePct) + '%';
        change.replaceChildren(span);
      }
      row.classList.remove('flash-up', 'flash-down');
      void row.offsetWidth; // restart the animation
      row.classList.add(c.price >= c.previousPrice ? 'flash-up' : 'flash-down');
      row.setAttribute('data-updated', event.at);
    });
  }
  if (mode === 'sse') {
    var source = new EventSource('/api/stream/quotes');
    source.onopen = function () {
      setStatus('on', 'live (SSE)');
    };
    source.onerror = function () {
      setStatus('off', 'reconnecting…');
    };
    source.addEventListener('quotes', function (e) {
      apply(JSON.parse(e.data));
    });
    return;
  }
  var delay = 500;
  function connect() {
    var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var ws = new WebSocket(scheme + '//' + location.host + '/ws/quotes');
    ws.onopen = function () {
      delay = 500;
      setStatus('on', 'live (WebSocket)');
    };
    ws.onmessage = function (e) {
      apply(JSON.parse(e.data));
    };
    ws.onclose = function () {
      setStatus('off', 'reconnecting…');
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
