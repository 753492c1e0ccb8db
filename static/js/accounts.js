/* Accounts: add (OAuth in two steps, or an API key), rename, pause/resume, delete; live cards. */
"use strict";

(function () {
  const { api, fragment, banner, throttle, live, localizeTimes } = window.ccflare;
  const $ = (selector) => document.querySelector(selector);

  /* The cards are server-rendered; after any change the fragment is fetched and swapped. */
  async function reloadCards() {
    try {
      const box = $("[data-cards]");
      box.innerHTML = await fragment("/dashboard/accounts/cards/");
      localizeTimes(box);
    } catch (error) {
      banner(`Could not refresh the accounts: ${error.message}`, "error");
    }
  }
  const refreshSoon = throttle(reloadCards, 300);
  // Requests move windows and health; a busy proxy must not reload the cards per request.
  const refreshAfterTraffic = throttle(reloadCards, 2000);

  async function act(promise, success) {
    try {
      const result = await promise;
      banner((result && result.message) || success, "success");
      refreshSoon();
      return true;
    } catch (error) {
      banner(error.message, "error");
      return false;
    }
  }

  /* Card actions -------------------------------------------------------------------- */

  function onCardClick(event) {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const { action, id, name } = button.dataset;
    if (action === "pause" || action === "resume") {
      button.disabled = true;
      act(api(`/api/accounts/${id}/${action}`, { method: "POST" }), `Account ${action}d.`);
    } else if (action === "usage") {
      button.disabled = true;
      act(api(`/api/accounts/${id}/usage`, { method: "POST" }), "Usage windows checked.");
    } else if (action === "rename") {
      rename(id, name);
    } else if (action === "delete") {
      confirmDelete(id, name);
    }
  }

  function rename(id, name) {
    const dialog = $("[data-rename-dialog]");
    const input = dialog.querySelector('[name="name"]');
    input.value = name;
    dialog.onclose = () => {
      const newName = input.value.trim();
      if (dialog.returnValue === "ok" && newName && newName !== name) {
        act(api(`/api/accounts/${id}/rename`, { method: "POST", body: { name: newName } }), "Renamed.");
      }
    };
    dialog.showModal();
    input.select();
  }

  function confirmDelete(id, name) {
    const dialog = $("[data-delete-dialog]");
    const input = dialog.querySelector('[name="confirm"]');
    const button = dialog.querySelector("[data-delete-confirm]");
    dialog.querySelector("[data-delete-name]").textContent = name;
    input.value = "";
    button.disabled = true;
    input.oninput = () => { button.disabled = input.value !== name; };
    dialog.onclose = () => {
      if (dialog.returnValue === "ok" && input.value === name) {
        act(api(`/api/accounts/${id}`, { method: "DELETE", body: { confirm: input.value } }), "Deleted.");
      }
    };
    dialog.showModal();
    input.focus();
  }

  /* Adding ---------------------------------------------------------------------------- */

  let oauthSession = null;

  function formValues(form) {
    const values = Object.fromEntries(new FormData(form).entries());
    for (const key of ["tier", "priority"]) if (key in values) values[key] = Number(values[key] || 0);
    return values;
  }

  function showStep(step) {
    $("[data-oauth-start]").hidden = step !== 1;
    $("[data-oauth-finish]").hidden = step !== 2;
    document.querySelectorAll("[data-step-label]").forEach((label) => {
      label.classList.toggle("on", Number(label.dataset.stepLabel) <= step);
    });
  }

  async function startOAuth(event) {
    event.preventDefault();
    try {
      const reply = await submitting(event.target, api("/api/oauth/init", { method: "POST", body: formValues(event.target) }));
      oauthSession = reply.sessionId;
      $("[data-auth-url]").href = reply.authUrl;
      window.open(reply.authUrl, "_blank", "noopener");
      showStep(2);
      // The admin's step 2 says the same (accounts.onboarding.REPLACES_MESSAGE).
      if (reply.reauth) banner("An account with this name exists: finishing will replace its credentials.", "info");
    } catch (error) {
      banner(error.message, "error");
    }
  }

  // A form's fields and buttons are off while its request runs (as a card's buttons are):
  // a double click on "Complete setup" sent the code twice, and the second answer ("Invalid
  // 'code' in request") came after the first had added the account. Back on when it ends.
  async function submitting(form, request) {
    const controls = [...form.elements].filter((control) => !control.disabled);
    controls.forEach((control) => { control.disabled = true; });
    try {
      return await request;
    } finally {
      controls.forEach((control) => { control.disabled = false; });
    }
  }

  async function finishOAuth(event) {
    event.preventDefault();
    const code = event.target.querySelector('[name="code"]').value.trim();
    const body = { sessionId: oauthSession, code };
    const sent = act(api("/api/oauth/callback", { method: "POST", body }), "Account added.");
    if (await submitting(event.target, sent)) {
      event.target.reset();
      $("[data-oauth-start]").reset();
      showStep(1);
    }
  }

  async function addApiKey(event) {
    event.preventDefault();
    const sent = act(api("/api/accounts", { method: "POST", body: formValues(event.target) }), "Account added.");
    if (await submitting(event.target, sent)) {
      event.target.reset();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("[data-cards]").addEventListener("click", onCardClick);
    $("[data-add-toggle]").addEventListener("click", () => {
      const panel = $("[data-add-panel]");
      panel.hidden = !panel.hidden;
      if (!panel.hidden) panel.querySelector("input").focus();
    });
    $("[data-oauth-start]").addEventListener("submit", startOAuth);
    $("[data-oauth-finish]").addEventListener("submit", finishOAuth);
    $("[data-oauth-back]").addEventListener("click", () => showStep(1));
    $("[data-apikey]").addEventListener("submit", addApiKey);
    live
      .on("account.changed", refreshSoon)
      .on("request.logged", refreshAfterTraffic)
      .onReconnect(reloadCards)
      .start(["requests", "accounts"]);
  });
})();
