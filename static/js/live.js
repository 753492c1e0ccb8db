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
        // 4403: the consumer refused us (logged out); 4401: the login it let in has ended
        // (logged out elsewhere, expired). A reconnect cannot help until the next login.
        if (event.code === 4403 || event.code === 4401) return this.status("refused");
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

  ccflare.live = live;
})();
