/* How values read (counts, %, ms, $, tok/s, dates), and <time data-local> shown in local time. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});
  const numberFormat = new Intl.NumberFormat();
  const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

  const fmt = {
    int: (n) => (n == null ? "–" : numberFormat.format(Math.round(n))),
    compact: (n) => (n == null ? "–" : n < 10000 ? numberFormat.format(Math.round(n)) : compactFormat.format(n)),
    pct: (n, digits = 0) => (n == null ? "–" : `${Number(n).toFixed(digits)}%`),
    ms: (n) => (n == null ? "–" : n >= 10000 ? `${(n / 1000).toFixed(1)} s` : `${numberFormat.format(Math.round(n))} ms`),
    usd: (n, digits = 4) => (n == null ? "–" : `$${dollars(digits).format(Number(n))}`),
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

  /* Grouped ("$1,999,998.00"), with `digits` decimals: a formatter per precision. */
  const dollarFormats = new Map();
  function dollars(digits) {
    if (!dollarFormats.has(digits)) {
      dollarFormats.set(digits, new Intl.NumberFormat(undefined,
        { minimumFractionDigits: digits, maximumFractionDigits: digits }));
    }
    return dollarFormats.get(digits);
  }

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

  document.addEventListener("DOMContentLoaded", () => {
    localizeTimes();
    // Relative times ("in 2h 5m") stay true without a reload.
    setInterval(() => localizeTimes(), 30000);
  });

  Object.assign(ccflare, { fmt, toDate, duration, localizeTimes });
})();
