/* Telling the user what happened: the page banner, and "Copied" on copy buttons. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});

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

  ccflare.banner = banner;
})();
