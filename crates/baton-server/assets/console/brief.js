// The brief as an agent reads it, top-down: why it came to me and what the customer needs
// (`whyAndNeeds`, shown above the conversation), then who they are, the summary, where they
// were, what was tried, how they feel and their earlier conversations (`context`).

import { badge, clock, dateTime, emphasis, h, link, percent, svg, words } from "./dom.js";

const TRIGGER_LABELS = {
  explicit_request: "Asked for a person",
  sentiment: "Very negative",
  confidence: "AI unsure",
  policy: "Policy topic",
  loop: "Going in circles",
  ai_error: "AI error",
  agent_request: "AI asked for help",
};

export function triggerBadge(kind) {
  return badge(TRIGGER_LABELS[kind] || words(kind), `trigger ${kind}`);
}

export function tierBadge(tier) {
  return tier ? badge(tier, `tier ${tier}`) : null;
}

/**
 * Why a person is needed and what the customer needs, in one block. The reasons read as the
 * brief's sentences ("asked for a person: “…”", "disputes a charge"), each with the rule that
 * fired as a muted detail; after a transfer, the block opens with who moved it and their note.
 * `teamName(id)` and `staffName(id)` give display names when the caller knows them.
 */
export function whyAndNeeds(brief, handoff, { teamName, staffName } = {}) {
  const triggers = brief ? brief.why.triggers : [];
  const issue = (brief && brief.issue_type && brief.issue_type.label) || (handoff && handoff.issue_type);
  return h(
    "section",
    { class: "why", "aria-label": "Why this came to you" },
    transferLine(latestTransfer(handoff), { teamName, staffName }),
    h(
      "div",
      { class: "why-line" },
      h("span", { class: "label" }, "Why"),
      triggers.length ? triggers.map((t) => triggerBadge(t.kind)) : (handoff ? handoff.triggers.map(triggerBadge) : null),
      issue ? badge(words(issue), "issue") : null,
      handoff ? badge(handoff.priority, `priority ${handoff.priority}`) : null,
    ),
    brief ? reasons(brief) : null,
    brief ? h("div", { class: "needs" }, h("span", { class: "label" }, "Needs"), h("strong", {}, brief.needs)) : null,
    handoff && handoff.route_reason ? h("p", { class: "route" }, `Routed: ${handoff.route_reason}`) : null,
  );
}

/** One line per reason, in the support team's words; briefs stored before reasons had
 * sentences show the rules and their evidence as before. */
function reasons(brief) {
  const why = brief.why;
  const sentences = why.reasons || [];
  if (!sentences.length) {
    return [
      h(
        "ul",
        { class: "evidence" },
        why.triggers.map((t) => h("li", {}, h("span", { class: "rule" }, ruleDetail(t)), t.evidence && t.evidence.length ? h("q", {}, t.evidence.join(" · ")) : null)),
      ),
      h("p", { class: "explanation" }, why.explanation),
    ];
  }
  // The decision's explanation says the same with the numbers: a tooltip, not a paragraph.
  return h(
    "ul",
    { class: "evidence", title: why.explanation || null },
    sentences.map((reason, i) => {
      const trigger = why.triggers[i] && why.triggers[i].kind === reason.kind ? why.triggers[i] : null;
      return h("li", { class: `reason ${reason.kind}` }, reason.sentence, " ", h("small", { class: "rule" }, trigger ? ruleDetail(trigger) : reason.rule));
    }),
  );
}

/** `always_human.billing_dispute: 0.82 (threshold 0.50)` */
function ruleDetail(t) {
  return `${t.rule}: ${formatValue(t.value)}${t.threshold === null || t.threshold === undefined ? "" : ` (threshold ${formatValue(t.threshold)})`}`;
}

/**
 * The latest transfer in a handoff's history: `{at, from, to, by, name, note}`, or null.
 * `from` is the team it was in before (the step before the transfer names it).
 */
export function latestTransfer(handoff) {
  const history = (handoff && handoff.history) || [];
  for (let i = history.length - 1; i >= 0; i--) {
    const step = history[i];
    if (step.step !== "transferred") continue;
    const before = history.slice(0, i).reverse().find((s) => s.team);
    return { at: step.at, from: before ? before.team : null, to: step.team || null, by: step.by, ...transferNote(step) };
  }
  return null;
}

