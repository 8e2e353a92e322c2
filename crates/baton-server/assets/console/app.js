// The agent console: sign in with an API key, then the inbox (queue on the left, the
// conversation in the middle, the brief on the right) kept live by the agent stream, and for
// admins the supervisor view (live too) and the admin pages. Keyboard first: j/k move through
// the queue, a accepts, d declines, p picks up (takes) a waiting conversation, r replies,
// n writes a note, t transfers, b hands back, e resolves, Esc leaves the message box, ? shows
// the keys.
//
// The stream keeps every console true without a reload: offers, each change to a handoff on
// the agent's queue (a closed one leaves it), handoffs that left it (transferred to a team
// the agent is not in), the customer's latest message on each card, supervisors' alerts
// about handoffs that waited too long, and Baton changing the agent's own presence.

import { Api, forgetKey, savedKey } from "./api.js";
import { fill, h, typing } from "./dom.js";
import * as alerts from "./alerts.js";
import { QueueList, tickWaits, takeable } from "./queue.js";
import { ConversationView } from "./conversation.js";
import { renderSupervisor, updateSupervisor } from "./supervisor.js";
import { renderAgents, renderKnowledge, renderPolicy } from "./admin.js";

const root = document.getElementById("app");

const app = {
  api: null,
  /** The signed-in agent (profile, presence, load). */
  me: null,
  /** Open handoffs on the agent's queue by id, as the stream reports them (with `preview`). */
  handoffs: new Map(),
  /** Briefs that came with offers, by handoff id. */
  offers: new Map(),
  /** Staff by id: every profile for admins, names (and the agent's own profile) for agents. */
  agents: new Map(),
  teams: new Map(),
  selected: null,
  alerted: new Set(),
  /** The queue column while the inbox is shown. */
  queue: null,
  /** The agent stream: `send(frame)`, `stop()`. */
  stream: null,
  view: null,

  toast(text, kind = "") {
    const area = document.getElementById("toasts");
    if (!area) return;
    const note = h("div", { class: `toast ${kind}`, role: kind === "bad" ? "alert" : "status" }, text);
    area.append(note);
    setTimeout(() => note.remove(), 5000);
  },

  /** An action changed a handoff: update the queue at once (the stream confirms later). */
  handoffUpdated(handoff) {
    upsert(handoff);
    renderInboxQueue();
    refreshMe();
  },

  /** Whether the agent may take this handoff from the queue (a waiting one of their teams). */
  mayTake(handoff) {
    return takeable(handoff, app.me);
  },

  openHandoff(id) {
    app.selected = id;
    if (location.hash !== "#/inbox") location.hash = "#/inbox";
    else route();
  },

  /** Follow a conversation's events live while it is open (null: none but those held). */
  watch(conversationId) {
    if (app.stream) app.stream.send({ type: "watch", conversation_id: conversationId });
  },

  /** A name for a staff id; unknown ids (new colleagues) are looked up once. */
  staffName(id) {
    const known = app.agents.get(id);
    if (known) return known.name;
    if (id === app.me.id) return app.me.name;
    if (!app.lookedUp) {
      app.lookedUp = loadAgents().then(() => {
        for (const el of document.querySelectorAll("[data-author]")) {
          const agent = app.agents.get(el.dataset.author);
          if (agent) el.textContent = `Note · ${agent.name}`;
        }
      });
    }
    return "Staff";
  },

  /** An admin replaced the signed-in person's own key: keep going with the new one. */
  rekey(key) {
    app.api.key = key;
    app.api.remember();
  },
};

// ---- Sign-in ------------------------------------------------------------------------------

function signInScreen(message) {
  const key = h("input", { id: "key", type: "password", autocomplete: "off", required: true, placeholder: "bk_…", spellcheck: "false" });
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (e) => {
        e.preventDefault();
        alerts.unlock();
        const api = new Api(key.value.trim());
        try {
          const me = await api.get("/v1/agent/me");
          api.remember();
          start(api, me);
        } catch (err) {
          fill(error, err.status === 401 ? "That key is not valid (or the account is disabled)." : err.message);
        }
      },
    },
    h("img", { src: "/console/icon.svg", alt: "", width: "40", height: "40" }),
    h("h1", {}, "Baton console"),
    h("label", { for: "key" }, "Your API key"),
    key,
    h("button", { class: "btn primary", type: "submit", id: "sign-in" }, "Sign in"),
    error,
    h("p", { class: "muted small" }, "An admin creates your key (baton admin create-agent, or Agents in this console). It is kept in this tab only."),
  );
  fill(root, h("main", { class: "signin-page" }, form));
  key.focus();
}

