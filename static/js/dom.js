/* Building page content safely: el() makes elements, escapeHTML() makes text safe inside markup. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});

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

  Object.assign(ccflare, { el, escapeHTML });
})();
