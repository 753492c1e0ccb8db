/* ccflare dashboard core: theme, API calls, formatting, and the live websocket.
 * Every page loads this first; page scripts use `window.ccflare`. No build step. */
"use strict";

(function () {
  const root = document.documentElement;

  /* Theme ------------------------------------------------------------------ */

  const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
  const themeListeners = [];

  function applyTheme(choice) {
    const dark = choice === "dark" || (choice === "system" && darkQuery.matches);
    root.dataset.theme = dark ? "dark" : "light";
    root.dataset.themeChoice = choice;
    document.querySelectorAll("[data-theme-choice]").forEach((button) => {
      button.setAttribute("aria-checked", String(button.dataset.themeChoice === choice));
    });
    themeListeners.forEach((listener) => listener(root.dataset.theme));
  }

  /* Shared with the Django admin's toggle, which stores "auto" for following the system. */
  function storedTheme() {
    const stored = localStorage.getItem("theme");
    return stored === "light" || stored === "dark" ? stored : "system";
  }

  function setTheme(choice) {
    localStorage.setItem("theme", choice === "system" ? "auto" : choice);
    applyTheme(choice);
  }

  darkQuery.addEventListener("change", () => applyTheme(storedTheme()));

  /* API -------------------------------------------------------------------- */

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* JSON in and out; throws Error(message) with the API's `error` text on failure. */
  async function api(path, { method = "GET", body, timeout = 30000 } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (response.status === 204) return null;
      const text = await response.text();
      const data = text ? safeJSON(text) : null;
      if (!response.ok) {
        const message = (data && data.error) || `${response.status} ${response.statusText}`;
        throw new Error(message);
      }
      return data;
    } finally {
      clearTimeout(timer);
    }
  }

  function safeJSON(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return { error: text.slice(0, 200) };
    }
  }

  async function fragment(path) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.text();
  }

  function pageData(id = "page-data") {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  /* Formatting ------------------------------------------------------------- */

  const numberFormat = new Intl.NumberFormat();
  const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

  const fmt = {
    int: (n) => (n == null ? "–" : numberFormat.format(Math.round(n))),
    compact: (n) => (n == null ? "–" : n < 10000 ? numberFormat.format(Math.round(n)) : compactFormat.format(n)),
    pct: (n, digits = 0) => (n == null ? "–" : `${Number(n).toFixed(digits)}%`),
    ms: (n) => (n == null ? "–" : n >= 10000 ? `${(n / 1000).toFixed(1)} s` : `${numberFormat.format(Math.round(n))} ms`),
    usd: (n, digits = 4) => (n == null ? "–" : `$${Number(n).toFixed(digits)}`),
    tps: (n) => (n == null ? "–" : `${Number(n).toFixed(1)} tok/s`),
    time: (value) => {
      const date = toDate(value);
      return date ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "–";
    },
    datetime: (value) => {
      const date = toDate(value);
      return date ? date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "–";
    },
    /* "in 2h 5m" / "3m ago" */
    relative: (value) => {
      const date = toDate(value);
      if (!date) return "–";
      const seconds = Math.round((date.getTime() - Date.now()) / 1000);
      const text = duration(Math.abs(seconds));
      return seconds >= 0 ? `in ${text}` : `${text} ago`;
    },
  };

  function toDate(value) {
    if (value == null || value === "") return null;
    const date = typeof value === "number" ? new Date(value) : new Date(String(value));
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function duration(seconds) {
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours}h ${minutes % 60}m`;
    return `${Math.floor(hours / 24)}d ${hours % 24}h`;
  }

  /* <time data-local="time|datetime|relative" datetime="ISO"> shows the browser's local time. */
  function localizeTimes(scope = document) {
    scope.querySelectorAll("time[data-local]").forEach((node) => {
      const kind = node.dataset.local;
      node.textContent = (fmt[kind] || fmt.datetime)(node.getAttribute("datetime"));
      if (kind === "relative") node.title = fmt.datetime(node.getAttribute("datetime"));
    });
  }

  function escapeHTML(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]
    ));
  }

  /* Build an element: el("td", {class: "num", text: "3"}, child, ...) */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value == null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    children.flat().forEach((child) => {
      if (child != null) node.append(child instanceof Node ? child : String(child));
    });
    return node;
  }

  /* Feedback --------------------------------------------------------------- */

  let bannerTimer = null;
  function banner(message, kind = "info", { sticky = false } = {}) {
    const node = document.querySelector("[data-banner]");
    if (!node) return;
    node.textContent = message;
    node.className = `banner ${kind}`;
    node.hidden = false;
    clearTimeout(bannerTimer);
    if (!sticky) bannerTimer = setTimeout(() => { node.hidden = true; }, 6000);
  }

  /* Calls fn at most once per `wait` ms, always with a trailing call (so the last event counts). */
  function throttle(fn, wait) {
    let last = 0;
    let timer = null;
    return function throttled() {
      const remaining = wait - (Date.now() - last);
      if (remaining <= 0 && !timer) {
        last = Date.now();
        fn();
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          last = Date.now();
          fn();
        }, Math.max(remaining, 0));
      }
    };
  }

  /* Live websocket ---------------------------------------------------------- */

  /* One socket per page. Reconnects with backoff (1 s doubling to 15 s, with jitter);
   * after a reconnect, `onReconnect` handlers re-read what may have been missed. */
  const live = {
    socket: null,
    handlers: {},
    reconnectHandlers: [],
    attempts: 0,
    everConnected: false,
    topics: ["requests", "accounts"],

    on(type, handler) {
      (this.handlers[type] = this.handlers[type] || []).push(handler);
      return this;
    },
    onReconnect(handler) {
      this.reconnectHandlers.push(handler);
      return this;
    },
    start(topics) {
      if (topics) this.topics = topics;
      this.connect();
      setInterval(() => this.send({ type: "ping" }), 25000);
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden && (!this.socket || this.socket.readyState > 1)) this.connect();
      });
    },
    connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const url = `${scheme}://${location.host}/ws/dashboard/?topics=${this.topics.join(",")}`;
      const socket = new WebSocket(url);
      this.socket = socket;
      this.status(this.everConnected ? "reconnecting" : "connecting");
      socket.onopen = () => {
        const wasReconnect = this.everConnected;
        this.attempts = 0;
        this.everConnected = true;
        this.status("live");
        if (wasReconnect) this.reconnectHandlers.forEach((handler) => handler());
      };
      socket.onmessage = (event) => {
        const message = safeJSON(event.data);
        (this.handlers[message.type] || []).forEach((handler) => handler(message));
      };
      socket.onclose = (event) => {
        if (this.socket !== socket) return;
        // 4403 is the consumer refusing us (logged out): a reconnect cannot help until login.
        if (event.code === 4403) return this.status("refused");
        this.status("reconnecting");
        const delay = Math.min(15000, 1000 * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
        this.attempts += 1;
        setTimeout(() => this.connect(), delay);
      };
    },
    send(message) {
      if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
    },
    status(state) {
      const labels = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", refused: "Signed out" };
      document.querySelectorAll("[data-live-status]").forEach((node) => {
        node.dataset.liveStatus = state;
        const label = node.querySelector("[data-live-label]");
        if (label) label.textContent = labels[state];
      });
    },
  };

  /* Account id -> name, for live rows that carry only the id. An id not seen yet (an
   * account added by another process or a command) triggers one re-read of /api/accounts. */
  function accountNames(initial, onUpdate) {
    const names = { ...(initial || {}) };
    const asked = new Set();
    const reload = throttle(async () => {
      try {
        for (const account of await api("/api/accounts")) names[account.id] = account.name;
        onUpdate();
      } catch (error) { /* keep showing ids */ }
    }, 2000);
    return {
      names,
      name(id) {
        if (!id) return null;
        if (!(id in names) && !asked.has(id) && /^[0-9a-f-]{36}$/.test(id)) {
          asked.add(id);
          reload();
        }
        return names[id] || id;
      },
      set(id, name) { names[id] = name; },
      remove(id) { delete names[id]; },
    };
  }

  /* Tabs: [data-tabs] holds buttons with data-tab="name"; panels are [data-panel="name"]. */
  function initTabs(scope = document) {
    scope.querySelectorAll("[data-tabs]").forEach((tabs) => {
      const container = tabs.parentElement;
      tabs.addEventListener("click", (event) => {
        const button = event.target.closest("[data-tab]");
        if (!button) return;
        tabs.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b === button)));
        container.querySelectorAll(":scope > [data-panel]").forEach((panel) => {
          panel.hidden = panel.dataset.panel !== button.dataset.tab;
        });
      });
    });
  }

  /* Copy buttons: data-copy="#selector" copies that element's text. */
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(() => {
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = old; }, 1200);
    });
  });

  document.addEventListener("DOMContentLoaded", () => {
    applyTheme(storedTheme());
    document.querySelectorAll("[data-theme-choice]").forEach((button) => {
      button.addEventListener("click", () => setTheme(button.dataset.themeChoice));
    });
    localizeTimes();
    initTabs();
    // Relative times ("in 2h 5m") stay true without a reload.
    setInterval(() => localizeTimes(), 30000);
  });

  window.ccflare = {
    api, fragment, pageData, fmt, toDate, duration, localizeTimes, escapeHTML, el, banner,
    throttle, live, initTabs, setTheme, accountNames,
    onTheme: (listener) => themeListeners.push(listener),
  };
})();
