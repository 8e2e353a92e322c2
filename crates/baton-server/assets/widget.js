// Baton's chat widget. A host product embeds it with one tag:
//
//   <script src="https://baton.example/widget.js" data-baton-url="https://baton.example"
//           data-identity-token="SIGNED_JWT" data-title="Support" defer></script>
//
// It draws a chat bubble and a panel inside a shadow root (the host page's CSS cannot reach
// it), talks to Baton's customer API, follows the conversation over a WebSocket that resumes
// from the last event it saw, and reports page views (single-page-app route changes too),
// clicks on elements marked `data-baton-action` and JavaScript errors as page events. An
// identified customer (a signed identity token) finds their open conversation on any device.
// Everything people write is rendered as text, never as markup.
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.Baton) return;

  // ---- Configuration, from the script tag -------------------------------------------------

  const base = new URL(script.dataset.batonUrl || "/", script.src).href.replace(/\/+$/, "");
  const identityToken = script.dataset.identityToken || null;
  const title = script.dataset.title || "Support";
  const who = identityToken ? subjectOf(identityToken) : "anonymous";
  const storeKey = `baton:${base}:${who}`;
  const trailKey = `baton:${base}:trail`;
  const openKey = `baton:${base}:open`;

  /** The `sub` claim of the identity token: conversations are kept per person. */
  function subjectOf(token) {
    try {
      const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return String(JSON.parse(atob(payload)).sub || "identified");
    } catch {
      return "identified";
    }
  }

  function readJson(storage, key, fallback) {
    try {
      const value = storage.getItem(key);
      return value ? JSON.parse(value) : fallback;
    } catch {
      return fallback;
    }
  }

  function writeJson(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
    } catch {
      // Storage can be full or forbidden; the widget still works for this page.
    }
  }

  // ---- State ------------------------------------------------------------------------------

  /** `{id, token, anonymous}` once a conversation exists. */
  let conversation = readJson(localStorage, storeKey, null);
  let state = "ai";
  let agentName = null;
  /** The team of the person helping, as the `joined` notice named it. */
  let agentTeam = null;
  /**
   * Where the customer stands while they wait for a person, as Baton said it last (a system
   * message's `handover` or a `queue` frame): `{kind, team, position, estimate_secs, back_at}`.
   */
  let standing = null;
  /** Baton asked the customer to leave an email (nobody is available and it has none). */
  let emailInvited = false;
  let emailSaved = false;
  /** The team has the customer's email address: a reply may come by email too. */
  let emailKnown = false;
  let hadPerson = false;
  /** Rated since the conversation was last resolved. */
  let rated = false;
  /** An identified customer's open conversation was looked for (once per page load). */
  let resumeChecked = false;
  /** The highest `seq` the stream delivered: where a reconnect resumes. */
  let cursor = 0;
  /** Every `seq` already shown, whichever way it came (stream or a POST's reply). */
  const seen = new Set();
  /** Customer messages sent but not yet confirmed, by client_msg_id. */
  const pending = new Map();
  const feedbackGiven = new Set();
  /** Answers the customer rated in this page: the stream's echo of it offers the next step. */
  const feedbackSent = new Set();
  let socket = null;
  let retryDelay = 1000;
  let retryTimer = null;
  let unread = 0;
  let typingTimer = null;
  let lastTypingSent = 0;
  let opening = null;
  const loadedAt = Date.now();

  // ---- The API ----------------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function call(method, path, body, attempts = 1) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const headers = { "content-type": "application/json" };
        if (conversation) headers.authorization = `Bearer ${conversation.token}`;
        const response = await fetch(base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          keepalive: method === "POST" && path.endsWith("/events"),
        });
        const data = await response.json().catch(() => null);
        if (!response.ok) throw new HttpError(response.status, data);
        return data;
      } catch (error) {
        const retriable = !(error instanceof HttpError) || error.status >= 500;
        if (!retriable || attempt >= attempts) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function pageContext() {
    return {
      url: location.href,
      title: document.title || undefined,
      referrer: document.referrer || undefined,
    };
  }

  /**
   * Opens a conversation (resuming an identified customer's open one); with `resumeOnly`,
   * only resumes: the server answers 404 when there is nothing open.
   */
  async function openConversation(resumeOnly) {
    const created = await call(
      "POST",
      "/v1/conversations",
      {
        identity_token: identityToken || undefined,
        page: pageContext(),
        resume: Boolean(identityToken),
        resume_only: resumeOnly || undefined,
      },
      resumeOnly ? 1 : 3,
    );
    if (conversation) return;
    conversation = { id: created.id, token: created.token, anonymous: created.anonymous };
    writeJson(localStorage, storeKey, conversation);
    await flushTrail();
    connect();
  }

  /** The conversation, opened on the first message if need be. */
  async function ensureConversation() {
    while (!conversation) {
      if (!opening) {
        opening = openConversation(false).finally(() => {
          opening = null;
        });
      }
      await opening;
    }
    return conversation;
  }

  /**
   * An identified customer opening the chat on a new device sees their open conversation's
   * history at once, without a new conversation being opened for nothing.
   */
  function resumeOpenConversation() {
    if (conversation || !identityToken || resumeChecked || opening) return;
    resumeChecked = true;
    opening = openConversation(true)
      .catch(() => {
        // Nothing open (404) or the token expired: the first message opens one.
      })
      .finally(() => {
        opening = null;
      });
  }

  /** Forgets a conversation the server no longer knows (or no longer lets us open). */
  function forget() {
    conversation = null;
    writeJson(localStorage, storeKey, null);
    if (socket) socket.close();
    socket = null;
  }

  // ---- Page-aware context -----------------------------------------------------------------

  let lastUrl = null;

  /** Sends a page event, or keeps it until a conversation exists (the last 20). */
  function track(kind, details = {}) {
    const event = {
      kind,
      url: details.url || location.href,
      label: details.label ? String(details.label).slice(0, 200) : undefined,
      detail: details.detail ? String(details.detail).slice(0, 1000) : undefined,
      at: new Date().toISOString(),
    };
    if (conversation) {
      call("POST", `/v1/conversations/${conversation.id}/events`, event).catch(() => {});
    } else {
      const trail = readJson(sessionStorage, trailKey, []);
      trail.push(event);
      writeJson(sessionStorage, trailKey, trail.slice(-20));
    }
  }

  async function flushTrail() {
    const trail = readJson(sessionStorage, trailKey, []);
    writeJson(sessionStorage, trailKey, null);
    for (const event of trail) {
      await call("POST", `/v1/conversations/${conversation.id}/events`, event).catch(() => {});
    }
  }

  function pageView() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    track("page_view", { label: document.title || undefined });
  }

  for (const method of ["pushState", "replaceState"]) {
    const original = history[method];
    history[method] = function (...args) {
      const result = original.apply(this, args);
      // The host updates its title after the route change.
      setTimeout(pageView, 0);
      return result;
    };
  }
  addEventListener("popstate", () => setTimeout(pageView, 0));
  addEventListener("hashchange", pageView);

  document.addEventListener(
    "click",
    (e) => {
      const target = e.target instanceof Element ? e.target.closest("[data-baton-action]") : null;
      if (!target) return;
      track("click", {
        label: target.getAttribute("data-baton-action"),
        detail: (target.textContent || "").trim().replace(/\s+/g, " ").slice(0, 120) || undefined,
      });
    },
    true,
  );

  /** Errors reported this page load, by message: each is sent once, at most 10 in all. */
  const reportedErrors = new Set();
  const MAX_ERRORS = 10;

  /**
   * Sends an error the customer met: shown to them by the host (`Baton.track("error", …)`)
   * or uncaught. The same message is sent once per page load, and a page in an error loop
   * stops after a few. Cross-origin scripts' opaque "Script error." says nothing: skipped.
   */
  function trackError(label, message, where = "") {
    const text = String(message || "").trim();
    if (!text || /^script error\.?$/i.test(text)) return;
    const key = text.slice(0, 500);
    if (reportedErrors.has(key) || reportedErrors.size >= MAX_ERRORS) return;
    reportedErrors.add(key);
    track("error", { label: label || "Error", detail: `${text}${where}` });
  }

  addEventListener("error", (e) => {
    // Resource load failures (an <img> that 404s) have no message: not the customer's concern.
    if (!e.message) return;
    const where = e.filename ? ` (${e.filename}:${e.lineno})` : "";
    trackError("JavaScript error", e.message, where);
  });
  addEventListener("unhandledrejection", (e) => {
    const reason = e.reason && e.reason.message ? e.reason.message : String(e.reason);
    trackError("Unhandled promise rejection", reason);
  });

  // ---- The stream -------------------------------------------------------------------------

  function connect() {
    if (!conversation || socket) return;
    clearTimeout(retryTimer);
    const url = new URL(`${base}/v1/conversations/${conversation.id}/stream`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("after", String(cursor));
    url.searchParams.set("token", conversation.token);
    const ws = new WebSocket(url.href);
    socket = ws;
    ws.onopen = () => {
      retryDelay = 1000;
      ui.connection(true);
    };
    ws.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (typeof event.seq !== "number") {
        hear(event);
        return;
      }
      cursor = Math.max(cursor, event.seq);
      // Replayed history does not count as unread; what arrives after the page loaded does.
      accept(event, Date.parse(event.at) > loadedAt - 1000);
    };
    ws.onclose = (close) => {
      if (socket !== ws) return;
      socket = null;
      if (!conversation) return;
      ui.connection(false);
      if (close.code === 1008 || close.code === 4401) {
        forget();
        return;
      }
      retryTimer = setTimeout(() => {
        // The stream refuses a conversation that is gone: check before retrying for ever.
        call("GET", `/v1/conversations/${conversation.id}`)
          .then(() => connect())
          .catch((error) => {
            if (error instanceof HttpError && (error.status === 401 || error.status === 404)) forget();
            else connect();
          });
      }, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }

  addEventListener("online", () => {
    if (conversation && !socket) {
      retryDelay = 1000;
      connect();
    }
  });

  /** Transient notices (no `seq`, never replayed): the agent typing, the queue moving. */
  function hear(notice) {
    if (notice.type === "typing" && notice.role === "agent" && state === "human") {
      ui.typing(true, `${notice.name || "The agent"} is typing`);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => ui.typing(false), 5000);
    } else if (notice.type === "queue" && WAITING_KINDS.has(notice.kind)) {
      // Only a waiting customer is sent these; the status line shows it while they wait.
      standing = notice;
      ui.status();
    }
  }

  /** The handover kinds that say where a waiting customer stands. */
  const WAITING_KINDS = new Set(["in_line", "connecting", "closed", "unavailable", "busy"]);

  /** "1st", "2nd", "3rd", "11th", "22nd". */
  function ordinal(n) {
    const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
    return `${n}${suffix}`;
  }

  /** "about 3 min", "any moment now": an estimate as the status line says it. */
  function roughly(estimateSecs) {
    if (estimateSecs < 30) return "any moment now";
    if (estimateSecs < 90 * 60) return `about ${Math.max(1, Math.round(estimateSecs / 60))} min`;
    return `about ${Math.round(estimateSecs / 3600)} h`;
  }

  /** "09:00" today, "Monday 09:00" on another day this week: in the customer's own time. */
  function backAt(iso) {
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return null;
    const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const now = new Date();
    if (at.toDateString() === now.toDateString()) return `at ${time}`;
    const days = (at - now) / 86400000;
    const day = at.toLocaleDateString([], days < 6 ? { weekday: "long" } : { weekday: "long", day: "numeric", month: "long" });
    return `${day} at ${time}`;
  }

  /**
   * The status line while the customer waits, in their words, from where they stand:
   * "Waiting for Billing — 2nd in line, about 3 min".
   */
  function waitingLine(standing) {
    const team = standing && standing.team;
    switch (standing && standing.kind) {
      case "in_line": {
        const position = typeof standing.position === "number" ? standing.position : 1;
        const place = position <= 1 ? "next in line" : `${ordinal(position)} in line`;
        const wait = typeof standing.estimate_secs === "number" ? `, ${roughly(standing.estimate_secs)}` : "";
        return `Waiting for ${team || "a person"} — ${place}${wait}`;
      }
      case "connecting":
        return team ? `Connecting you with someone from ${team}…` : "Connecting you with a person…";
      case "closed": {
        const back = standing.back_at ? backAt(standing.back_at) : null;
        return `${team || "The team"} is away — ${back ? `back ${back}, ` : ""}we'll reply here${byEmail()}`;
      }
      case "unavailable":
        return `Nobody from ${team || "the team"} is on right now — we'll reply here${byEmail()}`;
      case "busy":
        return `${team || "The team"} is very busy — we'll reply here${byEmail()} as soon as someone is free`;
      case "transferred":
        return `Waiting for ${team || "a person"} — they'll see everything above`;
      default:
        return "Waiting for a person — they'll see everything above";
    }
  }

  /** " and by email" once the team has the customer's address. */
  function byEmail() {
    return emailKnown || emailSaved ? " and by email" : "";
  }

  /** Lets the person on the other side see the customer typing, at most every 3 seconds. */
  function typingNow() {
    if (!conversation || !(state === "human" || state === "waiting_human")) return;
    const now = Date.now();
    if (now - lastTypingSent < 3000) return;
    lastTypingSent = now;
    call("POST", `/v1/conversations/${conversation.id}/typing`).catch(() => {});
  }

  /** Takes one event, from wherever it came, exactly once. */
  function accept(event, live) {
    if (typeof event.seq !== "number" || seen.has(event.seq)) return;
    seen.add(event.seq);
    switch (event.type) {
      case "message":
        if (event.role === "agent") {
          clearTimeout(typingTimer);
          ui.typing(false);
        }
        ui.message(event);
        // Choices offered before the customer's next message are spent.
        if (event.role === "customer") ui.spendChoices(event.seq);
        if (event.role === "system") readSystemMessage(event);
        if (event.role === "agent") {
          hadPerson = true;
          if (event.author && !agentName) agentName = event.author;
        }
        if (live && event.role !== "customer" && !ui.isOpen()) ui.badge(++unread);
        break;
      case "state_changed":
        setState(event.to, event.from);
        break;
      case "feedback":
        feedbackGiven.add(event.message_seq);
        ui.feedbackDone(event.message_seq, event.helpful, feedbackSent.has(event.message_seq));
        break;
      case "rating":
        rated = true;
        ui.notice(`You rated this conversation ${event.score} out of 5. Thank you!`, event.seq);
        ui.rating(false);
        break;
      default:
        break;
    }
    ui.status();
  }

  function setState(next, from) {
    state = next;
    if (next === "human") hadPerson = true;
    if (next !== "waiting_human") {
      // Whatever the waiting line said is over once the conversation moves on.
      standing = null;
      emailInvited = false;
    }
    if (next === "ai") {
      agentName = null;
      agentTeam = null;
    }
    if (next !== "resolved") rated = false;
    // Baton takes a rating only when a person resolved the conversation: resolved from the
    // person's hands (or from the queue, by a supervisor), not by the AI after a hand-back.
    ui.rating(next === "resolved" && (from === "human" || from === "waiting_human") && !rated);
    ui.emailCapture(next === "waiting_human" && emailInvited && !emailSaved);
  }

  /**
   * Baton's system messages about the handover carry the facts as `handover` (who joined,
   * where the customer stands); the status line follows those fields, never the sentence.
   */
  function readSystemMessage(event) {
    const handover = event.handover;
    if (handover) {
      readHandover(handover);
      return;
    }
    if (/^Contact email left: /.test(event.text)) {
      emailSaved = true;
      ui.emailCapture(false);
    }
  }

  function readHandover(handover) {
    if (WAITING_KINDS.has(handover.kind)) {
      standing = handover;
    } else if (handover.kind === "joined") {
      standing = null;
      if (handover.agent) agentName = handover.agent;
      agentTeam = handover.team || null;
      hadPerson = true;
    } else if (handover.kind === "transferred") {
      // Waiting for the new team now; where in its line comes next.
      standing = { kind: "transferred", team: handover.team };
    } else if (handover.kind === "released") {
      standing = null;
    }
    if (handover.reply_by_email) emailKnown = true;
    if (handover.ask_email) {
      emailInvited = true;
      ui.emailCapture(!emailSaved);
    }
  }

  // ---- Sending ----------------------------------------------------------------------------

  async function send(text) {
    const clientMsgId = `m_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
    const element = ui.pendingMessage(text, clientMsgId);
    pending.set(clientMsgId, element);
    await deliver(text, clientMsgId, element);
  }

  async function deliver(text, clientMsgId, element) {
    ui.failed(element, false);
    const typing = state === "ai";
    if (typing) ui.typing(true);
    try {
      await ensureConversation();
      const posted = await call(
        "POST",
        `/v1/conversations/${conversation.id}/messages`,
        { client_msg_id: clientMsgId, text, page: pageContext() },
        3,
      );
      accept(posted.message, false);
      for (const reply of posted.replies || []) accept(reply, false);
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 404)) {
        forget();
      }
      ui.failed(element, true, () => deliver(text, clientMsgId, element), error.message);
    } finally {
      if (typing) ui.typing(false);
    }
  }

  async function giveFeedback(seq, helpful) {
    feedbackSent.add(seq);
    try {
      const given = await call("POST", `/v1/conversations/${conversation.id}/feedback`, { message_seq: seq, helpful });
      feedbackGiven.add(seq);
      ui.feedbackDone(seq, helpful, true);
      if (given && given.event) accept(given.event, false);
    } catch (error) {
      feedbackSent.delete(seq);
      if (error instanceof HttpError && error.status === 409) {
        // Given already (in another tab): nothing more to ask.
        feedbackGiven.add(seq);
        ui.feedbackDone(seq, helpful, false);
      } else {
        ui.alert(`Could not send your feedback: ${error.message}`);
      }
    }
  }

  /** The next step after an answer that did not help: a person, in the customer's words. */
  function askForPerson() {
    send("I'd like to talk to a person, please.");
  }

  async function rate(score, comment) {
    try {
      await call("POST", `/v1/conversations/${conversation.id}/rating`, {
        score,
        comment: comment || undefined,
      });
    } catch (error) {
      // Rated already (in another tab): the card is done either way.
      if (!(error instanceof HttpError && error.status === 409)) throw error;
    }
    rated = true;
  }

  async function leaveEmail(email) {
    await ensureConversation();
    const saved = await call("POST", `/v1/conversations/${conversation.id}/contact`, { email });
    emailSaved = true;
    if (saved && saved.event) accept(saved.event, false);
  }

  // ---- The view ---------------------------------------------------------------------------

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.root { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1f24; }
button, textarea, input { font: inherit; color: inherit; }
.bubble { width: 56px; height: 56px; border-radius: 50%; border: 0; background: #1d4ed8; color: #fff;
  box-shadow: 0 6px 20px rgba(15, 23, 42, .28); cursor: pointer; display: grid; place-items: center;
  position: relative; }
.bubble:hover { background: #1e40af; }
.bubble svg { width: 26px; height: 26px; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px;
  border-radius: 10px; background: #b91c1c; color: #fff; font-size: 12px; font-weight: 700;
  display: grid; place-items: center; }
.badge[hidden] { display: none; }
.msg code { font-family: ui-monospace, monospace; font-size: 13px; background: rgba(15, 23, 42, .07);
  padding: 0 3px; border-radius: 4px; }
.panel { position: absolute; right: 0; bottom: 72px; width: min(380px, calc(100vw - 40px));
  height: min(580px, calc(100vh - 120px)); background: #fff; border-radius: 14px;
  box-shadow: 0 12px 40px rgba(15, 23, 42, .3); display: flex; flex-direction: column; overflow: hidden; }
.panel[hidden] { display: none; }
header { background: #1d4ed8; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }
header .titles { flex: 1; min-width: 0; }
header h2 { margin: 0; font-size: 16px; font-weight: 650; }
.status { font-size: 13px; color: #e0e7ff; overflow-wrap: anywhere; }
.close { background: transparent; border: 0; color: #fff; width: 32px; height: 32px; border-radius: 8px;
  cursor: pointer; font-size: 22px; line-height: 1; }
.close:hover { background: rgba(255, 255, 255, .15); }
.conn { background: #fef3c7; color: #713f12; font-size: 13px; padding: 4px 14px; }
.conn[hidden] { display: none; }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px;
  background: #f8fafc; overscroll-behavior: contain; }
.msg { max-width: 86%; padding: 9px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .who { display: block; font-size: 12px; font-weight: 650; color: #475569; margin-bottom: 2px; }
.customer { align-self: flex-end; background: #1d4ed8; color: #fff; border-bottom-right-radius: 4px; }
.customer.pending { opacity: .7; }
.customer.failed { background: #fee2e2; color: #7f1d1d; }
.ai, .agent { align-self: flex-start; background: #fff; border: 1px solid #e2e8f0; border-bottom-left-radius: 4px; }
.agent { border-color: #a7f3d0; background: #ecfdf5; }
.system { align-self: center; text-align: center; color: #334155; font-size: 13px; max-width: 92%;
  background: transparent; padding: 2px 8px; }
.articles { margin: 8px 0 0; padding: 0; list-style: none; display: grid; gap: 4px; }
.articles a { color: #1d4ed8; font-weight: 600; text-decoration: underline; }
.choices { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.choice, .chip { border: 1px solid #1d4ed8; background: #fff; color: #1d4ed8; border-radius: 16px;
  padding: 4px 12px; cursor: pointer; font-size: 14px; }
.choice:hover:enabled, .chip:hover, .chip[aria-pressed="true"], .choice[aria-pressed="true"] { background: #1d4ed8; color: #fff; }
.choice:disabled { cursor: default; border-color: #64748b; color: #475569; }
.choice[aria-pressed="true"]:disabled { background: #475569; border-color: #475569; color: #fff; }
.helpful { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 8px; font-size: 13px; color: #475569;
  white-space: normal; }
.retry { margin-left: 6px; border: 0; background: none; color: inherit; text-decoration: underline; cursor: pointer; }
.typing { align-self: flex-start; display: flex; gap: 4px; padding: 10px 12px; background: #fff;
  border: 1px solid #e2e8f0; border-radius: 12px; }
.typing[hidden] { display: none; }
.typing i { width: 7px; height: 7px; border-radius: 50%; background: #64748b; animation: blink 1.2s infinite; }
.typing i:nth-child(2) { animation-delay: .2s; } .typing i:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .typing i { animation: none; } }
.card { align-self: stretch; background: #fff; border: 1px solid #cbd5e1; border-radius: 12px; padding: 12px; }
.card p { margin: 0 0 8px; font-weight: 600; }
.card form { display: flex; flex-direction: column; gap: 8px; }
.stars { display: flex; gap: 6px; }
.card input, .card textarea { border: 1px solid #64748b; border-radius: 8px; padding: 7px 9px; width: 100%; }
.primary { background: #1d4ed8; color: #fff; border: 0; border-radius: 8px; padding: 7px 14px; cursor: pointer;
  font-weight: 600; align-self: flex-start; }
.primary:disabled { background: #94a3b8; cursor: default; }
.composer { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e2e8f0; background: #fff; }
.composer textarea { flex: 1; resize: none; border: 1px solid #64748b; border-radius: 10px; padding: 8px 10px;
  max-height: 120px; min-height: 40px; }
.composer .primary { align-self: stretch; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
/* A dark ring with a white halo: at least 3:1 against white, the blue header and bubble, and
   whatever the host page is behind the bubble. */
:focus-visible { outline: 3px solid #0f172a; outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }
header :focus-visible { outline-color: #fff; box-shadow: 0 0 0 2px #0f172a; }
@media (max-width: 480px) {
  .root { right: 12px; bottom: 12px; }
  .panel { position: fixed; inset: 0; width: auto; height: auto; border-radius: 0; }
  /* The panel fills the phone's screen: its close button closes it, the bubble would cover
     the Send button. A 16px field keeps mobile browsers from zooming in. */
  .root.open .bubble { display: none; }
  .composer textarea { font-size: 16px; }
}`;

  const ICON_CHAT =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";

  /** Builds an element: `h("button", {class: "x", onclick}, "text", child)`. */
  function h(tag, props = {}, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else if (key === "class") element.className = value;
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return element;
  }

  /**
   * AI answers quote articles written in Markdown: `**bold**` and `` `code` `` become
   * elements, built as nodes (never parsed as markup); everything else stays text.
   */
  function emphasis(text) {
    return String(text)
      .split(/(\*\*[^*\n]+\*\*|`[^`\n]+`)/)
      .map((part, i) => {
        if (i % 2 === 0) return document.createTextNode(part);
        return part.startsWith("**") ? h("strong", {}, part.slice(2, -2)) : h("code", {}, part.slice(1, -1));
      });
  }

  function svgIcon(path) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "currentColor");
    svg.append(p);
    return svg;
  }

  /** Only web links are followed; article URLs may be relative to Baton. */
  function safeUrl(url) {
    try {
      const resolved = new URL(url, `${base}/`);
      return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : null;
    } catch {
      return null;
    }
  }

  const ui = (() => {
    const host = document.createElement("div");
    host.id = "baton-widget";
    const shadow = host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.append(h("style", {}, CSS));
    }

    const badgeEl = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    const bubble = h(
      "button",
      { class: "bubble", type: "button", "aria-label": `Open chat: ${title}`, "aria-expanded": "false", "aria-controls": "baton-panel" },
      svgIcon(ICON_CHAT),
      badgeEl,
    );
    const statusEl = h("div", { class: "status", role: "status", "aria-live": "polite" });
    const closeButton = h("button", { class: "close", type: "button", "aria-label": "Close chat" }, "×");
    const connEl = h("div", { class: "conn", hidden: true, role: "status" }, "Reconnecting…");
    const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
    const typingEl = h("div", { class: "typing", hidden: true, "aria-hidden": "true", "aria-label": "The assistant is typing" }, h("i"), h("i"), h("i"));
    // Screen readers hear who is typing here (the dots are decoration).
    const announcer = h("div", { class: "sr", role: "status", "aria-live": "polite" });
    const input = h("textarea", { id: "baton-input", rows: "1", placeholder: "Write a message…", "aria-label": "Message", maxlength: "4000" });
    const sendButton = h("button", { class: "primary", type: "submit" }, "Send");
    const composer = h("form", { class: "composer" }, input, sendButton);
    const panel = h(
      "section",
      { class: "panel", id: "baton-panel", role: "dialog", "aria-label": title, hidden: true },
      h("header", {}, h("div", { class: "titles" }, h("h2", {}, title), statusEl), closeButton),
      connEl,
      log,
      announcer,
      composer,
    );
    const root = h("div", { class: "root" }, panel, bubble);
    shadow.append(root);

    const greeting = h(
      "div",
      { class: "msg system" },
      "Hi! Ask a question and I'll answer from our help centre. A person from the team can take over whenever you like.",
    );
    log.append(greeting);

    let emailCard = null;
    let ratingCard = null;
    let connectedOnce = false;

    function scrollDown() {
      log.scrollTop = log.scrollHeight;
    }

    /** Puts a shown event in `seq` order, before any message still on its way. */
    function place(element, seq) {
      element.dataset.seq = String(seq);
      let before = null;
      for (const child of log.children) {
        if (child === greeting) continue;
        const s = child.dataset.seq;
        if (s === undefined || Number(s) > seq) {
          before = child;
          break;
        }
      }
      if (before) log.insertBefore(element, before);
      else log.insertBefore(element, typingEl.parentNode === log ? typingEl : null);
      scrollDown();
    }

    function open(focus = true) {
      panel.hidden = false;
      root.classList.add("open");
      bubble.setAttribute("aria-expanded", "true");
      bubble.setAttribute("aria-label", `Close chat: ${title}`);
      writeJson(sessionStorage, openKey, true);
      unread = 0;
      badge(0);
      if (conversation && !socket) connect();
      else resumeOpenConversation();
      scrollDown();
      if (focus) input.focus();
    }

    function close() {
      panel.hidden = true;
      root.classList.remove("open");
      bubble.setAttribute("aria-expanded", "false");
      bubble.setAttribute("aria-label", `Open chat: ${title}`);
      writeJson(sessionStorage, openKey, false);
      bubble.focus();
    }

    function badge(count) {
      badgeEl.hidden = count === 0;
      badgeEl.textContent = String(count);
    }

    bubble.addEventListener("click", () => (panel.hidden ? open() : close()));
    bubble.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !panel.hidden) close();
    });
    closeButton.addEventListener("click", close);
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        composer.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      if (input.value.trim()) typingNow();
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
    });
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      input.style.height = "auto";
      send(text);
    });

    function messageElement(event) {
      const element = h("div", { class: `msg ${event.role}` });
      if (event.role === "ai") element.append(h("span", { class: "who" }, "AI assistant"));
      if (event.role === "agent") element.append(h("span", { class: "who" }, event.author || "Support"));
      if (event.role === "customer") element.append(h("span", { class: "sr" }, "You: "));
      element.append(...(event.role === "ai" ? emphasis(event.text) : [document.createTextNode(event.text)]));
      const articles = (event.articles || []).map((article) => {
        const url = article.url ? safeUrl(article.url) : null;
        return h("li", {}, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, article.title) : article.title);
      });
      const choices = event.choices || [];
      // A clarifying question's articles are its choices: shown once, as buttons.
      if (articles.length && !choices.length) element.append(h("ul", { class: "articles", "aria-label": "Articles" }, articles));
      if (choices.length) {
        const group = h("div", { class: "choices", role: "group", "aria-label": "Choose one" });
        for (const choice of choices) {
          const button = h("button", { class: "choice", type: "button", "aria-pressed": "false" }, choice.title);
          button.addEventListener("click", () => {
            spend(group, button);
            send(choice.title);
          });
          group.append(button);
        }
        element.append(group);
      }
      // Every AI answer cites the articles it comes from; a reply without one is a greeting,
      // a courtesy or "I couldn't find that", and a clarifying question is answered by its
      // choices: none of those asks "did this help?".
      if (event.role === "ai" && articles.length && !choices.length && !feedbackGiven.has(event.seq)) {
        element.append(
          h(
            "div",
            { class: "helpful", role: "group", "aria-label": "Did this help?" },
            "Did this help?",
            h("button", { class: "chip", type: "button", onclick: () => giveFeedback(event.seq, true) }, "Yes"),
            h("button", { class: "chip", type: "button", onclick: () => giveFeedback(event.seq, false) }, "No"),
          ),
        );
      }
      return element;
    }

    /** A set of choices once one is taken (or the conversation moved on): kept, but spent. */
    function spend(group, chosen) {
      for (const button of group.querySelectorAll("button")) {
        button.disabled = true;
        if (button === chosen) button.setAttribute("aria-pressed", "true");
      }
    }

    return {
      isOpen: () => !panel.hidden,
      open,
      close,
      badge,

      message(event) {
        const mine = event.role === "customer" && event.client_msg_id ? pending.get(event.client_msg_id) : null;
        if (mine) {
          pending.delete(event.client_msg_id);
          mine.classList.remove("pending", "failed");
          place(mine, event.seq);
          return;
        }
        place(messageElement(event), event.seq);
      },

      pendingMessage(text) {
        const element = h("div", { class: "msg customer pending" }, h("span", { class: "sr" }, "You: "), text);
        log.insertBefore(element, typingEl.parentNode === log ? typingEl : null);
        scrollDown();
        return element;
      },

      failed(element, failed, retry, why) {
        element.classList.toggle("failed", failed);
        for (const old of element.querySelectorAll(".retry, .why")) old.remove();
        if (failed) {
          element.append(
            h("span", { class: "why sr" }, ` Not sent: ${why}.`),
            h("button", { class: "retry", type: "button", onclick: retry }, "Not sent — retry"),
          );
        }
      },

      notice(text, seq) {
        place(h("div", { class: "msg system" }, text), seq);
      },

      alert(text) {
        log.insertBefore(h("div", { class: "msg system", role: "alert" }, text), null);
        scrollDown();
      },

      typing(on, label = "The assistant is typing") {
        typingEl.setAttribute("aria-label", label);
        const said = on ? `${label}…` : "";
        if (announcer.textContent !== said) announcer.textContent = said;
        if (on) {
          log.append(typingEl);
          typingEl.hidden = false;
        } else {
          typingEl.hidden = true;
          typingEl.remove();
        }
        scrollDown();
      },

      /** Choices offered before the customer's message `seq` are spent. */
      spendChoices(seq) {
        for (const group of log.querySelectorAll(".choices")) {
          const message = group.closest("[data-seq]");
          if (message && Number(message.dataset.seq) < seq) spend(group, null);
        }
      },

      /**
       * Feedback given: thanks, and when the answer did not help and the customer just said
       * so, the next step (rephrase, or a person).
       */
      feedbackDone(seq, helpful, now) {
        const message = log.querySelector(`[data-seq="${seq}"]`);
        const row = message && message.querySelector(".helpful");
        if (!row || row.dataset.done) return;
        row.dataset.done = "true";
        if (helpful === false && now && state === "ai") {
          row.replaceChildren(
            "Sorry that didn't help. Try asking another way, or ",
            h("button", { class: "chip", type: "button", onclick: askForPerson }, "Talk to a person"),
          );
          row.setAttribute("aria-label", "Next step");
        } else {
          row.replaceChildren("Thanks for your feedback.");
        }
      },

      connection(up) {
        if (up) connectedOnce = true;
        connEl.hidden = up || !connectedOnce;
      },

      status() {
        let text;
        if (state === "waiting_human") text = waitingLine(standing);
        else if (state === "human") text = agentName ? `Chatting with ${agentName}${agentTeam ? ` (${agentTeam})` : ""}` : "A person is here";
        else if (state === "resolved") text = "Resolved — write again any time";
        else text = "AI assistant · ask for a person any time";
        statusEl.textContent = text;
      },

      emailCapture(show) {
        if (!show) {
          if (emailCard) emailCard.remove();
          emailCard = null;
          return;
        }
        if (emailCard) return;
        const field = h("input", { type: "email", required: true, autocomplete: "email", id: "baton-email", placeholder: "you@company.com" });
        const button = h("button", { class: "primary", type: "submit" }, "Save email");
        const form = h("form", {}, h("label", { for: "baton-email", class: "sr" }, "Email address"), field, button);
        emailCard = h("div", { class: "card", role: "group", "aria-label": "Leave your email" }, h("p", {}, "Leave your email so the team knows who you are:"), form);
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          button.disabled = true;
          try {
            // The timeline's "Contact email left" line confirms it, to the agent too.
            await leaveEmail(field.value.trim());
            ui.emailCapture(false);
          } catch (error) {
            button.disabled = false;
            ui.alert(`Could not save your email: ${error.message}`);
          }
        });
        log.insertBefore(emailCard, typingEl.parentNode === log ? typingEl : null);
        scrollDown();
      },

      rating(show) {
        if (!show) {
          if (ratingCard) ratingCard.remove();
          ratingCard = null;
          return;
        }
        if (ratingCard) return;
        let score = 0;
        const labels = ["Very unhappy", "Unhappy", "Okay", "Happy", "Very happy"];
        const submit = h("button", { class: "primary", type: "submit", disabled: true }, "Send rating");
        const stars = labels.map((label, i) =>
          h("button", { class: "chip", type: "button", "aria-pressed": "false", "aria-label": `${i + 1} of 5: ${label}`, "data-score": String(i + 1) }, `${i + 1} ★`),
        );
        for (const star of stars) {
          star.addEventListener("click", () => {
            score = Number(star.dataset.score);
            for (const s of stars) s.setAttribute("aria-pressed", String(s === star));
            submit.disabled = false;
          });
        }
        const comment = h("textarea", { rows: "2", id: "baton-comment", placeholder: "Anything to add? (optional)" });
        const form = h(
          "form",
          {},
          h("div", { class: "stars", role: "group", "aria-label": "Your rating" }, stars),
          h("label", { for: "baton-comment", class: "sr" }, "Comment"),
          comment,
          submit,
        );
        ratingCard = h("div", { class: "card rating", role: "group", "aria-label": "Rate this conversation" }, h("p", {}, "How did we do?"), form);
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          if (!score) return;
          submit.disabled = true;
          try {
            await rate(score, comment.value.trim());
            ui.rating(false);
          } catch (error) {
            submit.disabled = false;
            ui.alert(`Could not send your rating: ${error.message}`);
          }
        });
        log.insertBefore(ratingCard, null);
        scrollDown();
      },

      mount() {
        (document.body || document.documentElement).append(host);
        ui.status();
        if (readJson(sessionStorage, openKey, false)) open(false);
      },
    };
  })();

  // ---- Start ------------------------------------------------------------------------------

  window.Baton = {
    open: () => ui.open(),
    close: () => ui.close(),
    /** For the host product: report an error shown to the user, or an action taken. */
    track: (kind, details = {}) =>
      kind === "error" ? trackError(details.label || "Error shown to the user", details.detail || details.label) : track(kind, details),
  };

  function start() {
    ui.mount();
    pageView();
    if (conversation) connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
