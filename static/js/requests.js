/* Requests: the latest rows, live (pending at the top, then completed), filters, detail drawer. */
"use strict";

(function () {
  const { api, fragment, pageData, fmt, el, toDate, live, localizeTimes, initTabs, banner, accountNames } = window.ccflare;
  const data = pageData();
  const LIMIT = data.limit || 200;
  const accounts = accountNames(data.accounts, () => { refreshChoices(); render(); });
  const keyNames = data.keys || {};
  const $ = (selector) => document.querySelector(selector);
  // Newest first; a pending row has `pending: true` until its request.logged arrives.
  let rows = data.requests.map((row) => ({ ...row }));
  const fresh = new Set();

  /* Filtering ----------------------------------------------------------------- */

  function filters() {
    const form = $("[data-filters]");
    const value = (name) => form.querySelector(`[name="${name}"]`).value;
    return { q: value("q").trim().toLowerCase(), status: value("status"), account: value("account"),
      model: value("model"), key: value("key"), since: Number(value("since")) || 0 };
  }

  /* The client key's name; live rows carry only its id. `no_key`: sent without one. */
  function keyOf(row) {
    if (row.clientKey) return row.clientKey;
    if (row.clientKeyId == null) return "no_key";
    return keyNames[row.clientKeyId] || `key ${row.clientKeyId}`;
  }

  function accountOf(row) {
    return accounts.name(row.accountUsed ?? row.accountId) || "no_account";
  }

  function matches(row, f) {
    if (f.status === "success" && (row.pending || !row.success)) return false;
    if (f.status === "error" && (row.pending || row.success)) return false;
    if (/^\d$/.test(f.status) && String(row.statusCode || "")[0] !== f.status) return false;
    if (f.account && accountOf(row) !== f.account) return false;
    if (f.model && row.model !== f.model) return false;
    if (f.key && keyOf(row) !== f.key) return false;
    if (f.since) {
      const when = toDate(row.timestamp);
      if (when && Date.now() - when.getTime() > f.since * 1000) return false;
    }
    if (f.q) {
      const haystack = [row.id, row.path, row.model, accountOf(row), keyOf(row), row.errorMessage, row.statusCode].join(" ").toLowerCase();
      if (!haystack.includes(f.q)) return false;
    }
    return true;
  }

  function refreshChoices() {
    fillSelect('[name="account"]', rows.map(accountOf));
    fillSelect('[name="model"]', rows.map((row) => row.model).filter(Boolean));
    fillSelect('[name="key"]', [...rows.map(keyOf), ...Object.values(keyNames), "no_key"]);
  }

  /* A key's own latest requests, which may be older than the page's newest LIMIT. */
  async function loadKey() {
    const key = filters().key;
    if (!key) return render();
    try {
      const latest = await api(`/api/requests?limit=${LIMIT}&clientKey=${encodeURIComponent(key)}`);
      const known = new Set(rows.map((r) => r.id));
      rows = [...rows, ...latest.filter((r) => !known.has(r.id))];
      rows.sort((a, b) => (b.pending === true) - (a.pending === true) || time(b) - time(a));
      render();
    } catch (error) {
      banner(`Could not load the key's requests: ${error.message}`, "error");
    }
  }

  function fillSelect(selector, values) {
    const select = $(selector);
    const current = select.value;
    const unique = [...new Set(values)].sort();
    const first = select.options[0];
    select.replaceChildren(first, ...unique.map((v) => el("option", { value: v, text: v })));
    select.value = unique.includes(current) ? current : "";
  }

  /* Rendering ------------------------------------------------------------------- */

  function rowElement(row) {
    const code = row.statusCode;
    const statusClass = row.pending ? "pending" : `s${String(code || 0)[0]}`;
    const failed = !row.pending && !row.success;
    const tr = el("tr", {
      class: [failed ? "is-error" : "", row.pending ? "is-pending" : "", fresh.has(row.id) ? "is-new" : ""].join(" ").trim(),
      dataset: { id: row.id, state: row.pending ? "pending" : "done" },
    },
      el("td", { title: fmt.datetime(row.timestamp) }, fmt.time(row.timestamp)),
      el("td", {}, el("span", { class: `status ${statusClass}` }, el("span", { class: "dot" }),
        row.pending ? "pending" : String(code ?? "–"))),
      el("td", {},
        el("div", { class: "path" }, el("span", { class: "method", text: row.method }), row.path,
          row.failoverAttempts ? el("span", { class: "badge warn", text: `retry ${row.failoverAttempts}`, style: "margin-left:6px" }) : null),
        row.errorMessage ? el("span", { class: "err", text: row.errorMessage, title: row.errorMessage }) : null),
      el("td", {}, row.model ? el("span", { class: "badge", text: shortModel(row.model), title: row.model }) : el("span", { class: "muted", text: "–" })),
      el("td", { class: "cut", text: accountOf(row), title: accountOf(row) }),
      keyOf(row) === "no_key" ? el("td", { class: "muted", text: "–" }) : el("td", { class: "cut", text: keyOf(row), title: keyOf(row) }),
      el("td", { class: "num", text: row.pending ? "…" : fmt.compact(row.totalTokens || 0) }),
      el("td", { class: "num", text: row.costUsd ? fmt.usd(row.costUsd) : "–" }),
      el("td", { class: "num", text: row.pending ? "…" : fmt.ms(row.responseTimeMs) }),
      el("td", { class: "num", text: row.tokensPerSecond ? fmt.tps(row.tokensPerSecond) : "–" }));
    return tr;
  }

  function shortModel(model) {
    return model.replace(/^claude-/, "").replace(/-\d{8}$/, "");
  }

  let scheduled = false;
  function render() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const f = filters();
      const shown = rows.filter((row) => matches(row, f));
      $("[data-rows]").replaceChildren(...shown.map(rowElement));
      $("[data-empty]").hidden = shown.length > 0;
      const completed = rows.filter((row) => !row.pending).length;
      const pending = rows.length - completed;
      $("[data-count]").textContent = `${shown.length} of ${rows.length} requests${pending ? ` · ${pending} in progress` : ""}`;
      fresh.clear();
    });
  }

  /* Live -------------------------------------------------------------------------- */

  function upsert(row) {
    const index = rows.findIndex((r) => r.id === row.id);
    if (index >= 0) rows[index] = { ...rows[index], ...row };
    else rows.unshift(row);
    fresh.add(row.id);
    // Pending rows first (newest first), then completed ones by start time.
    rows.sort((a, b) => (b.pending === true) - (a.pending === true) || time(b) - time(a));
    const done = rows.filter((r) => !r.pending);
    if (done.length > LIMIT) {
      const drop = new Set(done.slice(LIMIT).map((r) => r.id));
      rows = rows.filter((r) => !drop.has(r.id));
    }
    refreshChoices();
    render();
  }

  function time(row) {
    const date = toDate(row.timestamp);
    return date ? date.getTime() : 0;
  }

  function onStarted({ row }) {
    if (rows.some((r) => r.id === row.id && !r.pending)) return;
    upsert({ ...row, accountUsed: row.accountId, pending: true, startId: live.startId });
  }

  function onLogged({ row }) {
    upsert({ ...row, pending: false });
    if (openId === row.id) openDetail(row.id);
  }

  async function resync() {
    try {
      const latest = await api(`/api/requests?limit=${LIMIT}`);
      rows = [...live.stillRunning(rows, latest), ...latest];
      refreshChoices();
      render();
    } catch (error) {
      banner(`Could not reload requests: ${error.message}`, "error");
    }
  }

  /* Detail drawer -------------------------------------------------------------------- */

  let openId = null;

  async function openDetail(id) {
    openId = id;
    const row = rows.find((r) => r.id === id);
    $("[data-drawer]").hidden = false;
    $("[data-drawer-backdrop]").hidden = false;
    $("[data-drawer-title]").textContent = row ? `${row.method} ${row.path}` : "Request";
    $("[data-drawer-link]").href = `/dashboard/requests/${id}/`;
    const body = $("[data-drawer-body]");
    if (row && row.pending) {
      body.replaceChildren(el("div", { class: "empty", text: "Still in progress: the details appear when it finishes." }));
      return;
    }
    body.replaceChildren(el("div", { class: "empty", text: "Loading…" }));
    try {
      body.innerHTML = await fragment(`/dashboard/requests/${id}/?partial=1`);
      localizeTimes(body);
      initTabs(body);
    } catch (error) {
      body.replaceChildren(el("div", { class: "empty", text: `Could not load the request: ${error.message}` }));
    }
    history.replaceState(null, "", `#${id}`);
  }

  function closeDetail() {
    openId = null;
    $("[data-drawer]").hidden = true;
    $("[data-drawer-backdrop]").hidden = true;
    history.replaceState(null, "", location.pathname);
  }

  /* Wiring ------------------------------------------------------------------------------ */

  document.addEventListener("DOMContentLoaded", () => {
    refreshChoices();
    render();
    $("[data-filters]").addEventListener("input", (event) => {
      if (event.target.name === "key") loadKey();
      else render();
    });
    $("[data-clear-filters]").addEventListener("click", () => {
      $("[data-filters]").querySelectorAll("input, select").forEach((node) => { node.value = ""; });
      render();
    });
    $("[data-rows]").addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-id]");
      if (tr) openDetail(tr.dataset.id);
    });
    $("[data-drawer-close]").addEventListener("click", closeDetail);
    $("[data-drawer-backdrop]").addEventListener("click", closeDetail);
    document.addEventListener("keydown", (event) => { if (event.key === "Escape" && openId) closeDetail(); });
    if (location.hash.length > 1) openDetail(location.hash.slice(1));
    live
      .on("request.started", onStarted)
      .on("request.logged", onLogged)
      .on("account.changed", (message) => {
        if (!message.deleted) accounts.set(message.id, message.name);
        render();
      })
      .onReconnect(resync)
      .start(["requests", "accounts"]);
  });
})();
