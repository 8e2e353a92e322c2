// The conversation in the middle of the inbox: the offer (accept or decline, with the brief
// beside it) or a waiting handoff the agent may take from the queue, why it came here and what the customer needs, the transcript with internal
// notes and page activity, the reply box prefilled with the brief's opening line, and the
// actions that end the agent's part: transfer, hand back to the AI, resolve. The open
// conversation follows the agent stream live even when the agent does not hold it (a queued
// handoff previewed, or someone else's for a supervisor).

import { badge, clock, emphasis, fill, h, link, percent, words } from "./dom.js";
import { context, whyAndNeeds } from "./brief.js";

const STEP_WORDS = {
  queued: "Queued",
  offered: "Offered",
  declined: "Declined",
  offer_expired: "Offer expired",
  accepted: "Accepted",
  taken: "Taken from the queue",
  priority_raised: "Priority raised",
  released: "Released",
  transferred: "Transferred",
  reassigned: "Reassigned",
  resolved: "Resolved",
  handed_back: "Handed back",
  rated: "Rated",
  offline: "Offline ticket",
};

export class ConversationView {
  /**
   * `app` gives: api, me (agent), agents (Map id → agent), teams (Map name → team),
   * toast(text, kind), refresh() after an action.
   */
  constructor(app, main, side) {
    this.app = app;
    this.main = main;
    this.side = side;
    this.handoff = null;
    this.detail = null;
    this.seen = new Set();
    this.mode = "reply";
    this.timer = null;
    this.empty();
  }

  empty() {
    this.handoff = null;
    this.conversationId = null;
    this.app.watch(null);
    fill(this.main, h("div", { class: "placeholder" }, h("h2", {}, "No conversation open"), h("p", {}, "Pick one from the queue, or wait for an offer: it opens here with its brief. Keys: j/k move, a accept, d decline, p pick up, r reply, n note, t transfer, b hand back, e resolve, ? help.")));
    fill(this.side, h("p", { class: "muted pad" }, "The brief appears here."));
  }

  isOwner() {
    const handoff = this.handoff;
    return Boolean(handoff && handoff.status === "assigned" && (handoff.agent_id === this.app.me.id || this.app.me.role === "admin"));
  }

  /** A waiting handoff of the agent's teams, previewed: they may take it. */
  isTakeable() {
    return this.app.mayTake(this.handoff);
  }

  isOfferedToMe() {
    const handoff = this.handoff;
    return Boolean(handoff && handoff.status === "offered" && handoff.offer && handoff.offer.agent_id === this.app.me.id);
  }

  /** Opens a handoff: its brief, its conversation's timeline and the customer's history. */
  async show(handoffId, preloaded) {
    const api = this.app.api;
    this.seen = new Set();
    const detail = preloaded || (await api.get(`/v1/agent/handoffs/${handoffId}`));
    this.detail = detail;
    this.handoff = detail.handoff;
    this.conversationId = detail.handoff.conversation_id;
    this.mode = "reply";
    this.render();
    const id = this.conversationId;
    // Live from now on; `watching` reads again what came before the stream confirmed it.
    this.app.watch(id);
    const [events, history] = await Promise.all([
      this.allEvents(id),
      api.get(`/v1/agent/conversations/${id}/history`).catch(() => ({ conversations: [] })),
    ]);
    if (this.conversationId !== id) return;
    for (const event of events) this.addEvent(event);
    fill(this.side, context(detail.brief, history.conversations, { openEarlier: (c) => this.openEarlier(c) }));
    this.scrollDown();
  }

  /** The stream follows the conversation now: catch up on anything before that. */
  async watching(conversationId) {
    if (conversationId !== this.conversationId) return;
    const after = Math.max(0, ...this.seen);
    const page = await this.app.api.get(`/v1/agent/conversations/${conversationId}/events?after=${after}&limit=1000`).catch(() => ({ events: [] }));
    if (conversationId !== this.conversationId) return;
    for (const event of page.events) this.addEvent(event);
    if (page.events.length) this.scrollDown();
  }

