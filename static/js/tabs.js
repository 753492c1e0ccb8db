/* Tabs: [data-tabs] holds buttons with data-tab="name"; panels are [data-panel="name"]. Exports initTabs. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});

  /* Wires every [data-tabs] in scope; called on load, and by pages for fragments they insert. */
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

  document.addEventListener("DOMContentLoaded", () => initTabs());

  ccflare.initTabs = initTabs;
})();
