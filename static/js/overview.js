/* Overview: KPI cards with trend, charts, the pool, live activity, errors and retention.
 * First paint uses the data embedded in the page; the websocket keeps it current. */
"use strict";

(function () {
  const { api, fragment, pageData, fmt, el, banner, throttle, live, localizeTimes, charts, accountNames } = window.ccflare;
  const state = pageData();
  const accounts = accountNames(state.accounts, () => renderActivity());
  const ACTIVITY_SIZE = 8;
  const $ = (selector) => document.querySelector(selector);

  /* KPIs --------------------------------------------------------------------- */

  const KPIS = {
    requests: { value: (t) => fmt.int(t.requests), point: (p) => p.requests, upIsGood: true },
    success: { value: (t) => fmt.pct(t.successRate, 1), point: (p) => p.successRate, upIsGood: true },
    latency: { value: (t) => fmt.ms(t.avgResponseTime), point: (p) => p.avgResponseTime, upIsGood: false },
    cost: { value: (t) => costText(t.totalCostUsd) + unpricedText(t), point: (p) => p.costUsd, upIsGood: false },
    speed: { value: (t) => fmt.tps(t.avgTokensPerSecond), point: (p) => p.avgTokensPerSecond, upIsGood: true },
  };
  const BUCKET_WORDS = { "1m": "previous minute", "5m": "previous 5 minutes", "1h": "previous hour", "1d": "previous day" };

  function costText(usd) {
    return usd >= 100 ? fmt.usd(usd, 2) : fmt.usd(usd, 4);
  }

  // Requests of a model with no price are not in the cost: say so, never count them as $0.
  function unpricedText(totals) {
    return totals.unpricedRequests ? ` + ${fmt.int(totals.unpricedRequests)} unpriced` : "";
  }

  function renderKPIs() {
    const { totals, timeSeries, meta } = state.report;
    const [previous, last] = timeSeries.slice(-2);
    for (const [name, kpi] of Object.entries(KPIS)) {
      const card = $(`[data-kpi="${name}"]`);
      card.querySelector(".value").textContent = kpi.value(totals);
      card.querySelector(".trend").replaceChildren(...trend(kpi, previous, last, meta.bucket));
    }
  }

  function trend(kpi, previous, last, bucket) {
    const before = previous ? kpi.point(previous) : null;
    const now = last ? kpi.point(last) : null;
    if (before == null || now == null || before === 0) return [el("span", { text: "No earlier bucket to compare" })];
    const change = ((now - before) / Math.abs(before)) * 100;
    const good = change === 0 ? "" : (change > 0) === kpi.upIsGood ? "good" : "bad";
    const arrow = change > 0 ? "▲" : change < 0 ? "▼" : "■";
    return [
      el("span", { class: `delta ${good}`, text: `${arrow} ${Math.abs(change).toFixed(1)}%` }),
      el("span", { text: `vs ${BUCKET_WORDS[bucket] || "previous bucket"}` }),
    ];
  }

  /* Charts -------------------------------------------------------------------- */

  function volumeConfig() {
    const t = charts.theme();
    const { timeSeries, meta } = state.report;
    const series = charts.fillBuckets(timeSeries, meta.bucket, (p) => p.requests);
    return {
      type: "line",
      data: {
        labels: series.labels,
        datasets: [{
          label: "Requests", data: series.values.map((v) => v || 0), borderColor: t.accent,
          backgroundColor: charts.areaFill(t.accent), fill: true, tension: 0.3, pointRadius: charts.lonePointRadius, borderWidth: 2,
        }],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false } },
        scales: { x: { offset: series.labels.length < 2, grid: { display: false }, ticks: { maxTicksLimit: 8 } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    };
  }

  function successConfig() {
    const t = charts.theme();
    const { timeSeries, meta } = state.report;
    const series = charts.fillBuckets(timeSeries, meta.bucket, (p) => p.successRate);
    const lowest = Math.min(80, ...series.values.filter((v) => v != null));
    return {
      type: "line",
      data: {
        labels: series.labels,
        datasets: [{
          label: "Success rate", data: series.values, borderColor: t.ok, backgroundColor: t.ok, spanGaps: true,
          tension: 0.3, pointRadius: charts.lonePointRadius, borderWidth: 2,
        }],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => ` ${fmt.pct(c.parsed.y, 1)}` } } },
        scales: {
          x: { offset: series.labels.length < 2, grid: { display: false }, ticks: { maxTicksLimit: 8 } },
          y: { min: Math.max(0, Math.floor(lowest / 10) * 10), max: 100, ticks: { callback: (v) => `${v}%` } },
        },
      },
    };
  }

  function modelsConfig() {
    const rows = state.report.modelDistribution;
    return {
      type: "doughnut",
      data: {
        labels: rows.map((r) => r.model),
        datasets: [{ data: rows.map((r) => r.count), backgroundColor: charts.PALETTE, borderColor: charts.theme().surface, borderWidth: 2 }],
      },
      options: { cutout: "68%", plugins: { legend: { display: false } } },
    };
  }

  function accountsConfig() {
    const t = charts.theme();
    const rows = state.report.accountPerformance.slice(0, 10);
    return {
      type: "bar",
      data: {
        labels: rows.map((r) => r.name),
        datasets: [
          { label: "Requests", data: rows.map((r) => r.requests), backgroundColor: charts.hexAlpha(t.accent, 0.8), borderRadius: 6, yAxisID: "y", maxBarThickness: 42 },
          { label: "Success %", type: "line", data: rows.map((r) => r.successRate), borderColor: t.ok, backgroundColor: t.ok, yAxisID: "y1", pointRadius: 3 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
          y1: { position: "right", min: 0, max: 100, grid: { display: false }, ticks: { callback: (v) => `${v}%` } },
        },
      },
    };
  }

  function renderLegend() {
    const rows = state.report.modelDistribution;
    const total = rows.reduce((sum, r) => sum + r.count, 0);
    const items = rows.map((r, i) => el("li", {},
      el("span", { class: "swatch", style: `background:${charts.PALETTE[i % charts.PALETTE.length]}` }),
      el("span", { class: "mono", text: r.model }),
      el("span", { class: "muted", text: `${fmt.int(r.count)} · ${fmt.pct((r.count * 100) / total)}` })));
    $("[data-model-legend]").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No requests in this range" })]));
  }

  /* One row per client key that sent requests in the range (and one for those without). */
  function renderKeys() {
    const rows = state.report.keyUsage || [];
    const items = rows.map((r) => el("tr", { dataset: { key: r.clientKey } },
      r.keyId == null ? el("td", { class: "muted", text: "no key" }) : el("td", { class: "mono cut", text: r.clientKey, title: r.clientKey }),
      el("td", { class: "num", text: fmt.int(r.requests) }),
      el("td", { class: "num", text: fmt.pct(r.successRate, 1) }),
      el("td", { class: "num", text: fmt.compact(r.tokens) }),
      el("td", { class: "num", text: costText(r.costUsd) }),
      el("td", { text: r.lastUsed ? fmt.datetime(r.lastUsed) : "–" }),
      el("td", { class: "num", text: fmt.pct(r.poolShare5h, 1) })));
    $("[data-key-table]").replaceChildren(...items);
    // Without client keys there is nothing to split: the card stays out of the way.
    $("[data-keys-card]").hidden = !rows.some((r) => r.keyId != null);
  }

  let chartHandles = [];
  function renderReport() {
    renderKPIs();
    renderLegend();
    renderKeys();
    if (!chartHandles.length) {
      chartHandles = [
        charts.mount(document.getElementById("chart-volume"), volumeConfig),
        charts.mount(document.getElementById("chart-success"), successConfig),
        charts.mount(document.getElementById("chart-models"), modelsConfig),
        charts.mount(document.getElementById("chart-accounts"), accountsConfig),
      ];
    } else {
      chartHandles.forEach((handle) => handle.refresh());
    }
  }

  async function loadReport() {
    try {
      state.report = await api(`/api/analytics?range=${state.range}`);
      renderReport();
    } catch (error) {
      banner(`Could not load analytics: ${error.message}`, "error");
    }
  }

  /* Activity feed and errors ---------------------------------------------------- */

  function accountName(id) {
    return accounts.name(id) || "no account";
  }

  function activityItem(row, pending) {
    const code = row.statusCode;
    const statusClass = pending ? "pending" : `s${String(code || 0)[0]}`;
    const details = pending ? ["in progress…"]
      : [shortModel(row.model), accountName(row.accountUsed), fmt.ms(row.responseTimeMs), row.costUsd ? fmt.usd(row.costUsd) : null];
    return el("li", { dataset: { id: row.id, state: pending ? "pending" : "done" } },
      el("a", { href: `/dashboard/requests/#${row.id}` },
        el("span", { class: `status ${statusClass}` }, el("span", { class: "dot" }), pending ? "…" : String(code || "–")),
        el("span", { class: "what" }, el("span", { class: "method", text: row.method }), row.path),
        el("span", { class: "sub" }, isolated(details.filter(Boolean))),
        el("time", { class: "when", text: fmt.time(row.timestamp) })));
  }

  /* Each value in a <bdi>: a model name may carry a right-to-left override (U+202E) that
     otherwise reversed the rest of the line, account name and time included. */
  function isolated(values) {
    return values.flatMap((value, i) => [i ? " · " : null, el("bdi", { text: value })]);
  }

  function shortModel(model) {
    return model ? model.replace(/^claude-/, "").replace(/-\d{8}$/, "") : null;
  }

  function renderActivity() {
    const list = $("[data-activity]");
    const items = state.activity.map((row) => activityItem(row, row.pending === true));
    list.replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "No requests yet. Point a client at this proxy and they show up here." })]));
  }

  function upsertActivity(row, pending) {
    const entry = { ...row, pending };
    const index = state.activity.findIndex((r) => r.id === row.id);
    if (index >= 0) state.activity[index] = entry;
    else state.activity.unshift(entry);
    state.activity = state.activity.slice(0, ACTIVITY_SIZE);
    const list = $("[data-activity]");
    list.querySelector(".empty")?.remove();
    const item = activityItem(entry, pending);
    item.classList.add("is-new");
    const existing = list.querySelector(`[data-id="${CSS.escape(row.id)}"]`);
    if (existing) existing.replaceWith(item);
    else list.prepend(item);
    while (list.children.length > ACTIVITY_SIZE) list.lastElementChild.remove();
  }

  function renderErrors() {
    const items = state.recentErrors.map((message) => el("li", { text: message }));
    $("[data-errors]").replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "No errors recorded. All systems operational." })]));
    const list = $("[data-errors]");
    if (!items.length) list.firstElementChild.className = "empty";
  }

  /* Pool ------------------------------------------------------------------------ */

  const refreshPool = throttle(async () => {
    try {
      const html = await fragment("/dashboard/accounts/cards/?view=pool");
      const box = $("[data-pool]");
      box.innerHTML = html;
      localizeTimes(box);
    } catch (error) {
      /* The next event retries; the pool keeps its last state meanwhile. */
    }
  }, 1000);

  /* Retention and maintenance ---------------------------------------------------- */

  function bindRetention() {
    const form = $("[data-retention-form]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const input of form.querySelectorAll("input:not(:disabled)")) body[input.name] = Number(input.value);
      try {
        await api("/api/config/retention", { method: "POST", body });
        banner("Retention saved.", "success");
      } catch (error) {
        banner(error.message, "error");
      }
    });
    $("[data-presets]").addEventListener("click", (event) => {
      const button = event.target.closest("[data-days]");
      const input = form.querySelector('[name="payloadDays"]');
      if (!button || input.disabled) return;
      input.value = button.dataset.days;
      form.requestSubmit();
    });
    $("[data-cleanup]").addEventListener("click", () => maintenance("cleanup"));
    $("[data-compact]").addEventListener("click", () => maintenance("compact"));
  }

  async function maintenance(action) {
    const out = $("[data-maintenance-result]");
    out.textContent = action === "cleanup" ? "Cleaning up…" : "Compacting…";
    try {
      const result = await api(`/api/maintenance/${action}`, { method: "POST" });
      out.textContent = action === "cleanup"
        ? `Removed ${fmt.int(result.removedRequests)} requests and ${fmt.int(result.removedPayloads)} payloads older than ${fmt.datetime(result.cutoffIso)}.`
        : "Database compacted.";
      if (action === "cleanup") loadReport();
    } catch (error) {
      out.textContent = "";
      banner(error.message, "error");
    }
  }

  /* Range picker ------------------------------------------------------------------ */

  function bindRange() {
    $("[data-range-picker]").addEventListener("click", (event) => {
      const button = event.target.closest("[data-range]");
      if (!button) return;
      state.range = button.dataset.range;
      document.querySelectorAll("[data-range]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      loadReport();
    });
  }

  /* Live ---------------------------------------------------------------------------- */

  const refreshReport = throttle(loadReport, 3000);

  function onLogged({ row }) {
    upsertActivity(row, false);
    // The count moves at once; the rest follows with the throttled report.
    state.report.totals.requests += 1;
    $('[data-kpi="requests"] .value').textContent = fmt.int(state.report.totals.requests);
    if (row.errorMessage && !state.recentErrors.includes(row.errorMessage)) {
      state.recentErrors = [row.errorMessage, ...state.recentErrors].slice(0, 5);
      renderErrors();
    }
    refreshReport();
    refreshPool();
  }

  async function resync() {
    loadReport();
    refreshPool();
    try {
      const latest = await api(`/api/requests?limit=${ACTIVITY_SIZE}`);
      state.activity = [...live.stillRunning(state.activity, latest), ...latest].slice(0, ACTIVITY_SIZE);
      renderActivity();
    } catch (error) { /* shown on the next event */ }
  }

  document.addEventListener("DOMContentLoaded", () => {
    renderReport();
    renderActivity();
    renderErrors();
    bindRetention();
    bindRange();
    live
      .on("request.started", ({ row }) => upsertActivity({ ...row, accountUsed: row.accountId, startId: live.startId }, true))
      .on("request.logged", onLogged)
      .on("account.changed", (message) => {
        if (message.deleted) accounts.remove(message.id);
        else accounts.set(message.id, message.name);
        refreshPool();
      })
      .onReconnect(resync)
      .start(["requests", "accounts"]);
  });
})();