async function start(api, me) {
  app.api = api;
  app.me = { ...me.agent };
  const policy = await api.get("/v1/policy").catch(() => null);
  app.teams = new Map(((policy && policy.policy.teams) || []).map((t) => [t.name, t]));
  await loadAgents();
  shell();
  app.stream = api.stream(
    onFrame,
    (up) => {
      const live = document.getElementById("live");
      if (live) {
        live.textContent = up ? "Live" : "Reconnecting…";
        live.className = `live ${up ? "up" : "down"}`;
      }
    },
    revoked,
  );
  setInterval(() => {
    const waits = document.getElementById("queue") || document.getElementById("supervisor-table");
    if (waits) tickWaits(waits);
  }, 1000);
  // Sound needs a gesture after a reload that skipped the sign-in form.
  document.addEventListener("click", alerts.unlock, { once: true });
  addEventListener("hashchange", route);
  route();
}

async function loadAgents() {
  if (app.me.role !== "admin") {
    const { staff } = await app.api.get("/v1/agent/staff").catch(() => ({ staff: [] }));
    app.agents = new Map(staff.map((s) => [s.id, s]));
    app.agents.set(app.me.id, app.me);
    return;
  }
  const { agents } = await app.api.get("/v1/admin/agents");
  app.agents = new Map(agents.map((a) => [a.id, a]));
}

function signOut() {
  if (app.stream) app.stream.stop();
  forgetKey();
  location.hash = "";
  location.reload();
}

/** The key stopped working (account disabled or key replaced): back to the sign-in form. */
function revoked() {
  app.api = null;
  app.view = null;
  forgetKey();
  alerts.titleCount(0);
  signInScreen("You were signed out: your account was disabled or your key was replaced. Sign in with a current key.");
}

// ---- Shell --------------------------------------------------------------------------------

function shell() {
  const admin = app.me.role === "admin";
  const nav = [
    ["#/inbox", "Inbox"],
    ...(admin ? [["#/supervisor", "Supervisor"], ["#/agents", "Agents"], ["#/kb", "Knowledge base"]] : []),
    ["#/policy", "Policy"],
  ];
  const presence = h(
    "select",
    { id: "presence", "aria-label": "Your presence" },
    ["online", "away", "offline"].map((p) => h("option", { value: p, selected: app.me.presence === p }, p[0].toUpperCase() + p.slice(1))),
  );
  const capacity = h("input", { id: "capacity", type: "number", min: "1", max: "50", value: String(app.me.capacity ?? 3), class: "capacity", "aria-label": "Your capacity: conversations at once", title: "Conversations you take at once (1–50)" });
  capacity.addEventListener("change", async () => {
    // Cleared to type a new number: wait for it.
    if (capacity.value.trim() === "") return;
    const value = Number(capacity.value);
    try {
      app.me = { ...(await app.api.put("/v1/agent/capacity", { capacity: value })) };
      updateMe();
      app.toast(`You take up to ${app.me.capacity} conversations at once.`);
    } catch (error) {
      capacity.value = String(app.me.capacity);
      app.toast(error.message, "bad");
    }
  });
  presence.addEventListener("change", async () => {
    try {
      app.me = { ...(await app.api.put("/v1/agent/presence", { presence: presence.value })) };
      updateMe();
      app.toast(presence.value === "online" ? "You're online: offers come to you." : `You're ${presence.value}.`);
    } catch (error) {
      app.toast(error.message, "bad");
    }
  });
  fill(
    root,
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/inbox" }, h("img", { src: "/console/icon.svg", alt: "", width: "24", height: "24" }), "Baton"),
      h("nav", { "aria-label": "Console" }, nav.map(([href, label]) => h("a", { href, dataset: { nav: href } }, label))),
      h("span", { class: "spacer" }),
      h("span", { id: "live", class: "live down", role: "status" }, "Connecting…"),
      h("span", { class: `presence-dot ${app.me.presence}`, id: "presence-dot", "aria-hidden": "true" }),
      presence,
      h("span", { id: "load", class: "load", title: "Conversations you hold / your capacity" }),
      h("label", { class: "capacity-label", for: "capacity" }, "max"),
      capacity,
      h("span", { class: "me" }, app.me.name),
      h("button", { class: "btn small", type: "button", id: "sign-out", onclick: signOut }, "Sign out"),
    ),
    h("div", { id: "presence-note", class: "presence-note", role: "alert", hidden: true }),
    h("div", { id: "view", class: "view" }),
    h("div", { id: "toasts", class: "toasts" }),
  );
  updateMe();
}

const PRESENCE_WORDS = { online: "Online", away: "Away", offline: "Offline" };