  /** One of the customer's earlier conversations, read-only, in a dialog. */
  async openEarlier(conversation) {
    let events;
    try {
      events = await this.allEvents(conversation.id);
    } catch (error) {
      this.app.toast(error.message, "bad");
      return;
    }
    const log = h("div", { class: "transcript earlier-log", role: "log", "aria-label": "Earlier conversation", tabindex: "0" });
    for (const event of events) {
      const element = this.eventElement(event);
      if (element) log.append(element);
    }
    if (!log.children.length) log.append(h("p", { class: "muted" }, "Nothing was said in this conversation."));
    const close = h("button", { class: "btn primary", type: "submit", id: "earlier-close" }, "Close");
    const dialog = h(
      "dialog",
      { class: "dialog wide", id: "earlier-dialog", "aria-label": "Earlier conversation" },
      h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, `Earlier conversation · ${words(conversation.state)}`), h("p", { class: "muted small" }, `${conversation.id} · read-only`), log, h("div", { class: "dialog-buttons" }, close)),
    );
    document.body.append(dialog);
    dialog.addEventListener("close", () => dialog.remove());
    dialog.showModal();
    close.focus();
  }

  async allEvents(id) {
    const events = [];
    let after = 0;
    for (;;) {
      const page = await this.app.api.get(`/v1/agent/conversations/${id}/events?after=${after}&limit=1000`);
      events.push(...page.events);
      if (page.events.length < 1000) return events;
      after = page.next_after;
    }
  }

  /** A change to an open handoff arrived on the stream. */
  handoffChanged(handoff) {
    if (!this.handoff || handoff.id !== this.handoff.id) return;
    const wasOwner = this.isOwner();
    this.handoff = handoff;
    if (this.detail) this.detail.handoff = handoff;
    this.renderHeader();
    this.renderComposer(wasOwner !== this.isOwner());
  }

  /** The handoff left the agent's queue (transferred to a team they are not in). */
  async handoffLeft(handoffId, reason) {
    if (!this.handoff || this.handoff.id !== handoffId) return;
    this.app.toast(`This conversation left your queue: ${reason}`);
    try {
      const detail = await this.app.api.get(`/v1/agent/handoffs/${handoffId}`);
      this.handoffChanged(detail.handoff);
    } catch {
      // The header stays as it was; the next change updates it.
    }
  }

  /** An event of a conversation arrived on the stream. */
  event(conversationId, event) {
    if (conversationId !== this.conversationId) return;
    if (event.type === "message" && event.role === "customer") this.customerTyping(false);
    this.addEvent(event);
    this.scrollDown();
  }

  /** Transient notices: the customer typing shows under the transcript for a few seconds. */
  notice(conversationId, notice) {
    if (conversationId !== this.conversationId || notice.type !== "typing" || notice.role !== "customer") return;
    this.customerTyping(true);
  }

  customerTyping(on) {
    clearTimeout(this.typingTimer);
    if (this.typingLine) this.typingLine.hidden = !on;
    if (on) this.typingTimer = setTimeout(() => this.customerTyping(false), 5000);
  }

  /** While the owner writes a reply, the customer sees them typing (at most every 3 s). */
  typing() {
    if (this.mode !== "reply" || !this.isOwner() || !this.textarea.value.trim()) return;
    const now = Date.now();
    if (now - (this.typingSent || 0) < 3000) return;
    this.typingSent = now;
    this.app.api.post(`/v1/agent/conversations/${this.conversationId}/typing`).catch(() => {});
  }

  scrollDown() {
    if (this.log) this.log.scrollTop = this.log.scrollHeight;
  }

  render() {
    this.header = h("div", { class: "conv-header" });
    this.log = h("div", { class: "transcript", role: "log", "aria-label": "Transcript", tabindex: "0" });
    this.composer = h("div", { class: "composer-area" });
    this.typingLine = h("div", { class: "typing-line", role: "status", hidden: true }, "The customer is typing…");
    fill(this.main, this.header, whyAndNeeds(this.detail.brief, this.handoff, {
      teamName: (team) => (this.app.teams.get(team) || {}).display_name,
      staffName: (id) => this.app.staffName(id),
    }), this.log, this.typingLine, this.composer);
    fill(this.side, h("p", { class: "muted pad" }, "Loading the brief…"));
    this.renderHeader();
    this.renderComposer(true);
  }

  renderHeader() {
    const handoff = this.handoff;
    const brief = this.detail.brief;
    const customer = brief ? brief.customer.name || (brief.customer.anonymous ? "Anonymous visitor" : brief.customer.id) : handoff.conversation_id;
    const team = (this.app.teams.get(handoff.team) || {}).display_name || handoff.team || "any team";
    const actions = [];
    clearInterval(this.timer);
    if (this.isOfferedToMe()) {
      const left = h("span", { class: "countdown" });
      const tick = () => {
        const seconds = Math.max(0, Math.round((Date.parse(handoff.offer.expires_at) - Date.now()) / 1000));
        left.textContent = `expires in ${seconds} s`;
      };
      tick();
      this.timer = setInterval(tick, 1000);
      actions.push(
        h(
          "div",
          { class: "offer", role: "group", "aria-label": "Offer" },
          h("strong", {}, "Offered to you"),
          left,
          h("button", { class: "btn primary", type: "button", id: "accept", onclick: () => this.accept(), "aria-keyshortcuts": "a" }, "Accept (a)"),
          h("button", { class: "btn", type: "button", id: "decline", onclick: () => this.decline(), "aria-keyshortcuts": "d" }, "Decline (d)"),
        ),
      );
    } else if (this.isTakeable()) {
      actions.push(
        h(
          "div",
          { class: "offer waiting", role: "group", "aria-label": "Waiting in the queue" },
          h("strong", {}, handoff.offline ? "Waiting (offline ticket)" : "Waiting"),
          h("button", { class: "btn primary", type: "button", id: "take", onclick: () => this.take(), "aria-keyshortcuts": "p" }, "Take (p)"),
        ),
      );
    } else if (this.isOwner()) {
      actions.push(
        h("button", { class: "btn", type: "button", id: "transfer", onclick: () => this.transferDialog(), "aria-keyshortcuts": "t" }, "Transfer (t)"),
        h("button", { class: "btn", type: "button", id: "hand-back", onclick: () => this.handBackDialog(), "aria-keyshortcuts": "b" }, "Hand back to AI (b)"),
        h("button", { class: "btn primary", type: "button", id: "resolve", onclick: () => this.resolveDialog(), "aria-keyshortcuts": "e" }, "Resolve (e)"),
      );
    }
    const status = handoff.status === "closed" ? words(handoff.outcome || "closed") : handoff.status;
    fill(
      this.header,
      h(
        "div",
        { class: "conv-title" },
        h("h2", {}, customer),
        badge(status, `status ${handoff.status}`),
        h("span", { class: "muted" }, ` ${team} · ${handoff.priority} priority`),
        handoff.csat ? badge(`rated ${handoff.csat.score}/5`, "good") : null,
      ),
      h("div", { class: "conv-actions" }, actions),
    );
  }

  renderComposer(prefill) {
    const owner = this.isOwner();
    const closed = this.handoff.status === "closed";
    if (!prefill && this.textarea) {
      // Keep what the agent is typing; only the available modes change.
      this.replyTab.disabled = !owner;
      if (!owner && this.mode === "reply") this.setMode("note");
      return;
    }
    const opening = this.detail.brief ? this.detail.brief.opening_line : "";
    this.textarea = h("textarea", { id: "reply", rows: "4", "aria-label": "Message", placeholder: owner ? "Write to the customer…" : "Internal note for the team…" });
    if (owner && !this.agentSpoke()) this.textarea.value = opening;
    this.replyTab = h("button", { type: "button", role: "tab", class: "tab", id: "tab-reply", disabled: !owner, onclick: () => this.setMode("reply") }, "Reply");
    this.noteTab = h("button", { type: "button", role: "tab", class: "tab", id: "tab-note", onclick: () => this.setMode("note") }, "Internal note");
    this.sendButton = h("button", { class: "btn primary", type: "submit", id: "send" }, "Send");
    const form = h(
      "form",
      { class: "composer", onsubmit: (e) => { e.preventDefault(); this.send(); } },
      h("div", { class: "tabs", role: "tablist" }, this.replyTab, this.noteTab, h("span", { class: "hint" }, "Ctrl+Enter sends · Esc leaves the box")),
      this.textarea,
      h("div", { class: "composer-row" }, this.sendButton),
    );
    this.textarea.addEventListener("input", () => this.typing());
    this.textarea.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.send();
      } else if (e.key === "Escape") {
        // Back to the keys (a, e, j/k…) without the mouse.
        e.preventDefault();
        this.textarea.blur();
      }
    });
    fill(this.composer, closed ? h("p", { class: "muted" }, "This handoff is over. You can still leave an internal note.") : null, form);
    this.setMode(owner ? "reply" : "note");
  }

  agentSpoke() {
    return [...this.log.querySelectorAll(".ev.message.agent")].length > 0;
  }

  setMode(mode) {
    this.mode = mode;
    this.replyTab.setAttribute("aria-selected", String(mode === "reply"));
    this.noteTab.setAttribute("aria-selected", String(mode === "note"));
    this.composer.classList.toggle("note-mode", mode === "note");
    this.sendButton.textContent = mode === "reply" ? "Send reply" : "Add note";
    this.textarea.placeholder = mode === "reply" ? "Write to the customer…" : "Internal note for the team (the customer never sees it)…";
  }

  focusReply() {
    if (!this.textarea) return;
    if (this.isOwner() && this.mode !== "reply") this.setMode("reply");
    this.textarea.focus();
  }

  focusNote() {
    if (!this.textarea) return;
    this.setMode("note");
    this.textarea.focus();
  }

  async send() {
    const text = this.textarea.value.trim();
    if (!text) return;
    const path = `/v1/agent/conversations/${this.conversationId}/${this.mode === "reply" ? "messages" : "notes"}`;
    this.sendButton.disabled = true;
    try {
      const { event } = await this.app.api.post(path, { text });
      this.textarea.value = "";
      this.addEvent(event);
      this.scrollDown();
    } catch (error) {
      this.app.toast(error.message, "bad");
    } finally {
      this.sendButton.disabled = false;
      this.textarea.focus();
    }
  }

  async act(path, body, done) {
    try {
      const handoff = await this.app.api.post(`/v1/agent/handoffs/${this.handoff.id}/${path}`, body);
      this.handoff = handoff;
      this.detail.handoff = handoff;
      this.renderHeader();
      this.renderComposer(true);
      this.app.handoffUpdated(handoff);
      if (done) this.app.toast(done);
      return true;
    } catch (error) {
      this.app.toast(error.message, "bad");
      return false;
    }
  }

  async accept() {
    if (!this.isOfferedToMe()) return;
    if (await this.act("accept", {}, "Accepted: the customer sees that you joined.")) this.focusReply();
  }

  /** Takes the waiting handoff on screen from the queue; a refusal (409) says why. */
  async take() {
    if (!this.isTakeable()) return;
    if (await this.act("take", {}, "Taken: the customer sees that you joined.")) this.focusReply();
  }

  async decline() {
    if (!this.isOfferedToMe()) return;
    if (await this.act("decline", {}, "Declined: it goes to the next agent.")) this.empty();
  }

  /** A small modal form; resolves with the form's values, or null when cancelled. */
  dialog(title, fields, submitLabel) {
    return new Promise((resolve) => {
      const form = h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, title), fields, h("div", { class: "dialog-buttons" }, h("button", { class: "btn", value: "cancel", type: "submit", formnovalidate: true }, "Cancel"), h("button", { class: "btn primary", value: "ok", type: "submit", id: "dialog-ok" }, submitLabel)));
      const dialog = h("dialog", { class: "dialog" }, form);
      // Enter in a one-line field (Ctrl+Enter anywhere) confirms; the first button is Cancel.
      form.addEventListener("keydown", (e) => {
        const field = e.target instanceof HTMLInputElement || (e.target instanceof HTMLTextAreaElement && (e.ctrlKey || e.metaKey));
        if (e.key === "Enter" && field) {
          e.preventDefault();
          form.requestSubmit(form.querySelector("#dialog-ok"));
        }
      });
      document.body.append(dialog);
      dialog.addEventListener("close", () => {
        const ok = dialog.returnValue === "ok";
        const values = Object.fromEntries(new FormData(form).entries());
        dialog.remove();
        resolve(ok ? values : null);
      });
      dialog.showModal();
    });
  }

  async transferDialog() {
    if (!this.isOwner()) return;
    const options = [...this.app.teams.values()].filter((t) => t.name !== this.handoff.team).map((t) => h("option", { value: t.name }, t.display_name));
    if (!options.length) return this.app.toast("The policy declares no other team.", "bad");
    const values = await this.dialog("Transfer to another team", [h("label", { for: "transfer-team" }, "Team"), h("select", { id: "transfer-team", name: "team" }, options), h("label", { for: "transfer-note" }, "Note for the next person"), h("textarea", { id: "transfer-note", name: "note", rows: "3" })], "Transfer");
    if (values) await this.act("transfer", { team: values.team, note: values.note || undefined }, "Transferred.");
  }

  async handBackDialog() {
    if (!this.isOwner()) return;
    const values = await this.dialog("Hand back to the AI", [h("label", { for: "handback-note" }, "Note (optional)"), h("textarea", { id: "handback-note", name: "note", rows: "3" })], "Hand back");
    if (values) await this.act("hand-back", { note: values.note || undefined }, "Handed back to the AI.");
  }

  async resolveDialog() {
    if (!this.isOwner()) return;
    const values = await this.dialog(
      "Resolve",
      [
        h("label", { for: "resolve-note" }, "What was done"),
        h("textarea", { id: "resolve-note", name: "note", rows: "3", placeholder: "For the record and the knowledge base" }),
        h("label", { for: "resolve-tags" }, "Tags (comma-separated)"),
        h("input", { id: "resolve-tags", name: "tags", placeholder: "billing, invoice" }),
      ],
      "Resolve",
    );
    if (!values) return;
    const tags = String(values.tags || "").split(",").map((t) => t.trim()).filter(Boolean);
    await this.act("resolve", { note: values.note || undefined, tags }, "Resolved: the customer is asked to rate the conversation.");
  }

  /** Shows one timeline event in `seq` order, once. */
  addEvent(event) {
    if (this.seen.has(event.seq)) return;
    this.seen.add(event.seq);
    if (event.type === "ai_reply") {
      this.pendingReplies = this.pendingReplies || new Map();
      const target = this.log.querySelector(`[data-seq="${event.message_seq}"]`);
      if (target) target.append(aiDetails(event));
      else this.pendingReplies.set(event.message_seq, event);
      return;
    }
    const element = this.eventElement(event);
    if (!element) return;
    element.dataset.seq = String(event.seq);
    let before = null;
    for (const child of this.log.children) {
      if (Number(child.dataset.seq) > event.seq) {
        before = child;
        break;
      }
    }
    this.log.insertBefore(element, before);
    const reply = this.pendingReplies && this.pendingReplies.get(event.seq);
    if (reply) element.append(aiDetails(reply));
    if (event.type === "message" && event.role === "agent" && this.textarea && this.textarea.value === (this.detail.brief || {}).opening_line) {
      this.textarea.value = "";
    }
  }

  eventElement(event) {
    const time = h("time", { datetime: event.at }, clock(event.at));
    switch (event.type) {
      case "message": {
        const who = { customer: "Customer", ai: "AI", agent: event.author || "Agent", system: "Baton" }[event.role];
        return h(
          "div",
          { class: `ev message ${event.role}` },
          h("div", { class: "ev-meta" }, h("span", { class: "who" }, who), time),
          h("div", { class: "text" }, event.role === "ai" ? emphasis(event.text) : event.text),
          event.articles && event.articles.length ? h("div", { class: "cites" }, "Cites: ", event.articles.map((a) => link(a.url, a.title))) : null,
          event.choices && event.choices.length ? h("div", { class: "cites" }, "Offered: ", event.choices.map((a) => a.title).join(" / ")) : null,
        );
      }
      case "note": {
        const author = this.app.staffName(event.author);
        return h("div", { class: "ev note" }, h("div", { class: "ev-meta" }, h("span", { class: "who", dataset: { author: event.author } }, `Note · ${author}`), time), h("div", { class: "text" }, event.text));
      }
      case "page_event": {
        const what = { page_view: "Viewed", click: "Clicked", error: "Error", action: "Action" }[event.kind] || event.kind;
        return h("div", { class: `ev line page ${event.kind}` }, time, " ", badge(what, event.kind === "error" ? "bad" : ""), " ", event.label || "", event.url ? [" ", link(event.url, shortPath(event.url))] : null, event.detail ? h("span", { class: "detail" }, ` — ${event.detail}`) : null);
      }
      case "conversation_started":
        return h("div", { class: "ev line" }, time, " Conversation started", event.page && event.page.url ? [" on ", link(event.page.url, shortPath(event.page.url))] : null);
      case "handoff":
        return h("div", { class: "ev line handoff" }, time, " ", badge(STEP_WORDS[event.step] || words(event.step)), ` ${event.reason}`);
      case "decision":
        if (!event.decision || event.decision.action !== "escalate") return null;
        return h("div", { class: "ev line decision" }, time, " ", badge("Escalate", "warn"), ` ${event.decision.explanation || event.decision.triggers.map((t) => words(t.kind)).join(", ")}`);
      case "rating":
        return h("div", { class: "ev line rating" }, time, " ", badge(`Rated ${event.score}/5`, event.score >= 4 ? "good" : event.score <= 2 ? "bad" : ""), event.comment ? h("q", {}, event.comment) : null);
      case "feedback":
        return h("div", { class: "ev line" }, time, ` Customer found answer #${event.message_seq} `, badge(event.helpful ? "helpful" : "not helpful", event.helpful ? "good" : "bad"));
      default:
        return null;
    }
  }
}

function aiDetails(reply) {
  return h(
    "div",
    { class: "ai-details" },
    badge(words(reply.kind)),
    " ",
    reply.confidence === undefined || reply.confidence === null ? null : badge(`confidence ${percent(reply.confidence)}`, reply.confidence < 0.3 ? "bad" : ""),
    h("span", { class: "muted" }, ` ${reply.reasoning || ""}`),
  );
}

function shortPath(url) {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}
