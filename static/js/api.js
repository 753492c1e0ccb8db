/* Calls to our server: the JSON API (CSRF, timeout), HTML fragments, the page's initial data. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});

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

  /* Parsed JSON, or {error: <the start of the text>} when the server sent something else. */
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

  /* The page's initial data, rendered by the view with json_script. */
  function pageData(id = "page-data") {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  Object.assign(ccflare, { api, fragment, pageData, safeJSON });
})();