/**
 * When Baton changed the agent's presence (they let offers lapse), a line under the top bar
 * says so and why until they set their presence themselves.
 */
function presenceNote() {
  const note = document.getElementById("presence-note");
  if (!note) return;
  const reason = app.me.presence_reason;
  if (!reason || app.me.presence === "online") {
    note.hidden = true;
    note.replaceChildren();
    return;
  }
  const text = `You were set to ${PRESENCE_WORDS[app.me.presence] || app.me.presence}: you ${reason}. Set yourself Online when you're back.`;
  if (!note.hidden && note.dataset.text === text) return;
  note.dataset.text = text;
  fill(
    note,
    h("span", {}, text),
    h(
      "button",
      {
        class: "btn small",
        type: "button",
        id: "go-online",
        onclick: () => {
          const select = document.getElementById("presence");
          if (!select) return;
          select.value = "online";
          select.dispatchEvent(new Event("change"));
        },
      },
      "Go online",
    ),
  );
  note.hidden = false;
}

function updateMe() {
  const load = document.getElementById("load");
  if (load) load.textContent = `${app.me.active ?? 0}/${app.me.capacity ?? "?"}`;
  const dot = document.getElementById("presence-dot");
  if (dot) dot.className = `presence-dot ${app.me.presence}`;
  const select = document.getElementById("presence");
  if (select && select.value !== app.me.presence) select.value = app.me.presence;
  const capacity = document.getElementById("capacity");
  if (capacity && document.activeElement !== capacity && app.me.capacity) capacity.value = String(app.me.capacity);
  if (app.agents.has(app.me.id)) app.agents.set(app.me.id, { ...app.agents.get(app.me.id), ...app.me });
  presenceNote();
}

let meTimer = null;
function refreshMe() {
  clearTimeout(meTimer);
  meTimer = setTimeout(async () => {
    try {
      const me = await app.api.get("/v1/agent/me");
      app.me = { ...me.agent };
      updateMe();
    } catch {
      // The stream's reconnect will catch up.
    }
  }, 300);
}

// ---- Routing between pages ----------------------------------------------------------------

async function route() {
  const page = location.hash.replace(/^#\/?/, "") || "inbox";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === `#/${page}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const view = document.getElementById("view");
  if (!view) return;
  try {
    if (page === "inbox") return inbox(view);
    if (app.view) app.watch(null);
    app.view = null;
    view.className = "view page-view";
    if (page === "supervisor") await renderSupervisor(view, app);
    else if (page === "agents") await renderAgents(view, app);
    else if (page === "kb") await renderKnowledge(view, app);
    else if (page === "policy") await renderPolicy(view, app);
    else fill(view, h("p", { class: "pad" }, "No such page."));
  } catch (error) {
    fill(view, h("p", { class: "error pad", role: "alert" }, error.message));
  }
}

function inbox(view) {
  view.className = "view inbox";
  const queue = h("div", { id: "queue", class: "queue-body" });
  const main = h("section", { id: "conversation", class: "conversation", "aria-label": "Conversation" });
  const side = h("aside", { id: "brief", class: "brief", "aria-label": "Brief" });
  fill(
    view,
    h("aside", { class: "queue", "aria-label": "Queue" }, h("h2", { class: "col-title" }, "Queue"), queue),
    main,
    side,
  );
  app.view = new ConversationView(app, main, side);
  app.queue = new QueueList(queue, { onSelect: (id) => select(id), onTake: (id) => take(id) });
  renderInboxQueue();
  if (app.selected) select(app.selected);
}

function renderInboxQueue() {
  const container = document.getElementById("queue");
  if (container && app.queue && app.queue.container === container) {
    app.order = app.queue.show({
      handoffs: [...app.handoffs.values()],
      me: app.me.id,
      profile: app.me,
      agents: app.agents,
      selected: app.selected,
      teams: app.teams,
    });
  }
  const offers = [...app.handoffs.values()].filter((x) => x.status === "offered" && x.offer && x.offer.agent_id === app.me.id).length;
  alerts.titleCount(offers);
}

async function select(id) {
  app.selected = id;
  renderInboxQueue();
  if (!app.view) return;
  try {
    await app.view.show(id, app.offers.get(id));
  } catch (error) {
    app.toast(error.message, "bad");
  }
}

/** The Take button of a queue card: open the handoff, then take it. */
async function take(id) {
  if (app.selected !== id || !app.view || !app.view.handoff || app.view.handoff.id !== id) await select(id);
  if (app.view) await app.view.take();
}

// ---- The agent stream ---------------------------------------------------------------------

/**
 * A handoff as it now stands: a closed one leaves the queue; an open one keeps the preview
 * of its customer's last message (changes carry the bare handoff).
 */
function upsert(handoff) {
  if (handoff.status === "closed") {
    forget(handoff.id);
    return;
  }
  const known = app.handoffs.get(handoff.id);
  const preview = handoff.preview || (known && known.preview);
  app.handoffs.set(handoff.id, { ...handoff, preview });
  // New on the queue: its card shows what the customer wrote as soon as the queue says.
  if (!preview && !previewAsked.has(handoff.id)) {
    previewAsked.add(handoff.id);
    fillPreviews();
  }
}

/** Handoffs whose preview was asked for once already. */
const previewAsked = new Set();
let previewTimer = null;
/** Reads the queue once for the previews of cards that have none yet (debounced). */
function fillPreviews() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    let queue;
    try {
      queue = await app.api.get("/v1/agent/queue");
    } catch {
      return;
    }
    let changed = false;
    for (const entry of queue.handoffs || []) {
      const known = app.handoffs.get(entry.id);
      if (known && !known.preview && entry.preview) {
        app.handoffs.set(entry.id, { ...known, preview: entry.preview });
        changed = true;
      }
    }
    if (changed) renderInboxQueue();
  }, 300);
}

