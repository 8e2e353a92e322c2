// The supervisor's view: every open handoff of every team, who has it and for how long, and
// a way to give one to a specific agent (capacity still applies). It follows the agent
// stream (an admin's stream carries every team's handoffs): rows appear, move and go as the
// handoffs change, and the agents' loads are read again after each change.

import { badge, duration, fill, h, words } from "./dom.js";
import { tierBadge, triggerBadge } from "./brief.js";
import { ordered } from "./queue.js";

/** The page while it is shown: its container and the agents as last read. */
let page = null;

export async function renderSupervisor(container, app) {
  fill(container, h("p", { class: "muted pad" }, "Loading…"));
  const { agents } = await app.api.get("/v1/admin/agents");
  page = { container, app, agents, chosen: new Map() };
  if (showing(app)) draw();
}

/** A stream frame changed the open handoffs: redraw, and read the agents' loads again soon. */
export function updateSupervisor(app) {
  if (!showing(app)) {
    page = null;
    return;
  }
  draw();
  clearTimeout(page.reload);
  page.reload = setTimeout(async () => {
    try {
      const { agents } = await app.api.get("/v1/admin/agents");
      // The supervisor may have moved to another page meanwhile.
      if (!showing(app)) return;
      page.agents = agents;
      draw();
    } catch {
      // The next change tries again.
    }
  }, 400);
}

/** Whether the supervisor page is the one on screen. */
function showing(app) {
  const here = location.hash.replace(/^#\/?/, "") === "supervisor";
  return Boolean(page && page.app === app && here && page.container.isConnected);
}

/** Places among the queued handoffs of each team, in queue order. */
function positions(list) {
  const places = new Map();
  const byTeam = new Map();
  for (const entry of list) {
    if (entry.status !== "queued") continue;
    const place = (byTeam.get(entry.team) || 0) + 1;
    byTeam.set(entry.team, place);
    places.set(entry.id, place);
  }
  return places;
}

function draw() {
  const { container, app, chosen } = page;
  const agents = page.agents.filter((a) => !a.disabled);
  const name = (id) => (page.agents.find((a) => a.id === id) || {}).name || id;
  const list = ordered([...app.handoffs.values()], null);
  const places = positions(list);
  // Keep the keyboard focus on the control it was on across a redraw.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr[data-handoff]");
  const focusedRole = focused && document.activeElement.dataset.role;
  const rows = list.map((entry) => {
    const current = chosen.get(entry.id) || entry.agent_id;
    const select = h(
      "select",
      { "aria-label": "Agent to reassign to", dataset: { role: "agent" }, onchange: (e) => chosen.set(entry.id, e.target.value) },
      agents.map((a) => h("option", { value: a.id, selected: a.id === current }, `${a.name} · ${a.presence} · ${a.active}/${a.capacity}`)),
    );
    const holder = entry.status === "assigned" ? name(entry.agent_id) : entry.status === "offered" ? `offered to ${name(entry.offer.agent_id)}` : "—";
    return h(
      "tr",
      { dataset: { handoff: entry.id } },
      h("td", {}, h("span", { class: `prio ${entry.priority}` }, entry.priority)),
      h("td", {}, (app.teams.get(entry.team) || {}).display_name || entry.team || "any"),
      h("td", {}, badge(entry.status, `status ${entry.status}`), places.has(entry.id) ? h("span", { class: "muted" }, ` #${places.get(entry.id)}`) : null),
      h("td", { class: "holder" }, holder),
      h("td", {}, h("span", { class: "wait", dataset: { since: entry.created_at } }, duration((Date.now() - Date.parse(entry.created_at)) / 1000))),
      h("td", {}, tierBadge(entry.tier), " ", entry.triggers.map(triggerBadge), " ", entry.issue_type ? badge(words(entry.issue_type), "issue") : null),
      h(
        "td",
        { class: "row-actions" },
        h("button", { class: "btn small", type: "button", dataset: { role: "open" }, onclick: () => app.openHandoff(entry.id) }, "Open"),
        select,
        h(
          "button",
          {
            class: "btn small reassign",
            type: "button",
            dataset: { role: "reassign" },
            onclick: async () => {
              try {
                await app.api.post(`/v1/agent/handoffs/${entry.id}/reassign`, { agent_id: select.value });
                chosen.delete(entry.id);
                app.toast(`Given to ${name(select.value)}.`);
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
      h("div", { class: "page-head" }, h("h1", {}, "All open handoffs"), h("span", { class: "muted small" }, "Updates live")),
      h("p", { class: "muted", id: "supervisor-summary" }, `${list.length} open · ${agents.filter((a) => a.presence === "online").length} agents online`),
      rows.length
        ? h(
            "table",
            { class: "grid", id: "supervisor-table" },
            h("thead", {}, h("tr", {}, ["Priority", "Team", "Status", "Agent", "Waiting", "Why", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, rows),
          )
        : h("p", { class: "empty" }, "No open handoffs."),
    ),
  );
  if (focused && focusedRole) {
    const again = container.querySelector(`tr[data-handoff="${focused.dataset.handoff}"] [data-role="${focusedRole}"]`);
    if (again) again.focus();
  }
}
