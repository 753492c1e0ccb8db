/* Analytics: range, filters, normal/cumulative, per-model series, token and cost breakdowns,
 * model performance. Reads GET /api/analytics; new requests trigger a throttled re-read. */
"use strict";

(function () {
  const { api, pageData, fmt, el, banner, throttle, live, charts } = window.ccflare;
  const initial = pageData();
  const $ = (selector) => document.querySelector(selector);
  const state = {
    range: initial.range,
    status: "all",
    accounts: new Set(),
    models: new Set(),
    mode: "normal",
    perModel: false,
    metric: "requests",
    report: initial.report,
    byModel: null,  // the per-model series, when "Per model" is on
  };
  const METRICS = {
    requests: { label: "Requests", format: fmt.int },
    tokens: { label: "Tokens", format: fmt.compact },
    costUsd: { label: "Cost", format: (v) => fmt.usd(v, 4) },
    avgResponseTime: { label: "Avg response time", format: fmt.ms },
    avgTokensPerSecond: { label: "Output speed", format: fmt.tps },
  };

  /* Loading ----------------------------------------------------------------------- */

  function query(extra = {}) {
    const params = new URLSearchParams({ range: state.range, status: state.status, mode: state.mode });
    if (state.accounts.size) params.set("accounts", [...state.accounts].join(","));
    if (state.models.size) params.set("models", [...state.models].join(","));
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
    return `/api/analytics?${params}`;
  }

  async function load() {
    try {
      const [report, byModel] = await Promise.all([
        api(query()),
        state.perModel ? api(query({ modelBreakdown: "true" })) : null,
      ]);
      state.report = report;
      state.byModel = byModel;
      render();
    } catch (error) {
      banner(`Could not load analytics: ${error.message}`, "error");
    }
  }

  /* Totals and tables ---------------------------------------------------------------- */

  function renderTotals() {
    const t = state.report.totals;
    const items = [
      ["Requests", fmt.int(t.requests)], ["Success rate", fmt.pct(t.successRate, 1)],
      ["Avg response", fmt.ms(t.avgResponseTime)], ["Tokens", fmt.compact(t.totalTokens)],
      ["Cost", fmt.usd(t.totalCostUsd, 4) + (t.unpricedRequests ? ` + ${fmt.int(t.unpricedRequests)} unpriced` : "")],
      ["Avg speed", fmt.tps(t.avgTokensPerSecond)],
      ["Active accounts", fmt.int(t.activeAccounts)],
    ];
    $("[data-totals]").replaceChildren(...items.map(([label, value]) => el("div", {}, el("span", { text: label }), el("strong", { text: value }))));
  }

  function renderTokenBars() {
    const b = state.report.tokenBreakdown;
    const t = charts.theme();
    const parts = [
      ["Input", b.inputTokens, t.info], ["Cache read", b.cacheReadInputTokens, t.ok],
      ["Cache write", b.cacheCreationInputTokens, t.warn], ["Output", b.outputTokens, t.accent],
    ];
    const total = parts.reduce((sum, [, value]) => sum + value, 0);
    const rows = parts.map(([label, value, color]) => {
      const share = total ? (value * 100) / total : 0;
      return el("div", { class: "bar-row" },
        el("div", { class: "bar-label" }, el("span", { text: label }), el("span", { class: "muted", text: `${fmt.int(value)} · ${fmt.pct(share, 1)}` })),
        el("div", { class: "track" }, el("div", { class: "fill", style: `width:${share}%;background:${color}` })));
    });
    rows.push(el("div", { class: "bar-label" }, el("strong", { text: "Total" }), el("strong", { text: fmt.int(total) })));
    $("[data-token-bars]").replaceChildren(...rows);
  }

  function renderModelTable() {
    const costs = new Map(state.report.costByModel.map((row) => [row.model, row]));
    const rows = state.report.modelPerformance.map((m) => {
      const cost = costs.get(m.model);
      const per1k = cost && cost.totalTokens ? (cost.costUsd / cost.totalTokens) * 1000 : null;
      return el("tr", {},
        el("td", { class: "mono model-name", text: m.model, title: m.model }), el("td", { class: "num", text: fmt.ms(m.avgResponseTime) }),
        el("td", { class: "num", text: fmt.ms(m.p95ResponseTime) }), el("td", { class: "num", text: fmt.pct(m.errorRate, 1) }),
        el("td", { class: "num", text: fmt.tps(m.avgTokensPerSecond) }), el("td", { class: "num", text: fmt.tps(m.minTokensPerSecond) }),
        el("td", { class: "num", text: fmt.tps(m.maxTokensPerSecond) }), el("td", { class: "num", text: per1k == null ? "–" : fmt.usd(per1k, 5) }));
    });
    $("[data-model-table]").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "empty", text: "No model traffic in this range." }))]));
  }

  /* Charts --------------------------------------------------------------------------- */

  function trafficConfig() {
    const t = charts.theme();
    const metric = METRICS[state.metric];
    const { bucket } = state.report.meta;
    const lineOptions = { tension: 0.3, pointRadius: charts.lonePointRadius, borderWidth: 2, spanGaps: true };
    let labels;
    let datasets;
    if (state.perModel && state.byModel) {
      const models = [...new Set(state.byModel.timeSeries.map((p) => p.model))];
      const all = state.report.timeSeries;
      labels = charts.fillBuckets(all, bucket, () => 0).labels;
      datasets = models.map((model, i) => {
        const points = state.byModel.timeSeries.filter((p) => p.model === model);
        const byTs = new Map(points.map((p) => [p.ts, p[state.metric]]));
        const filled = fillAligned(all, bucket, byTs);
        const color = charts.PALETTE[i % charts.PALETTE.length];
        return { label: model, data: filled, borderColor: color, backgroundColor: color, ...lineOptions };
      });
    } else {
      const series = charts.fillBuckets(state.report.timeSeries, bucket, (p) => p[state.metric]);
      labels = series.labels;
      datasets = [{ label: metric.label, data: series.values, borderColor: t.accent, backgroundColor: charts.areaFill(t.accent), fill: true, ...lineOptions }];
    }
    return {
      type: "line",
      data: { labels, datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${metric.format(c.parsed.y)}` } },
        },
        scales: { x: { offset: labels.length < 2, grid: { display: false }, ticks: { maxTicksLimit: 10 } }, y: { beginAtZero: true } },
      },
    };
  }

  /* Values keyed by bucket start, on the overall series' time axis (gaps included). */
  function fillAligned(all, bucket, byTs) {
    const step = { "1m": 60e3, "5m": 300e3, "1h": 3600e3, "1d": 86400e3 }[bucket];
    if (!all.length) return [];
    const count = Math.min(2000, Math.round((all[all.length - 1].ts - all[0].ts) / step) + 1);
    return Array.from({ length: count }, (_, i) => byTs.get(all[0].ts + i * step) ?? null);
  }

  function secondaryConfig() {
    const t = charts.theme();
    const { timeSeries, meta } = state.report;
    const cumulative = state.mode === "cumulative";
    const pick = (key) => charts.fillBuckets(timeSeries, meta.bucket, (p) => p[key]);
    const base = { tension: 0.3, pointRadius: charts.lonePointRadius, borderWidth: 2, spanGaps: true };
    const datasets = cumulative
      ? [
        { label: "Tokens (running)", data: pick("tokens").values, borderColor: t.info, backgroundColor: t.info, yAxisID: "y", ...base },
        { label: "Cost $ (running)", data: pick("costUsd").values, borderColor: t.accent, backgroundColor: t.accent, yAxisID: "y1", ...base },
      ]
      : [
        { label: "Error rate %", data: pick("errorRate").values, borderColor: t.bad, backgroundColor: t.bad, yAxisID: "y", ...base },
        { label: "Cache hit %", data: pick("cacheHitRate").values, borderColor: t.ok, backgroundColor: t.ok, yAxisID: "y", ...base },
      ];
    return {
      type: "line",
      data: { labels: pick("requests").labels, datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { offset: timeSeries.length < 2, grid: { display: false }, ticks: { maxTicksLimit: 8 } },
          y: cumulative ? { beginAtZero: true } : { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } },
          y1: { display: cumulative, position: "right", beginAtZero: true, grid: { display: false } },
        },
      },
    };
  }

  function costConfig() {
    const t = charts.theme();
    const rows = state.report.costByModel;
    return {
      type: "bar",
      data: { labels: rows.map((r) => r.model), datasets: [{ label: "Cost", data: rows.map((r) => r.costUsd), backgroundColor: charts.hexAlpha(t.accent, 0.85), borderRadius: 6, maxBarThickness: 28 }] },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => ` ${fmt.usd(c.parsed.x, 4)} · ${fmt.int(rows[c.dataIndex].requests)} requests` } } },
        scales: { x: { beginAtZero: true, ticks: { callback: (v) => `$${v}` } }, y: { grid: { display: false } } },
      },
    };
  }

  function latencyConfig() {
    const t = charts.theme();
    const rows = state.report.modelPerformance;
    return {
      type: "bar",
      data: {
        labels: rows.map((r) => r.model),
        datasets: [
          { label: "Average", data: rows.map((r) => r.avgResponseTime), backgroundColor: charts.hexAlpha(t.info, 0.8), borderRadius: 6, maxBarThickness: 26 },
          { label: "p95", data: rows.map((r) => r.p95ResponseTime), backgroundColor: charts.hexAlpha(t.warn, 0.8), borderRadius: 6, maxBarThickness: 26 },
        ],
      },
      options: {
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${fmt.ms(c.parsed.y)}` } } },
        scales: { x: { grid: { display: false }, ticks: { callback: function (v) { return shorten(this.getLabelForValue(v)); } } }, y: { beginAtZero: true, ticks: { callback: (v) => fmt.ms(v) } } },
      },
    };
  }

  function shorten(model) {
    return String(model).replace(/^claude-/, "").replace(/-\d{8}$/, "");
  }

  let handles = null;
  function render() {
    renderTotals();
    renderTokenBars();
    renderModelTable();
    const cumulative = state.mode === "cumulative";
    $("[data-secondary-title]").textContent = cumulative ? "Cumulative growth" : "Error and cache-hit rate";
    $("[data-secondary-note]").textContent = cumulative ? "Running totals of tokens and cost" : "Per bucket";
    $("[data-series-note]").textContent = `${METRICS[state.metric].label} per ${state.report.meta.bucket} bucket${cumulative ? ", running totals" : ""}`;
    if (!handles) {
      handles = [
        charts.mount(document.getElementById("chart-traffic"), trafficConfig),
        charts.mount(document.getElementById("chart-secondary"), secondaryConfig),
        charts.mount(document.getElementById("chart-cost"), costConfig),
        charts.mount(document.getElementById("chart-latency"), latencyConfig),
      ];
    } else {
      handles.forEach((handle) => handle.refresh());
    }
  }

  /* Controls ------------------------------------------------------------------------- */

  function segmented(selector, onPick) {
    $(selector).addEventListener("click", (event) => {
      const button = event.target.closest("button[data-value], button[data-range]");
      if (!button) return;
      $(selector).querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      onPick(button.dataset.value || button.dataset.range);
    });
  }

  function checks(selector, values, chosen) {
    $(selector).replaceChildren(...values.map((value) => el("label", { class: "check" },
      el("input", { type: "checkbox", value, checked: chosen.has(value) }), el("span", { class: "mono", text: value }))));
    $(selector).onchange = (event) => {
      if (event.target.checked) chosen.add(event.target.value);
      else chosen.delete(event.target.value);
      filtersChanged();
    };
  }

  function filtersChanged() {
    const count = state.accounts.size + state.models.size + (state.status === "all" ? 0 : 1);
    const badge = $("[data-filter-count]");
    badge.hidden = count === 0;
    badge.textContent = String(count);
    load();
  }

  function bindControls() {
    segmented("[data-range-picker]", (range) => { state.range = range; load(); });
    segmented("[data-status]", (status) => { state.status = status; filtersChanged(); });
    segmented("[data-metric]", (metric) => { state.metric = metric; render(); });
    segmented("[data-mode]", (mode) => {
      state.mode = mode;
      // Running totals per model would mislead next to per-bucket rates: one or the other.
      const perModel = $("[data-per-model]");
      perModel.disabled = mode === "cumulative";
      if (perModel.disabled) { perModel.checked = false; state.perModel = false; }
      load();
    });
    $("[data-per-model]").addEventListener("change", (event) => { state.perModel = event.target.checked; load(); });
    $("[data-refresh]").addEventListener("click", load);
    $("[data-filters-toggle]").addEventListener("click", (event) => {
      const panel = $("[data-filters-panel]");
      panel.hidden = !panel.hidden;
      event.currentTarget.setAttribute("aria-expanded", String(!panel.hidden));
    });
    document.addEventListener("click", (event) => {
      // A click outside the open filters panel closes it, as a popover should.
      const panel = $("[data-filters-panel]");
      if (!panel.hidden && !event.target.closest(".filters-pop")) {
        panel.hidden = true;
        $("[data-filters-toggle]").setAttribute("aria-expanded", "false");
      }
    });
    $("[data-filters-clear]").addEventListener("click", () => {
      state.accounts.clear();
      state.models.clear();
      state.status = "all";
      document.querySelectorAll("[data-filters-panel] input").forEach((input) => { input.checked = false; });
      document.querySelectorAll("[data-status] button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.value === "all")));
      filtersChanged();
    });
    checks("[data-account-checks]", initial.accountChoices, state.accounts);
    checks("[data-model-checks]", initial.modelChoices, state.models);
  }

  document.addEventListener("DOMContentLoaded", () => {
    render();
    bindControls();
    // New traffic re-reads the report, at most every 5 s however busy the proxy is.
    const refresh = throttle(load, 5000);
    live.on("request.logged", refresh).onReconnect(load).start(["requests"]);
  });
})();