/** A handoff is off the agent's queue. */
function forget(id) {
  app.handoffs.delete(id);
  app.offers.delete(id);
}

function onFrame(frame) {
  switch (frame.type) {
    case "hello":
      if (frame.agent) app.me = { ...frame.agent };
      app.handoffs = new Map((frame.queue || []).map((x) => [x.id, x]));
      updateMe();
      renderInboxQueue();
      updateSupervisor(app);
      // After a reconnect: follow the open conversation again.
      if (app.view && app.view.conversationId) app.watch(app.view.conversationId);
      for (const handoff of app.handoffs.values()) {
        if (handoff.status === "offered" && handoff.offer.agent_id === app.me.id) offered(handoff, null);
      }
      break;
    case "offer":
      app.offers.set(frame.handoff.id, { handoff: frame.handoff, brief: frame.brief, brief_text: frame.brief_text });
      upsert(frame.handoff);
      renderInboxQueue();
      offered(frame.handoff, frame.brief);
      break;
    case "handoff":
      upsert(frame.handoff);
      if (app.offers.has(frame.handoff.id)) app.offers.get(frame.handoff.id).handoff = frame.handoff;
      if (app.view) app.view.handoffChanged(frame.handoff);
      renderInboxQueue();
      updateSupervisor(app);
      if (frame.handoff.agent_id === app.me.id || (frame.handoff.offer && frame.handoff.offer.agent_id === app.me.id) || frame.step === "offered") refreshMe();
      if (frame.step === "reassigned" && frame.handoff.status === "assigned" && frame.handoff.agent_id === app.me.id) givenToMe(frame.handoff, frame.reason);
      break;
    case "handoff_left":
      // Transferred to a team the agent is not in: off their queue.
      forget(frame.handoff_id);
      if (app.view) app.view.handoffLeft(frame.handoff_id, frame.reason);
      renderInboxQueue();
      updateSupervisor(app);
      break;
    case "preview":
      for (const handoff of app.handoffs.values()) {
        if (handoff.conversation_id === frame.conversation_id) app.handoffs.set(handoff.id, { ...handoff, preview: frame.preview });
      }
      renderInboxQueue();
      break;
    case "alert":
      if (frame.kind === "waited_too_long") waitedTooLongAlert(frame.handoff, frame.reason);
      break;
    case "presence":
      if (frame.agent) {
        app.me = { ...frame.agent };
        updateMe();
        renderInboxQueue();
      }
      break;
    case "event":
      if (app.view) app.view.event(frame.conversation_id, frame.event);
      break;
    case "watching":
      if (app.view) app.view.watching(frame.conversation_id);
      break;
    case "notice":
      if (app.view && app.view.notice) app.view.notice(frame.conversation_id, frame.notice);
      break;
    default:
      break;
  }
}

/** A new offer: sound, a desktop notification, and open it when nothing else is open. */
function offered(handoff, brief) {
  // Once per offer: the same handoff may come back to this agent later (a transfer, a
  // declined offer routed again).
  const key = `${handoff.id} offered ${handoff.offer.offered_at}`;
  if (app.alerted.has(key)) return;
  app.alerted.add(key);
  const team = (app.teams.get(handoff.team) || {}).display_name || handoff.team || "Support";
  alertAgent(handoff, `New conversation for ${team}`, brief ? brief.needs : handoff.route_reason, `New offer for ${team}: open the inbox to accept.`);
}