// A transfer's note travels as the step's `note`. Transfers stored before steps had one kept
// it only inside `reason` ("Dana moved it to Billing: customer needs a refund"): there the note
// is what follows the first ": " after " moved it to "; an automatic overflow's reason (by
// `baton`) is shown whole.
function transferNote(step) {
  if (typeof step.note === "string") return { name: null, note: step.note || null };
  const reason = (step.reason || "").trim();
  const marker = " moved it to ";
  const at = step.by === "baton" ? -1 : reason.indexOf(marker);
  if (at <= 0) return { name: null, note: reason || null };
  const rest = reason.slice(at + marker.length);
  const colon = rest.indexOf(": ");
  return { name: reason.slice(0, at), note: colon >= 0 ? rest.slice(colon + 2).trim() || null : null };
}

/** "Transferred from Support by Dana: customer needs a refund". */
function transferLine(transfer, { teamName, staffName } = {}) {
  if (!transfer) return null;
  const team = (id) => (teamName && teamName(id)) || capitalised(words(id));
  const from = transfer.from && transfer.from !== transfer.to ? ` from ${team(transfer.from)}` : "";
  const who = transfer.by === "baton" ? " automatically" : ` by ${transfer.name || (staffName && staffName(transfer.by)) || "a colleague"}`;
  return h(
    "p",
    { class: "explanation transfer" },
    h("strong", {}, `Transferred${from}${who}`),
    transfer.note ? `: ${transfer.note}` : null,
    transfer.at ? h("span", { class: "muted" }, ` · ${clock(transfer.at)}`) : null,
  );
}

