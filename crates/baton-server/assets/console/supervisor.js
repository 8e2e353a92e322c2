// The supervisor's view: every open handoff of every team, who has it and for how long, and
// a way to give one to a specific agent (capacity still applies).

import { badge, duration, fill, h, words } from "./dom.js";
import { tierBadge, triggerBadge } from "./brief.js";
import { ordered } from "./queue.js";

export async function renderSupervisor(container, app) {
  fill(container, h("p", { class: "muted pad" }, "Loading…"));
  const [queue, agentList] = await Promise.all([app.api.get("/v1/agent/queue"), app.api.get("/v1/admin/agents")]);
  const agents = agentList.agents.filter((a) => !a.disabled);
  const name = (id) => (agents.find((a) => a.id === id) || {}).name || id;
  const rows = ordered(queue.handoffs, null).map((entry) => {
    const select = h(
      "select",
      { "aria-label": "Agent to reassign to" },
      agents.map((a) => h("option", { value: a.id, selected: a.id === entry.agent_id }, `${a.name} · ${a.presence} · ${a.active}/${a.capacity}`)),
    );
    const holder = entry.status === "assigned" ? name(entry.agent_id) : entry.status === "offered" ? `offered to ${name(entry.offer.agent_id)}` : "—";
    return h(
      "tr",
      { dataset: { handoff: entry.id } },
      h("td", {}, h("span", { class: `prio ${entry.priority}` }, entry.priority)),
      h("td", {}, (app.teams.get(entry.team) || {}).display_name || entry.team || "any"),
      h("td", {}, badge(entry.status, `status ${entry.status}`), entry.position ? h("span", { class: "muted" }, ` #${entry.position}`) : null),
      h("td", {}, holder),
      h("td", {}, duration(entry.waiting_secs ?? (Date.now() - Date.parse(entry.created_at)) / 1000)),
      h("td", {}, tierBadge(entry.tier), " ", entry.triggers.map(triggerBadge), " ", entry.issue_type ? badge(words(entry.issue_type), "issue") : null),
      h(
        "td",
        { class: "row-actions" },
        h("button", { class: "btn small", type: "button", onclick: () => app.openHandoff(entry.id) }, "Open"),
        select,
        h(
          "button",
          {
            class: "btn small",
            type: "button",
            onclick: async () => {
              try {
                await app.api.post(`/v1/agent/handoffs/${entry.id}/reassign`, { agent_id: select.value });
                app.toast(`Given to ${name(select.value)}.`);
                renderSupervisor(container, app);
              } catch (error) {
                app.toast(error.message, "bad");
              }
            },
          },
          "Reassign",
        ),
      ),
    );
  });
  fill(
    container,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "All open handoffs"), h("button", { class: "btn", type: "button", onclick: () => renderSupervisor(container, app) }, "Refresh")),
      h("p", { class: "muted" }, `${queue.handoffs.length} open · ${agents.filter((a) => a.presence === "online").length} agents online`),
      rows.length
        ? h(
            "table",
            { class: "grid" },
            h("thead", {}, h("tr", {}, ["Priority", "Team", "Status", "Agent", "Waiting", "Why", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, rows),
          )
        : h("p", { class: "empty" }, "No open handoffs."),
    ),
  );
}
