// The queue column: the open handoffs the agent may see, offers to them first, then their
// own conversations, then the rest in queue order (priority, then waiting time).

import { badge, duration, fill, h, words } from "./dom.js";
import { tierBadge, triggerBadge } from "./brief.js";

const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };

/** Orders the queue the way an agent works it. */
export function ordered(handoffs, me) {
  const group = (handoff) => {
    if (handoff.status === "offered" && handoff.offer && handoff.offer.agent_id === me) return 0;
    if (handoff.status === "assigned" && handoff.agent_id === me) return 1;
    if (handoff.status === "queued") return 2;
    return 3;
  };
  return [...handoffs].sort(
    (a, b) =>
      group(a) - group(b) ||
      (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) ||
      Date.parse(a.created_at) - Date.parse(b.created_at),
  );
}

function statusLine(handoff, me, agents) {
  const name = (id) => (id === me ? "you" : (agents.get(id) || {}).name || "an agent");
  switch (handoff.status) {
    case "offered":
      return handoff.offer.agent_id === me ? "Offered to you" : `Offered to ${name(handoff.offer.agent_id)}`;
    case "assigned":
      return handoff.agent_id === me ? "Yours" : `With ${name(handoff.agent_id)}`;
    default:
      return handoff.offline ? "Waiting (offline ticket)" : "Waiting";
  }
}

/** Renders the list; `onSelect(id)` when the agent opens one. */
export function renderQueue(container, { handoffs, me, agents, selected, teams, onSelect }) {
  const list = ordered(handoffs, me);
  if (!list.length) {
    fill(container, h("p", { class: "empty" }, "Nobody is waiting. New handoffs appear here as they arrive."));
    return list;
  }
  fill(
    container,
    h(
      "ul",
      { class: "queue-list", role: "listbox", "aria-label": "Open handoffs" },
      list.map((handoff) => {
        const mine = (handoff.status === "offered" && handoff.offer.agent_id === me) || (handoff.status === "assigned" && handoff.agent_id === me);
        return h(
          "li",
          {
            class: `queue-item ${handoff.status}${handoff.id === selected ? " selected" : ""}${mine ? " mine" : ""}`,
            role: "option",
            tabindex: handoff.id === selected ? "0" : "-1",
            "aria-selected": String(handoff.id === selected),
            dataset: { handoff: handoff.id },
            onclick: () => onSelect(handoff.id),
            onkeydown: (e) => {
              if (e.key === "Enter" || e.key === " ") {
                e.preventDefault();
                onSelect(handoff.id);
              }
            },
          },
          h(
            "div",
            { class: "qi-top" },
            h("span", { class: `prio ${handoff.priority}`, title: `${handoff.priority} priority` }, handoff.priority),
            h("span", { class: "team" }, (teams.get(handoff.team) || {}).display_name || handoff.team || "Any team"),
            h("span", { class: "wait", dataset: { since: handoff.created_at } }, duration((Date.now() - Date.parse(handoff.created_at)) / 1000)),
          ),
          h("div", { class: "qi-badges" }, tierBadge(handoff.tier), handoff.triggers.slice(0, 2).map(triggerBadge), handoff.issue_type ? badge(words(handoff.issue_type), "issue") : null),
          h("div", { class: "qi-status" }, statusLine(handoff, me, agents)),
        );
      }),
    ),
  );
  return list;
}

/** Keeps the waiting times ticking without re-rendering. */
export function tickWaits(container) {
  for (const el of container.querySelectorAll(".wait[data-since]")) {
    el.textContent = duration((Date.now() - Date.parse(el.dataset.since)) / 1000);
  }
}