function capitalised(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function formatValue(value) {
  return typeof value === "number" ? (Math.abs(value) <= 1 ? value.toFixed(2) : String(value)) : String(value);
}

/**
 * Everything below the why: customer, summary, pages, attempts, sentiment, history.
 * `openEarlier(conversation)` opens one of the earlier conversations.
 */
export function context(brief, history, { openEarlier } = {}) {
  if (!brief) return h("p", { class: "muted" }, "No brief for this conversation.");
  return h(
    "div",
    { class: "context" },
    customerCard(brief),
    section("Summary", h("p", {}, brief.summary.text)),
    brief.entities && brief.entities.length
      ? section(
          "Details mentioned",
          h("ul", { class: "entities" }, brief.entities.map((e) => h("li", {}, badge(words(e.kind)), " ", e.value ?? e.text ?? ""))),
        )
      : null,
    pageTrail(brief.pages),
    tried(brief),
    sentiment(brief.sentiment_trend),
    earlier(history, openEarlier),
  );
}

function section(title, ...body) {
  return h("section", { class: "ctx" }, h("h3", {}, title), body);
}

function customerCard(brief) {
  const c = brief.customer;
  const a = brief.account;
  const rows = [];
  const row = (name, value) => value !== null && value !== undefined && value !== "" && rows.push(h("dt", {}, name), h("dd", {}, value));
  row("Email", c.email);
  row("Customer id", c.external_id);
  row("Customer for", c.age_days === undefined || c.age_days === null ? null : `${c.age_days} days`);
  if (a) {
    row("Account", a.name || a.id);
    row("Plan", a.plan);
    row("Owner", a.owner);
    row("Signed up", a.signup_at ? dateTime(a.signup_at) : null);
    for (const [key, value] of Object.entries(a.attrs || {})) {
      if (key !== "plan") row(words(key), typeof value === "object" ? JSON.stringify(value) : String(value));
    }
  }
  return h(
    "section",
    { class: "ctx customer-card" },
    h("h3", {}, "Customer"),
    h("div", { class: "who" }, h("strong", {}, c.name || (c.anonymous ? "Anonymous visitor" : c.id)), " ", tierBadge(a && a.tier)),
    rows.length ? h("dl", {}, rows) : null,
  );
}

function pageTrail(pages) {
  if (!pages) return null;
  const steps = pages.steps || [];
  const current = pages.current;
  return section(
    "Pages",
    current && current.url ? h("p", { class: "current-page" }, "Now on ", link(current.url, current.title || current.url)) : null,
    steps.length
      ? h(
          "ol",
          { class: "trail" },
          pages.earlier_steps ? h("li", { class: "muted" }, `${pages.earlier_steps} earlier`) : null,
          steps.map((s) =>
            h(
              "li",
              { class: `step ${s.kind}` },
              h("time", {}, clock(s.at)),
              " ",
              badge(words(s.kind), s.kind === "error" ? "bad" : ""),
              " ",
              s.url ? link(s.url, shortUrl(s.url)) : null,
              s.label ? h("span", { class: "step-label" }, ` ${s.label}`) : null,
              s.detail ? h("div", { class: "detail" }, s.detail) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "No page activity recorded."),
  );
}

function shortUrl(url) {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

function tried(brief) {
  const attempts = brief.ai_attempts || [];
  const customer = (brief.actions && brief.actions.customer) || [];
  const suggestions = (brief.actions && brief.actions.ai_suggestions) || [];
  if (!attempts.length && !customer.length) return section("What was tried", h("p", { class: "muted" }, "The AI did not answer before the handoff."));
  return section(
    "What was tried",
    customer.length ? h("ul", { class: "tried" }, customer.map((c) => h("li", {}, "Customer: ", h("q", {}, c.text)))) : null,
    h(
      "ul",
      { class: "tried" },
      attempts.map((attempt) => {
        const reaction = suggestions.find((s) => s.message_seq === attempt.message_seq);
        return h(
          "li",
          {},
          badge(words(attempt.kind), attempt.kind === "answer" ? "" : "warn"),
          " ",
          attempt.confidence === undefined || attempt.confidence === null ? null : badge(`confidence ${percent(attempt.confidence)}`, attempt.confidence < 0.3 ? "bad" : ""),
          " ",
          attempt.articles.map((a) => link(a.url, a.title)),
          h("div", { class: "excerpt" }, emphasis(attempt.excerpt)),
          reaction ? h("div", { class: `reaction ${reaction.reaction}` }, `Reaction: ${words(reaction.reaction)}${reaction.reaction_text ? ` — “${reaction.reaction_text}”` : ""}`) : null,
        );
      }),
    ),
  );
}

/** An inline SVG sparkline of the customer's sentiment per turn (and frustration). */
export function sparkline(points, width = 220, height = 48) {
  const pad = 4;
  const x = (i) => (points.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (points.length - 1));
  const y = (v) => pad + ((1 - v) / 2) * (height - 2 * pad);
  const sentimentLine = points.map((p, i) => `${x(i).toFixed(1)},${y(p.sentiment).toFixed(1)}`).join(" ");
  const withFrustration = points.filter((p) => typeof p.frustration === "number");
  const last = points[points.length - 1];
  return svg(
    "svg",
    { class: "sparkline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `Sentiment over ${points.length} turns, last ${last.sentiment.toFixed(2)}` },
    svg("line", { x1: 0, x2: width, y1: y(0), y2: y(0), class: "zero" }),
    withFrustration.length === points.length
      ? svg("polyline", { points: points.map((p, i) => `${x(i).toFixed(1)},${y(1 - 2 * p.frustration).toFixed(1)}`).join(" "), class: "frustration" })
      : null,
    svg("polyline", { points: sentimentLine, class: "sentiment" }),
    ...points.map((p, i) => svg("circle", { cx: x(i), cy: y(p.sentiment), r: 2.5, class: p.sentiment < -0.05 ? "neg" : p.sentiment > 0.05 ? "pos" : "neu" })),
  );
}

// The signals are read on the turns the AI judged; once a person owns the conversation no
// new ones are computed, so the line stops where the handoff began and says so.
function sentiment(points) {
  if (!points || !points.length) return null;
  const last = points[points.length - 1];
  const frustration = points.every((p) => typeof p.frustration === "number");
  return section(
    "Sentiment at escalation",
    h(
      "div",
      { class: "spark-row" },
      sparkline(points),
      h("span", { class: "spark-value" }, `${last.sentiment >= 0 ? "+" : ""}${last.sentiment.toFixed(2)}`, last.frustration !== undefined && last.frustration !== null ? h("small", {}, ` frustration ${percent(last.frustration)}`) : null),
    ),
    h(
      "p",
      { class: "spark-legend small" },
      h("span", { class: "key sentiment", "aria-hidden": "true" }),
      " sentiment (−1 to +1) ",
      frustration ? [h("span", { class: "key frustration", "aria-hidden": "true" }), " frustration (0 to 100%, up is calmer) "] : null,
      h("span", { class: "muted" }, `· ${points.length} customer turn${points.length === 1 ? "" : "s"} up to the handoff`),
    ),
  );
}

function earlier(history, openEarlier) {
  if (!history) return null;
  return section(
    "Earlier conversations",
    history.length
      ? h(
          "ul",
          { class: "earlier" },
          history.slice(0, 8).map((c) =>
            h(
              "li",
              {},
              badge(words(c.state)),
              " ",
              openEarlier
                ? h("button", { class: "link earlier-open", type: "button", dataset: { conversation: c.id }, title: "Read this conversation", onclick: () => openEarlier(c) }, dateTime(c.created_at))
                : dateTime(c.created_at),
              h("span", { class: "muted" }, ` · ${c.id}`),
            ),
          ),
        )
      : h("p", { class: "muted" }, "None."),
  );
}
