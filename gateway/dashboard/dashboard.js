/* global window, document, EventSource, uPlot, ResizeObserver */
// The netlab dashboard: one snapshot, then live updates, both from the gateway's event stream
// (/-/dashboard/events); /-/dashboard/state.json is the same snapshot for scripts and tests.
// Plain script, no build step: everything here runs as served.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const PALETTE = [
    '#0969da',
    '#cf222e',
    '#1a7f37',
    '#9a6700',
    '#8250df',
    '#bf3989',
    '#0a7d91',
    '#57606a',
    '#fb8500',
    '#2da44e',
  ];
  const MAX_EVENTS_SHOWN = 200;

  /** Everything the page knows; exposed for tests and the curious (window.netlabDashboard). */
  const model = {
    windowSeconds: 300,
    xs: [],
    routes: new Map(),
    instances: new Map(),
    total: undefined,
    gauges: { httpConnections: [], inFlight: [], tcpConnections: [], websockets: [] },
    topology: undefined,
    events: [],
    ticks: 0,
  };
  const charts = {};
  window.netlabDashboard = { model, charts };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== undefined && c !== null) node.append(c);
    return node;
  }

  const fmt = (n, digits = 1) =>
    n === null || n === undefined
      ? '–'
      : Number(n).toLocaleString('en', { maximumFractionDigits: digits });

  function bytes(n) {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }

  function since(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    if (s < 86400)
      return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
  }

  const clock = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour12: false });

  // --- topology --------------------------------------------------------------------------------

  function instanceRow(i) {
    return el(
      'tr',
      { 'data-instance': i.name, 'data-state': i.state },
      el('th', { scope: 'row', text: i.name }),
      el('td', { class: `state state-${i.state}`, text: i.state }),
      el('td', { text: i.version || '–' }),
      el('td', { text: i.http || i.tcp || '–' }),
      el('td', {
        text: since(i.since),
        title: `${i.sinceSource === 'nats' ? 'started' : 'found by the gateway'} at ${i.since}`,
      }),
      el('td', { class: 'num', text: fmt(i.outstanding, 0) }),
      el('td', { class: 'num', text: fmt(i.requests, 0) }),
    );
  }

  function renderTopology(t) {
    model.topology = t;
    $('gateway-id').textContent =
      `gateway ${t.gateway.instance} ${t.gateway.version}, up ${since(t.gateway.startedAt)}, routes: ${t.gateway.routesSource}`;
    const db = $('database');
    db.textContent = t.database.kind;
    db.title = t.database.detail;
    const cards = [];
    for (const svc of t.services) {
      const healthy = svc.instances.filter((i) => i.state === 'healthy').length;
      const head = el(
        'h3',
        {},
        el('span', { class: 'card-title', text: svc.name }),
        el('span', {
          class: svc.instances.length === 0 ? 'empty' : 'muted',
          text:
            svc.instances.length === 0
              ? 'no instance'
              : `${healthy} of ${svc.instances.length} healthy`,
        }),
      );
      const extra =
        svc.name === 'dynamic'
          ? el('p', { class: 'muted', text: `database: ${t.database.kind}` })
          : undefined;
      const table =
        svc.instances.length === 0
          ? undefined
          : el(
              'table',
              {},
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  ...['instance', 'state', 'version', 'address', 'up', 'in flight', 'requests'].map(
                    (h, k) =>
                      el('th', { scope: 'col', class: k >= 5 ? 'num' : undefined, text: h }),
                  ),
                ),
              ),
              el('tbody', {}, ...svc.instances.map(instanceRow)),
            );
      cards.push(
        el(
          'article',
          { class: 'card', 'data-service': svc.name, 'aria-label': svc.name },
          head,
          extra,
          table,
        ),
      );
    }
    $('services').replaceChildren(...cards);
    refreshLatencyChoices();
  }

  function renderNats(n) {
    const body = $('nats-body');
    if (!n.ok) {
      $('nats-summary').textContent = n.error;
      body.replaceChildren(
        el('p', { class: 'muted', text: n.url ? `monitoring at ${n.url}` : '' }),
      );
      return;
    }
    $('nats-summary').textContent =
      `${n.serverName || ''} v${n.version}, up ${n.uptime}, ${n.connections} connections, ` +
      `${fmt(n.inMsgs, 0)} msgs in / ${fmt(n.outMsgs, 0)} out`;
    const figures = el(
      'dl',
      { class: 'figures' },
      ...[
        ['connections (total)', `${n.connections} (${n.totalConnections})`],
        ['subscriptions', fmt(n.subscriptions, 0)],
        ['slow consumers', fmt(n.slowConsumers, 0)],
        ['bytes in / out', `${bytes(n.inBytes)} / ${bytes(n.outBytes)}`],
        ['memory, CPU', `${bytes(n.memBytes)}, ${fmt(n.cpuPercent)}%`],
        [
          'JetStream',
          n.jetstream === null
            ? 'off'
            : `${bytes(n.jetstream.storageBytes)} stored, ${fmt(n.jetstream.apiTotal, 0)} API calls`,
        ],
      ].map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v }))),
    );
    const clients = el(
      'table',
      {},
      el('caption', { class: 'visually-hidden', text: 'NATS clients' }),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...[
            'client',
            'address',
            'lang',
            'up',
            'rtt',
            'subs',
            'msgs in',
            'msgs out',
            'pending',
          ].map((h, k) => el('th', { scope: 'col', class: k >= 5 ? 'num' : undefined, text: h })),
        ),
      ),
      el(
        'tbody',
        {},
        ...n.clients.map((c) =>
          el(
            'tr',
            {},
            el('th', { scope: 'row', text: c.name }),
            el('td', { text: c.address }),
            el('td', { text: `${c.lang || ''} ${c.version || ''}` }),
            el('td', { text: c.uptime || '–' }),
            el('td', { text: c.rtt || '–' }),
            el('td', { class: 'num', text: fmt(c.subscriptions, 0) }),
            el('td', { class: 'num', text: fmt(c.inMsgs, 0) }),
            el('td', { class: 'num', text: fmt(c.outMsgs, 0) }),
            el('td', { class: 'num', text: bytes(c.pendingBytes) }),
          ),
        ),
      ),
    );
    body.replaceChildren(figures, el('div', { class: 'table-wrap' }, clients));
  }

  // --- traffic ---------------------------------------------------------------------------------

  function blank(length, value) {
    return new Array(length).fill(value);
  }

  function emptyPoints(length) {
    return {
      requests: blank(length, 0),
      errors: blank(length, 0),
      p50: blank(length, null),
      p95: blank(length, null),
      p99: blank(length, null),
    };
  }

  const FIELDS = ['requests', 'errors', 'p50', 'p95', 'p99'];

  function sliceTraffic(t, skip) {
    const cut = (s) => ({
      ...s,
      points: Object.fromEntries(FIELDS.map((f) => [f, s.points[f].slice(skip)])),
    });
    return {
      ...t,
      from: t.from + skip,
      total: cut(t.total),
      routes: t.routes.map(cut),
      instances: t.instances.map(cut),
      gauges: Object.fromEntries(Object.entries(t.gauges).map(([k, v]) => [k, v.slice(skip)])),
    };
  }

  /** Appends a tick (or the snapshot) to the model, keeping one window of seconds. */
  function mergeTraffic(t) {
    // Seconds the page already has (a tick overlapping the snapshot) are not added twice.
    const lastX = model.xs.length === 0 ? -Infinity : model.xs[model.xs.length - 1];
    const skip = Math.max(0, Math.min(t.to - t.from + 1, lastX - t.from + 1));
    if (skip > 0) t = sliceTraffic(t, skip);
    const fresh = [];
    for (let s = t.from; s <= t.to; s++) fresh.push(s);
    const before = model.xs.length;
    model.xs.push(...fresh);
    const merge = (map, list) => {
      const seen = new Set();
      for (const s of list) {
        seen.add(s.key);
        let entry = map.get(s.key);
        if (entry === undefined) {
          entry = { key: s.key, label: s.label, service: s.service, points: emptyPoints(before) };
          map.set(s.key, entry);
        }
        entry.label = s.label;
        entry.lastMinute = s.lastMinute;
        for (const f of FIELDS) entry.points[f].push(...s.points[f]);
      }
      for (const [key, entry] of map) {
        if (seen.has(key)) continue;
        const pad = emptyPoints(fresh.length);
        for (const f of FIELDS) entry.points[f].push(...pad[f]);
        entry.lastMinute = undefined;
      }
    };
    merge(model.routes, t.routes);
    merge(model.instances, t.instances);
    const totals = new Map(model.total ? [['all', model.total]] : []);
    merge(totals, [t.total]);
    model.total = totals.get('all');
    for (const g of Object.keys(model.gauges)) model.gauges[g].push(...t.gauges[g]);
    // Keep one window.
    const extra = model.xs.length - model.windowSeconds;
    if (extra > 0) {
      model.xs.splice(0, extra);
      for (const map of [model.routes, model.instances, totals]) {
        for (const entry of map.values()) for (const f of FIELDS) entry.points[f].splice(0, extra);
      }
      for (const g of Object.keys(model.gauges)) model.gauges[g].splice(0, extra);
    }
    // Series that left and hold nothing any more go.
    for (const map of [model.routes, model.instances]) {
      for (const [key, entry] of map) {
        if (entry.lastMinute === undefined && entry.points.requests.every((n) => n === 0))
          map.delete(key);
      }
    }
  }

  function chartWidth(node) {
    return Math.max(300, node.clientWidth || 560);
  }

  /** (Re)creates a chart when its set of lines changed, else only gives it new data. */
  function plot(id, names, data, opts) {
    const node = $(id);
    const signature = names.join('\u0000');
    let chart = charts[id];
    if (chart === undefined || chart.signature !== signature) {
      chart?.destroy();
      node.replaceChildren();
      chart = new uPlot(
        {
          width: chartWidth(node),
          height: 220,
          scales: {
            x: { time: true },
            y: { range: opts.range || ((_u, min, max) => [0, Math.max(1, max)]) },
          },
          axes: [
            // One line per tick, wall-clock time only: uPlot's default second line (the date)
            // overlaps the next tick's label on a laptop-wide chart.
            { space: 64, values: (_u, splits) => splits.map((t) => clock(t * 1000)) },
            { label: opts.unit, size: 56 },
          ],
          legend: { live: true },
          series: [
            {},
            ...names.map((n, k) => ({
              label: n,
              stroke: PALETTE[k % PALETTE.length],
              width: 1.5,
              spanGaps: opts.spanGaps === true,
              // Sparse series (the latency of a quiet route) still show their seconds as dots.
              ...(opts.points === true ? { points: { show: true, size: 5 } } : {}),
              value: (_u, v) => (v === null || v === undefined ? '–' : fmt(v, 2)),
            })),
          ],
        },
        data,
        node,
      );
      chart.signature = signature;
      charts[id] = chart;
      const canvas = node.querySelector('canvas');
      canvas?.setAttribute('role', 'img');
    } else {
      chart.setData(data);
    }
    const last = data.slice(1).map((col, k) => `${names[k]} ${fmt(col[col.length - 1], 2)}`);
    node
      .querySelector('canvas')
      ?.setAttribute('aria-label', `${opts.summary}; last second: ${last.join(', ') || 'no data'}`);
    node.dataset.points = String(data[0].length);
  }

  function refreshLatencyChoices() {
    const select = $('latency-of');
    const current = select.value || 'total:all';
    const options = [['total:all', 'all routes']];
    for (const r of model.routes.values()) options.push([`route:${r.key}`, `route ${r.label}`]);
    for (const i of model.instances.values())
      options.push([`instance:${i.key}`, `instance ${i.label}`]);
    const signature = options.map((o) => o.join('=')).join('|');
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    select.replaceChildren(...options.map(([v, label]) => el('option', { value: v, text: label })));
    select.value = options.some(([v]) => v === current) ? current : 'total:all';
  }

  function latencySource() {
    const [kind, key] = ($('latency-of').value || 'total:all').split(/:(.*)/s);
    if (kind === 'route') return model.routes.get(key);
    if (kind === 'instance') return model.instances.get(key);
    return model.total;
  }

  function renderCharts() {
    if (typeof uPlot === 'undefined') return;
    const xs = model.xs;
    const routes = [...model.routes.values()];
    const instances = [...model.instances.values()];
    plot(
      'chart-routes',
      routes.map((r) => r.label),
      [xs, ...routes.map((r) => r.points.requests)],
      { unit: 'req/s', summary: 'Requests per second by route' },
    );
    plot(
      'chart-instances',
      instances.map((i) => i.label),
      [xs, ...instances.map((i) => i.points.requests)],
      { unit: 'req/s', summary: 'Requests per second by instance' },
    );
    plot(
      'chart-errors',
      routes.map((r) => r.label),
      [
        xs,
        ...routes.map((r) =>
          r.points.requests.map((n, k) => (n === 0 ? null : (100 * r.points.errors[k]) / n)),
        ),
      ],
      { unit: '%', summary: 'Error rate by route', range: () => [0, 100] },
    );
    const lat = latencySource() || { points: emptyPoints(xs.length) };
    plot(
      'chart-latency',
      ['p50', 'p95', 'p99'],
      [xs, lat.points.p50, lat.points.p95, lat.points.p99],
      {
        unit: 'ms',
        summary: 'Latency percentiles',
        spanGaps: true,
        points: true,
      },
    );
    plot(
      'chart-connections',
      ['TCP pass-through', 'HTTP client', 'requests in flight', 'WebSocket'],
      [
        xs,
        model.gauges.tcpConnections,
        model.gauges.httpConnections,
        model.gauges.inFlight,
        model.gauges.websockets,
      ],
      { unit: 'open', summary: 'Connections through the gateway', spanGaps: true },
    );
  }

  function renderTrafficTable() {
    const rows = [];
    const row = (kind, s) => {
      const m = s.lastMinute || {
        rps: 0,
        requests: 0,
        errors: 0,
        errorRate: 0,
        p50: null,
        p95: null,
        p99: null,
      };
      rows.push(
        el(
          'tr',
          { 'data-kind': kind, 'data-key': s.key },
          el('th', { scope: 'row', text: `${kind} ${s.label}` }),
          el('td', { text: s.service }),
          el('td', { class: 'num', text: fmt(m.rps, 2) }),
          el('td', { class: 'num', text: fmt(m.requests, 0) }),
          el('td', { class: 'num', text: `${fmt(m.errors, 0)} (${fmt(m.errorRate * 100, 1)}%)` }),
          el('td', { class: 'num', text: fmt(m.p50, 2) }),
          el('td', { class: 'num', text: fmt(m.p95, 2) }),
          el('td', { class: 'num', text: fmt(m.p99, 2) }),
        ),
      );
    };
    for (const r of model.routes.values()) row('route', r);
    for (const i of model.instances.values()) row('instance', i);
    $('traffic-table').tBodies[0].replaceChildren(...rows);
    const tcp = model.gauges.tcpConnections;
    $('tcp-open').textContent = fmt(tcp.length === 0 ? 0 : tcp[tcp.length - 1], 0);
  }

  // --- fetcher, tcp-echo -----------------------------------------------------------------------

  function renderFetcher(f) {
    $('fetch-queued').textContent = f.queued === null ? 'unknown' : fmt(f.queued, 0);
    $('fetch-running').textContent = f.running === null ? 'unknown' : fmt(f.running, 0);
    $('downloads-active').textContent =
      f.downloadsActive === null ? 'unknown' : fmt(f.downloadsActive, 0);
    const why = f.instances.map((i) => `${i.name}: ${i.error || 'ok'}`).join('; ');
    $('fetch-queued').title = why || 'no fetcher instance';
    const items = f.downloads.map((d) => {
      const bar = el('progress', {
        max: d.total === null ? undefined : String(d.total),
        value: String(d.bytes),
      });
      bar.setAttribute('aria-label', `progress of ${d.url}`);
      if (d.total === null && d.state !== 'running')
        bar.setAttribute('max', String(Math.max(1, d.bytes)));
      return el(
        'li',
        { 'data-state': d.state },
        el('span', { class: 'url', title: d.url, text: d.url }),
        bar,
        el('span', {
          text: `${d.state}, ${bytes(d.bytes)}${d.total === null ? '' : ` of ${bytes(d.total)}`}${
            d.state === 'running' ? `, ${bytes(d.rateBps)}/s` : ''
          }`,
        }),
      );
    });
    $('downloads').replaceChildren(
      ...(items.length === 0 ? [el('li', { class: 'muted', text: 'none seen yet' })] : items),
    );
  }

  function renderEcho(list) {
    const open = list.map((s) => s.tcpOpen).filter((n) => n !== null);
    $('echo-open').textContent =
      open.length === 0
        ? 'unknown'
        : fmt(
            open.reduce((a, b) => a + b, 0),
            0,
          );
    $('echo-open').title = list
      .map((s) => `${s.instance}: ${s.tcpOpen} open, ${s.tcpAccepted} accepted`)
      .join('; ');
  }

  // --- events ----------------------------------------------------------------------------------

  let paused = false;
  let unannounced = 0;
  let lastAnnounce = 0;

  function eventMatches(e) {
    const service = $('event-service').value;
    const text = $('event-text').value.trim().toLowerCase();
    if (service !== '' && e.service !== service) return false;
    if (text === '') return true;
    return `${e.service} ${e.kind} ${e.instance || ''} ${e.summary}`.toLowerCase().includes(text);
  }

  function eventItem(e) {
    return el(
      'li',
      { class: e.level, 'data-service': e.service, 'data-kind': e.kind },
      el('time', { datetime: e.at, text: clock(e.at) }),
      el('span', { class: 'svc', text: e.service }),
      el('span', { class: 'svc', text: e.kind }),
      el('span', { text: e.summary }),
    );
  }

  function renderEvents() {
    if (paused) return;
    const shown = model.events.filter(eventMatches).slice(-MAX_EVENTS_SHOWN).reverse();
    $('event-list').replaceChildren(
      ...(shown.length === 0
        ? [el('li', { class: 'muted', text: 'no event matches' })]
        : shown.map(eventItem)),
    );
    const services = [...new Set(model.events.map((e) => e.service))].sort();
    const select = $('event-service');
    const have = [...select.options].map((o) => o.value).filter((v) => v !== '');
    if (services.join() !== have.join()) {
      const value = select.value;
      select.replaceChildren(
        el('option', { value: '', text: 'all' }),
        ...services.map((s) => el('option', { value: s, text: s })),
      );
      select.value = services.includes(value) ? value : '';
    }
  }

  /** Screen readers hear a short count at most every 15 s, not every event. */
  function announce(e) {
    unannounced++;
    const now = Date.now();
    if (now - lastAnnounce < 15000) return;
    lastAnnounce = now;
    $('events-announce').textContent =
      `${unannounced} new event${unannounced === 1 ? '' : 's'}; latest: ${e.summary}`;
    unannounced = 0;
  }

  function addEvent(e) {
    model.events.push(e);
    if (model.events.length > 1000) model.events.splice(0, model.events.length - 1000);
    if (eventMatches(e)) announce(e);
    renderEvents();
  }

  function renderEventsSource(s) {
    const text =
      s.source === 'stream'
        ? 'From the JetStream stream NETLAB_EVENTS (the tail, then live).'
        : `${s.source}${s.detail ? `: ${s.detail}` : ''}`;
    $('events-source').textContent = text;
  }

  // --- last load test --------------------------------------------------------------------------

  function renderLoadTest(l) {
    const body = $('load-test-body');
    if (!l.ok) {
      body.replaceChildren(el('p', { class: 'muted', text: `unknown: ${l.error} (${l.dir})` }));
      return;
    }
    if (l.run === null) {
      body.replaceChildren(
        el('p', { class: 'muted', text: `No run in ${l.dir} yet (make load writes one).` }),
      );
      return;
    }
    const r = l.run;
    const parts = [
      el(
        'p',
        {},
        el('strong', { text: r.title || r.name }),
        ` — ${r.name}, ${new Date(r.at).toLocaleString('en-GB')} (${since(r.at)} ago; ${l.runs} runs in ${l.dir})`,
      ),
    ];
    if (r.report !== null) {
      parts.push(
        el(
          'p',
          {},
          el('a', {
            href: r.report.href,
            target: '_blank',
            rel: 'noopener',
            text: `Open the report (${r.report.name})`,
          }),
        ),
      );
    }
    if (r.k6 !== null) {
      const k = r.k6;
      parts.push(
        el(
          'dl',
          { class: 'figures' },
          ...[
            ['requests', fmt(k.requests, 0)],
            ['req/s', fmt(k.rps, 1)],
            ['failed', k.failedRate === null ? '–' : `${fmt(k.failedRate * 100, 2)}%`],
            ['p50 / p95 / p99 ms', `${fmt(k.p50, 1)} / ${fmt(k.p95, 1)} / ${fmt(k.p99, 1)}`],
            ['checks', `${fmt(k.checksPassed, 0)} passed, ${fmt(k.checksFailed, 0)} failed`],
            [
              'thresholds',
              k.thresholds.length === 0
                ? '–'
                : `${k.thresholds.filter((t) => t.ok).length} of ${k.thresholds.length} met`,
            ],
          ].map(([a, b]) => el('div', {}, el('dt', { text: a }), el('dd', { text: b }))),
        ),
      );
    }
    if (r.table !== null) {
      parts.push(
        el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            {},
            el(
              'thead',
              {},
              el('tr', {}, ...r.table.header.map((h) => el('th', { scope: 'col', text: h }))),
            ),
            el(
              'tbody',
              {},
              ...r.table.rows.map((row) => el('tr', {}, ...row.map((c) => el('td', { text: c })))),
            ),
          ),
        ),
      );
    }
    parts.push(
      el(
        'p',
        { class: 'muted' },
        'Files: ',
        ...r.files.flatMap((f, k) => [
          k === 0 ? '' : ', ',
          el('a', { href: f.href, target: '_blank', rel: 'noopener', text: f.name }),
        ]),
      ),
    );
    body.replaceChildren(...parts);
  }

  // --- wiring ----------------------------------------------------------------------------------

  function applyState(s) {
    model.windowSeconds = s.windowSeconds;
    $('window').textContent =
      s.windowSeconds >= 120
        ? `${Math.round(s.windowSeconds / 60)} minutes`
        : `${s.windowSeconds} seconds`;
    model.xs = [];
    model.routes.clear();
    model.instances.clear();
    model.total = undefined;
    for (const g of Object.keys(model.gauges)) model.gauges[g] = [];
    mergeTraffic(s.traffic);
    renderTopology(s.topology);
    renderNats(s.nats);
    renderFetcher(s.fetcher);
    renderEcho(s.tcpEcho);
    model.events = s.events.items.slice();
    renderEventsSource(s.events);
    renderEvents();
    renderLoadTest(s.loadTest);
    renderCharts();
    renderTrafficTable();
  }

  function setStatus(state, text) {
    const node = $('live-status');
    node.dataset.state = state;
    node.textContent = text;
  }

  function connect() {
    const source = new EventSource('/-/dashboard/events');
    const on = (name, fn) =>
      source.addEventListener(name, (m) => {
        try {
          fn(JSON.parse(m.data));
        } catch (err) {
          setStatus('reconnecting', `bad ${name} message: ${err.message}`);
        }
      });
    on('state', (s) => {
      applyState(s);
      setStatus('live', 'live');
    });
    on('tick', (t) => {
      mergeTraffic(t);
      model.ticks++;
      refreshLatencyChoices();
      renderCharts();
      renderTrafficTable();
    });
    on('topology', renderTopology);
    on('nats', renderNats);
    on('fetcher', renderFetcher);
    on('tcp-echo', renderEcho);
    on('event', addEvent);
    on('events-source', renderEventsSource);
    on('load-test', renderLoadTest);
    source.addEventListener('error', () => {
      setStatus(
        'reconnecting',
        source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…',
      );
    });
  }

  function start() {
    $('event-filter').addEventListener('submit', (e) => e.preventDefault());
    $('event-service').addEventListener('change', renderEvents);
    $('event-text').addEventListener('input', renderEvents);
    $('events-pause').addEventListener('click', () => {
      paused = !paused;
      $('events-pause').setAttribute('aria-pressed', String(paused));
      $('events-pause').textContent = paused ? 'Resume' : 'Pause';
      renderEvents();
    });
    $('latency-of').addEventListener('change', renderCharts);
    if (typeof ResizeObserver !== 'undefined') {
      const resize = new ResizeObserver(() => {
        for (const [id, chart] of Object.entries(charts)) {
          const width = chartWidth($(id));
          // Only real changes: a resize that feeds on itself would loop.
          if (Math.abs(width - chart.width) > 2) chart.setSize({ width, height: 220 });
        }
      });
      for (const id of [
        'chart-routes',
        'chart-instances',
        'chart-latency',
        'chart-errors',
        'chart-connections',
      ])
        resize.observe($(id));
    }
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