/** For supervisors: a handoff waited past its team's wait target and its priority rose. */
function waitedTooLongAlert(handoff, reason) {
  const key = `${handoff.id} late ${handoff.priority}`;
  if (app.alerted.has(key)) return;
  app.alerted.add(key);
  if (handoff.status !== "closed") upsert(handoff);
  renderInboxQueue();
  updateSupervisor(app);
  const team = (app.teams.get(handoff.team) || {}).display_name || handoff.team || "any team";
  const who = handoff.customer_name || "A visitor";
  alerts.beep();
  app.toast(`Waited too long: ${who} (${team}) — ${reason}`, "warn");
}

/** A supervisor gave this agent a conversation: it is theirs already, so it alerts like an offer. */
function givenToMe(handoff, reason) {
  const key = `${handoff.id} given ${handoff.history.length}`;
  if (app.alerted.has(key)) return;
  app.alerted.add(key);
  alertAgent(handoff, "A conversation was given to you", reason || handoff.route_reason, `${reason || "A conversation was given to you"}: it is in your inbox.`);
}

/** Sound always; a desktop notification when the console is not in front; open it when free. */
function alertAgent(handoff, title, body, toast) {
  alerts.beep();
  alerts.notify(title, body, () => app.openHandoff(handoff.id));
  const current = app.selected && app.handoffs.get(app.selected);
  const busy = current && current.id !== handoff.id && current.status === "assigned" && current.agent_id === app.me.id;
  if (["", "inbox"].includes(location.hash.replace(/^#\/?/, "")) && !busy) select(handoff.id);
  else app.toast(toast);
}

// ---- Keyboard -----------------------------------------------------------------------------

document.addEventListener("keydown", (e) => {
  if (!app.api || e.altKey || e.ctrlKey || e.metaKey || typing(e)) return;
  if (document.querySelector("dialog[open]")) return;
  const inboxOpen = Boolean(document.getElementById("queue"));
  const move = (step) => {
    const order = app.order || [];
    if (!order.length) return;
    const at = order.findIndex((x) => x.id === app.selected);
    const next = order[Math.min(order.length - 1, Math.max(0, at + step))];
    select(next.id).then(() => {
      const item = document.querySelector(`[data-handoff="${next.id}"]`);
      if (item) item.focus();
    });
  };
  switch (e.key) {
    case "j":
    case "ArrowDown":
      if (inboxOpen && !(e.target instanceof HTMLSelectElement)) {
        e.preventDefault();
        move(1);
      }
      break;
    case "k":
    case "ArrowUp":
      if (inboxOpen) {
        e.preventDefault();
        move(-1);
      }
      break;
    case "a":
      if (app.view) app.view.accept();
      break;
    case "d":
      if (app.view) app.view.decline();
      break;
    case "p":
      if (app.view) app.view.take();
      break;
    case "r":
      if (app.view) {
        e.preventDefault();
        app.view.focusReply();
      }
      break;
    case "e":
      if (app.view) app.view.resolveDialog();
      break;
    case "n":
      if (app.view) {
        e.preventDefault();
        app.view.focusNote();
      }
      break;
    case "t":
      if (app.view) app.view.transferDialog();
      break;
    case "b":
      if (app.view) app.view.handBackDialog();
      break;
    case "?":
      help();
      break;
    default:
      break;
  }
});

function help() {
  const dialog = h(
    "dialog",
    { class: "dialog" },
    h(
      "form",
      { method: "dialog", class: "dialog-form" },
      h("h2", {}, "Keyboard"),
      h(
        "dl",
        { class: "keys" },
        [["j / ↓", "next in the queue"], ["k / ↑", "previous"], ["a", "accept the offer"], ["d", "decline the offer"], ["p", "pick up (take) a waiting conversation"], ["r", "write a reply"], ["n", "write an internal note"], ["Ctrl+Enter", "send (or confirm a dialog)"], ["Esc", "leave the message box"], ["t", "transfer to another team"], ["b", "hand back to the AI"], ["e", "resolve"], ["?", "this help"]].map(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)]),
      ),
      h("div", { class: "dialog-buttons" }, h("button", { class: "btn primary", type: "submit" }, "Close")),
    ),
  );
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}

// ---- Start --------------------------------------------------------------------------------

(async () => {
  const key = savedKey();
  if (!key) return signInScreen();
  const api = new Api(key);
  try {
    start(api, await api.get("/v1/agent/me"));
  } catch (error) {
    forgetKey();
    signInScreen(error.status === 401 ? "Your key no longer works; sign in again." : error.message);
  }
})();
