/* Logs: the last lines from /api/logs/history, then the live tail; pause, clear, auto-scroll. */
"use strict";

(function () {
  const { api, el, fmt, banner, live } = window.ccflare;
  const MAX_LINES = 2000;
  const LEVELS = { DEBUG: 10, INFO: 20, WARN: 30, WARNING: 30, ERROR: 40, CRITICAL: 50 };
  const $ = (selector) => document.querySelector(selector);
  let lines = [];
  let held = [];  // lines that arrived while paused
  let paused = false;
  let sinceHello = null;  // live lines that came while the history loads

  function visible(entry) {
    const level = $("[data-log-level]").value;
    const query = $("[data-log-search]").value.trim().toLowerCase();
    if (level && (LEVELS[entry.level] || 0) < LEVELS[level]) return false;
    return !query || String(entry.msg).toLowerCase().includes(query);
  }

  function lineElement(entry) {
    return el("div", { class: "logline" },
      el("span", { class: "ts", text: fmt.time(entry.ts), title: fmt.datetime(entry.ts) }),
      el("span", { class: `lvl lvl-${entry.level}`, text: entry.level }),
      el("span", { class: "text", text: entry.msg }));
  }

  function renderAll() {
    const box = $("[data-log-box]");
    const shown = lines.filter(visible).map(lineElement);
    box.replaceChildren(...(shown.length ? shown : [emptyNote()]));
    updateCount();
    follow();
  }

  function emptyNote() {
    return el("div", { class: "empty", "data-log-empty": true, text: lines.length ? "No line matches the filter." : "No log lines yet. New ones appear here as the server writes them." });
  }

  function append(entries) {
    lines.push(...entries);
    const box = $("[data-log-box]");
    box.querySelector("[data-log-empty]")?.remove();
    entries.filter(visible).forEach((entry) => box.append(lineElement(entry)));
    if (lines.length > MAX_LINES) {
      lines = lines.slice(-MAX_LINES);
      while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
    }
    updateCount();
    follow();
  }

  function follow() {
    if ($("[data-log-follow]").checked) {
      const box = $("[data-log-box]");
      box.scrollTop = box.scrollHeight;
    }
  }

  function updateCount() {
    const waiting = held.length ? ` · ${held.length} waiting` : "";
    $("[data-log-count]").textContent = `${lines.length} lines${waiting}`;
  }

  function onLine(message) {
    const entry = { ts: message.ts, level: message.level, msg: message.msg };
    sinceHello?.push(entry);
    if (paused) {
      held.push(entry);
      updateCount();
    } else {
      append([entry]);
    }
  }

  function togglePause(button) {
    paused = !paused;
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    if (!paused && held.length) {
      const waiting = held;
      held = [];
      append(waiting);
    }
    updateCount();
  }

  async function loadHistory() {
    sinceHello = [];
    try {
      const history = (await api("/api/logs/history?lines=1000")) || [];
      // A line logged while the history loaded came live and may not be in it: keep it.
      const known = new Set(history.map(lineKey));
      const fresh = sinceHello.filter((entry) => !known.has(lineKey(entry)) && !held.includes(entry));
      lines = history.concat(fresh);
      renderAll();
    } catch (error) {
      banner(`Could not load the log history: ${error.message}`, "error");
    } finally {
      sinceHello = null;
      $("[data-log-box]").dataset.historyLoaded = "true";
    }
  }

  function lineKey(entry) {
    return `${entry.ts}|${entry.level}|${entry.msg}`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("[data-log-pause]").addEventListener("click", (event) => togglePause(event.currentTarget));
    $("[data-log-clear]").addEventListener("click", () => { lines = []; held = []; renderAll(); });
    $("[data-log-level]").addEventListener("change", renderAll);
    $("[data-log-search]").addEventListener("input", renderAll);
    $("[data-log-follow]").addEventListener("change", follow);
    // The history loads once the socket has joined the log group (and again after a
    // reconnect), so no line falls between the two.
    live.on("log", onLine).on("hello", loadHistory).start(["logs"]);
  });
})();
