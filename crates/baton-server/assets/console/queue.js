// The queue column: the open handoffs the agent may see, offers to them first, then their
// own conversations, then the rest in queue order (priority, then waiting time). Each card
// says who is waiting (the customer's name, else "Visitor"), what they last wrote, for which
// team, and where the handoff stands; a waiting one of the agent's teams has a Take button.
//
// Cards never move under the agent's hand: while the pointer is over the list or the
// keyboard focus is in it, a change that would reorder or remove cards only updates the
// cards in place (a removed one is marked as gone), and the list is put in order when the
// pointer and the focus leave it.

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

/** Whether `me` (the agent's profile) may take `handoff` from the queue: a waiting one of their teams (any team for admins). */
export function takeable(handoff, me) {
  if (!handoff || handoff.status !== "queued" || !me) return false;
  return me.role === "admin" || !handoff.team || (me.teams || []).includes(handoff.team);
}

/** It waited past its team's wait target (its priority rose) and still waits. */
export function waitedTooLong(handoff) {
  return handoff.status !== "assigned" && (handoff.history || []).some((step) => step.step === "priority_raised");
}

/** Where the handoff stands, from its fields: "Waiting", "Offered to Sam", "Yours", "With Dana". */
function statusLine(handoff, me, agents) {
  const name = (id) => (agents.get(id) || {}).name || "an agent";
  switch (handoff.status) {
    case "offered":
      return handoff.offer && handoff.offer.agent_id === me ? "Offered to you" : `Offered to ${name(handoff.offer && handoff.offer.agent_id)}`;
    case "assigned":
      return handoff.agent_id === me ? "Yours" : `With ${name(handoff.agent_id)}`;
    default:
      return handoff.offline ? "Waiting (offline ticket)" : "Waiting";
  }
}

/** The queue list in `container`; `onSelect(id)` opens a handoff, `onTake(id)` takes it. */
export class QueueList {
  constructor(container, { onSelect, onTake }) {
    this.container = container;
    this.onSelect = onSelect;
    this.onTake = onTake;
    /** What to show, as last given. */
    this.data = null;
    /** The handoffs in the order the cards show them (for j/k). */
    this.order = [];
    /** A re-render waits for the pointer and the focus to leave. */
    this.deferred = false;
    const release = () => setTimeout(() => this.release(), 0);
    container.addEventListener("pointerleave", release);
    container.addEventListener("focusout", (e) => {
      if (!container.contains(e.relatedTarget)) release();
    });
  }

  /** The agent's hand is on the list: the pointer over it, or the keyboard focus in it. */
  held() {
    return this.container.matches(":hover") || this.container.contains(document.activeElement);
  }

  release() {
    if (this.deferred && !this.held() && this.data) this.show(this.data);
  }

  /**
   * Shows `{handoffs, me, agents, selected, teams, profile}` (`me`: the agent's id, `profile`:
   * their agent profile). Returns the order shown.
   */
  show(data) {
    this.data = data;
    const list = ordered(data.handoffs, data.me);
    const cards = [...this.container.querySelectorAll(".queue-item")];
    const shownIds = cards.map((card) => card.dataset.handoff);
    const sameOrder = shownIds.length === list.length && list.every((handoff, i) => handoff.id === shownIds[i]);
    if (sameOrder || (cards.length && this.held())) {
      this.inPlace(cards, list, data);
      this.deferred = !sameOrder;
    } else {
      this.deferred = false;
      this.order = list;
      this.renderAll(list, data);
    }
    return this.order;
  }

  renderAll(list, data) {
    if (!list.length) {
      fill(this.container, h("p", { class: "empty" }, "Nobody is waiting. New handoffs appear here as they arrive."));
      return;
    }
    fill(this.container, h("ul", { class: "queue-list", role: "listbox", "aria-label": "Open handoffs" }, list.map((handoff) => this.card(handoff, data))));
  }

  /** Updates the cards where they are; new ones go at the end, gone ones are marked. */
  inPlace(cards, list, data) {
    const byId = new Map(list.map((handoff) => [handoff.id, handoff]));
    const order = [];
    for (const old of cards) {
      const handoff = byId.get(old.dataset.handoff);
      if (handoff) {
        order.push(handoff);
        byId.delete(handoff.id);
        this.replace(old, this.card(handoff, data));
      } else if (!old.classList.contains("gone")) {
        old.classList.add("gone");
        old.classList.remove("selected");
        old.setAttribute("aria-disabled", "true");
        for (const take of old.querySelectorAll(".take")) take.remove();
        const status = old.querySelector(".qi-status");
        if (status) status.textContent = "No longer in your queue";
      }
    }
    const listEl = this.container.querySelector(".queue-list");
    for (const handoff of byId.values()) {
      order.push(handoff);
      listEl.append(this.card(handoff, data));
    }
    this.order = order;
  }

  replace(old, card) {
    if (old.isEqualNode(card)) return;
    const focused = old === document.activeElement;
    old.replaceWith(card);
    if (focused) card.focus();
  }

  card(handoff, data) {
    const { me, agents, selected, teams, profile } = data;
    const mine = (handoff.status === "offered" && handoff.offer && handoff.offer.agent_id === me) || (handoff.status === "assigned" && handoff.agent_id === me);
    const late = waitedTooLong(handoff);
    const team = (teams.get(handoff.team) || {}).display_name || handoff.team || "Any team";
    const who = handoff.customer_name || "Visitor";
    const preview = handoff.preview && handoff.preview.text;
    return h(
      "li",
      {
        class: `queue-item ${handoff.status}${handoff.id === selected ? " selected" : ""}${mine ? " mine" : ""}${late ? " overdue" : ""}`,
        role: "option",
        tabindex: handoff.id === selected ? "0" : "-1",
        "aria-selected": String(handoff.id === selected),
        dataset: { handoff: handoff.id },
        onclick: () => this.onSelect(handoff.id),
        onkeydown: (e) => {
          if (e.target === e.currentTarget && (e.key === "Enter" || e.key === " ")) {
            e.preventDefault();
            this.onSelect(handoff.id);
          }
        },
      },
      h(
        "div",
        { class: "qi-top" },
        h("span", { class: `prio ${handoff.priority}`, title: `${handoff.priority} priority` }, handoff.priority),
        h("span", { class: "who" }, who),
        h("span", { class: "wait", dataset: { since: handoff.created_at } }, duration((Date.now() - Date.parse(handoff.created_at)) / 1000)),
      ),
      preview ? h("div", { class: "qi-preview", title: preview }, preview) : null,
      h(
        "div",
        { class: "qi-badges" },
        late ? badge("Waited too long", "late") : null,
        tierBadge(handoff.tier),
        handoff.triggers.slice(0, 2).map(triggerBadge),
        handoff.issue_type ? badge(words(handoff.issue_type), "issue") : null,
      ),
      h(
        "div",
        { class: "qi-foot" },
        h("span", { class: "qi-team" }, team),
        h("span", { class: "qi-status" }, statusLine(handoff, me, agents)),
        takeable(handoff, profile)
          ? h(
              "button",
              {
                class: "btn small take",
                type: "button",
                tabindex: "-1",
                "aria-keyshortcuts": "p",
                title: "Take this conversation (p)",
                onclick: (e) => {
                  e.stopPropagation();
                  this.onTake(handoff.id);
                },
              },
              "Take",
            )
          : null,
      ),
    );
  }
}

/** Keeps the waiting times ticking without re-rendering. */
export function tickWaits(container) {
  for (const el of container.querySelectorAll(".wait[data-since]")) {
    el.textContent = duration((Date.now() - Date.parse(el.dataset.since)) / 1000);
  }
}
