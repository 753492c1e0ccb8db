/* Theme: light, dark or the system's, shared with the Django admin's toggle. Exports setTheme, onTheme. */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});
  const root = document.documentElement;
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

  document.addEventListener("DOMContentLoaded", () => {
    applyTheme(storedTheme());
    document.querySelectorAll("[data-theme-choice]").forEach((button) => {
      button.addEventListener("click", () => setTheme(button.dataset.themeChoice));
    });
  });

  ccflare.setTheme = setTheme;
  ccflare.onTheme = (listener) => themeListeners.push(listener);
})();
