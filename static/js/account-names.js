/* Account id -> name for live rows that carry only the id: accountNames(initial, onUpdate). Needs api.js, throttle.js. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});
  const { api, throttle } = ccflare;

  /* An id not seen yet (an account added by another process or a command) triggers one
   * re-read of /api/accounts. */
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

  ccflare.accountNames = accountNames;
})();
