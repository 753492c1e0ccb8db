/* Agents: each agent's model (a preference through /api/agents), the default agent model,
 * every agent at once; counts refresh live as requests are logged. */
"use strict";

(function () {
  const { api, el, fmt, banner, throttle, live } = window.ccflare;
  const $ = (selector) => document.querySelector(selector);
  let data = null;
  let source = "";  // the tab: "" (all), global, workspace, admin

  function options(select, choices, selected, extra = []) {
    const values = new Set(choices.map((c) => c.value));
    const all = [...extra, ...choices];
    if (selected && !values.has(selected)) all.unshift({ value: selected, label: `${selected} (not in the price table)` });
    select.replaceChildren(...all.map((c) => el("option", { value: c.value, text: c.label, selected: c.value === selected })));
  }

  function modelSelect(agent) {
    const select = el("select", { "aria-label": `Model of ${agent.name}`, dataset: { agentModel: agent.id } });
    options(select, data.modelChoices, agent.preference || "", [
      { value: "", label: `own: ${agent.ownModel || `default (${data.defaultModel})`}` },
    ]);
    return select;
  }

  function agentRow(agent) {
    const where = agent.source === "workspace" ? `workspace ${agent.workspace}` : agent.source;
    return el("tr", { dataset: { agentRow: agent.id } },
      el("td", {}, el("strong", { text: agent.name }), el("div", { class: "muted", text: agent.description || agent.id })),
      el("td", {}, el("span", { class: `badge ${agent.source === "global" ? "info" : "accent"}`, text: where })),
      el("td", {}, modelSelect(agent)),
      el("td", { class: "mono", text: agent.effectiveModel || "the request's own model" }),
      el("td", { class: "num", dataset: { agentRequests: agent.id }, text: fmt.int(agent.requests) }),
      el("td", { class: "num", text: fmt.compact(agent.tokens) }));
  }

  function workspaceRow(workspace) {
    return el("tr", {},
      el("td", { text: workspace.name }),
      el("td", { class: "mono", text: workspace.path }),
      el("td", { class: "num", text: fmt.int(workspace.agentCount) }),
      el("td", { text: fmt.relative(workspace.lastSeen) }));
  }

  function render() {
    const agents = data.agents.filter((a) => !source || a.source === source);
    $("[data-agent-rows]").replaceChildren(...agents.map(agentRow));
    $("[data-agents-empty]").hidden = data.agents.length > 0;
    $("[data-agents-hint]").textContent = `${data.agents.length} known; a request whose system prompt contains an agent's prompt is that agent's.`;
    $("[data-count-global]").textContent = fmt.int(data.globalAgents.length);
    $("[data-count-workspace]").textContent = fmt.int(data.workspaceAgents.length);
    $("[data-count-admin]").textContent = fmt.int(data.adminAgents.length);
    $("[data-count-requests]").textContent = fmt.int(data.agents.reduce((n, a) => n + a.requests, 0));
    $("[data-count-tokens]").textContent = fmt.compact(data.agents.reduce((n, a) => n + a.tokens, 0));
    options($("[data-default-model]"), data.modelChoices, data.defaultModel);
    if (!$("[data-bulk-model]").options.length) options($("[data-bulk-model]"), data.modelChoices, "");
    $("[data-workspace-rows]").replaceChildren(...data.workspaces.map(workspaceRow));
    $("[data-workspaces-empty]").hidden = data.workspaces.length > 0;
  }

  async function load() {
    try {
      const [agents, workspaces] = await Promise.all([api("/api/agents"), api("/api/workspaces")]);
      data = { ...agents, workspaces: workspaces.workspaces };
      render();
    } catch (error) {
      banner(`Could not load the agents: ${error.message}`, "error");
    }
  }

  async function change(promise, success) {
    try {
      await promise;
      banner(success, "success");
    } catch (error) {
      banner(error.message, "error");
    }
    await load();
  }

  function onModelChange(event) {
    const id = event.target.dataset.agentModel;
    if (id === undefined) return;
    const path = `/api/agents/${encodeURIComponent(id)}/preference`;
    const model = event.target.value;
    change(model ? api(path, { method: "POST", body: { model } }) : api(path, { method: "DELETE" }),
      model ? `${id} now runs on ${model}.` : `${id} is back on its own model.`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("[data-agent-rows]").addEventListener("change", onModelChange);
    $("[data-default-model]").addEventListener("change", (event) => change(
      api("/api/config/model", { method: "POST", body: { model: event.target.value } }),
      `Default agent model: ${event.target.value}.`));
    $("[data-bulk-apply]").addEventListener("click", () => {
      const model = $("[data-bulk-model]").value;
      if (!window.confirm(`Put all ${data ? data.agents.length : ""} agents on ${model}?`)) return;
      change(api("/api/agents/bulk-preference", { method: "POST", body: { model } }), `Every agent now runs on ${model}.`);
    });
    $("[data-tabs]").addEventListener("click", (event) => {
      const button = event.target.closest("[data-source]");
      if (!button) return;
      source = button.dataset.source;
      $("[data-tabs]").querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      if (data) render();
    });
    // Requests by agents move the counts; a busy proxy must not reload per request.
    const refreshSoon = throttle(load, 2000);
    live.on("request.logged", (message) => message.row && message.row.agentUsed && refreshSoon())
      .onReconnect(load).start(["requests"]);
    load();
  });
})();
