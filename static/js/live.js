/* The live websocket (/ws/dashboard/): one per page, reconnects by itself, drives the sidebar's Live status. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});
  const { safeJSON } = ccflare;

  /* One socket per page. Reconnects with backoff (1 s doubling to 15 s, with jitter);
   * after a reconnect, `onReconnect` handlers re-read what may have been missed. */
  const live = {
    socket: null,
    handlers: {},
    reconnectHandlers: [],
    attempts: 0,
    everConnected: false,
    reconnected: false,
    // The server start this socket is on, from its hello: pages tag the rows of requests
    // still running with it (see stillRunning).
    startId: null,
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
        this.reconnected = this.everConnected;
        this.attempts = 0;
        this.everConnected = true;
        this.status("live");
      };
      socket.onmessage = (event) => {
        const message = safeJSON(event.data);
        if (message.type === "hello") this.hello(message);
        (this.handlers[message.type] || []).forEach((handler) => handler(message));
      };
      socket.onclose = (event) => {
        if (this.socket !== socket) return;
        // 4403: the consumer refused us (logged out); 4401: the login it let in has ended
        // (logged out elsewhere, expired). A reconnect cannot help until the next login.
        if (event.code === 4403 || event.code === 4401) return this.status("refused");
        this.status("reconnecting");
        const delay = Math.min(15000, 1000 * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
        this.attempts += 1;
        setTimeout(() => this.connect(), delay);
      };
    },
    /* The server's first message on each socket. The re-reads after a reconnect wait for
     * it, so they know which server start the page now hears. */
    hello(message) {
      this.startId = message.startId;
      if (this.reconnected) this.reconnectHandlers.forEach((handler) => handler());
      this.reconnected = false;
    },
    /* The rows of `rows` still pending that `latest` (the server's newest requests, read
     * after a reconnect) does not have yet, and whose request is still running: announced
     * by the server start this socket is on (`startId` tags). A request a previous start
     * announced died with that server, never recorded: its row goes. */
    stillRunning(rows, latest) {
      const known = new Set(latest.map((row) => row.id));
      return rows.filter((row) => row.pending && !known.has(row.id) && row.startId === this.startId);
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

  ccflare.live = live;
})();
