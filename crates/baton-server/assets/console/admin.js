// Admin pages: agents (create, disable, rotate key, teams and capacity), knowledge-base
// articles (list, search, edit) and the escalation policy in force with its validation status.

import { badge, dateTime, fill, h, percent, words } from "./dom.js";

// ---- Agents -------------------------------------------------------------------------------

export async function renderAgents(container, app) {
  const { agents } = await app.api.get("/v1/admin/agents");
  const teams = [...app.teams.values()];
  const shownKey = h("div", { class: "key-box", role: "status", "aria-live": "polite" });
  const showKey = (who, key) =>
    fill(shownKey, h("p", {}, `API key for ${who} — shown once, copy it now:`), h("code", { class: "key" }, key));

  const rows = agents.map((agent) => {
    const boxes = teams.map((team) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", value: team.name, checked: agent.teams.includes(team.name) }), ` ${team.display_name}`),
    );
    const capacity = h("input", { type: "number", min: "1", max: "50", value: String(agent.capacity), "aria-label": `Capacity of ${agent.name}`, class: "narrow" });
    const act = async (fn, message) => {
      try {
        await fn();
        if (message) app.toast(message);
        renderAgents(container, app);
      } catch (error) {
        app.toast(error.message, "bad");
      }
    };
    return h(
      "tr",
      {},
      h("td", {}, h("strong", {}, agent.name), h("div", { class: "muted small" }, agent.id)),
      h("td", {}, badge(agent.role)),
      h("td", {}, agent.disabled ? badge("disabled", "bad") : badge(agent.presence, agent.presence === "online" ? "good" : "")),
      h("td", {}, `${agent.active}/${agent.capacity}`),
      h("td", { class: "teams" }, boxes),
      h("td", {}, capacity),
      h(
        "td",
        { class: "row-actions" },
        h(
          "button",
          {
            class: "btn small",
            type: "button",
            onclick: () =>
              act(
                () =>
                  app.api.put(`/v1/admin/agents/${agent.id}`, {
                    teams: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
                    capacity: Number(capacity.value),
                  }),
                `Saved ${agent.name}.`,
              ),
          },
          "Save",
        ),
        h(
          "button",
          {
            class: "btn small",
            type: "button",
            onclick: () => act(() => app.api.post(`/v1/admin/staff/${agent.id}/${agent.disabled ? "enable" : "disable"}`), agent.disabled ? `${agent.name} can sign in again.` : `${agent.name} is disabled: signed out, and what they held went back to the queue.`),
          },
          agent.disabled ? "Enable" : "Disable",
        ),
        h(
          "button",
          {
            class: "btn small",
            type: "button",
            onclick: async () => {
              if (!confirm(`Rotate the API key of ${agent.name}? The old key stops working at once.`)) return;
              try {
                const created = await app.api.post(`/v1/admin/staff/${agent.id}/rotate-key`);
                // Your own key: this console goes on with the new one.
                if (agent.id === app.me.id) app.rekey(created.key);
                showKey(agent.name, created.key);
              } catch (error) {
                app.toast(error.message, "bad");
              }
            },
          },
          "Rotate key",
        ),
      ),
    );
  });

  const nameInput = h("input", { id: "new-name", required: true, maxlength: "100", placeholder: "Full name" });
  const roleSelect = h("select", { id: "new-role" }, h("option", { value: "agent" }, "Agent"), h("option", { value: "admin" }, "Admin"));
  const create = h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const created = await app.api.post("/v1/admin/staff", { name: nameInput.value, role: roleSelect.value });
          await renderAgents(container, app);
          container.querySelector(".key-box").replaceWith(shownKey);
          showKey(created.staff.name, created.key);
        } catch (error) {
          app.toast(error.message, "bad");
        }
      },
    },
    h("label", { for: "new-name" }, "Name"),
    nameInput,
    h("label", { for: "new-role" }, "Role"),
    roleSelect,
    h("button", { class: "btn primary", type: "submit" }, "Create"),
  );

  fill(
    container,
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Agents"),
      create,
      shownKey,
      h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, ["Name", "Role", "Presence", "Load", "Teams", "Capacity", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

// ---- Knowledge base -----------------------------------------------------------------------

export async function renderKnowledge(container, app) {
  const { articles, revision } = await app.api.get("/v1/kb/articles");
  const editor = h("div", { class: "editor" });
  const results = h("div", { class: "search-results", role: "status", "aria-live": "polite" });
  const query = h("input", { type: "search", id: "kb-q", placeholder: "Search as the AI would: “where is my invoice?”" });
  const filter = h("input", { type: "search", id: "kb-filter", placeholder: "Filter by title or id", "aria-label": "Filter articles" });
  const list = h("ul", { class: "article-list" });

  const showList = () => {
    const needle = filter.value.trim().toLowerCase();
    fill(
      list,
      articles
        .filter((a) => !needle || a.title.toLowerCase().includes(needle) || a.id.includes(needle))
        .map((a) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => edit(a) }, a.title), " ", h("span", { class: "muted small" }, a.id), a.issue_type ? [" ", badge(words(a.issue_type), "issue")] : null)),
    );
  };
  filter.addEventListener("input", showList);

  const search = async (e) => {
    e.preventDefault();
    const q = query.value.trim();
    if (!q) return;
    try {
      const found = await app.api.get(`/v1/kb/search?q=${encodeURIComponent(q)}`);
      fill(
        results,
        h("p", {}, found.question ? `Confidence that the first article answers: ${percent(found.confidence)}` : "This text asks nothing: no confidence judgement."),
        h("ol", {}, found.articles.map((a) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => edit(articles.find((x) => x.id === a.id) || a) }, a.title), h("span", { class: "muted small" }, ` ${a.id} · score ${a.score.toFixed(2)}`)))),
      );
    } catch (error) {
      app.toast(error.message, "bad");
    }
  };

  const edit = (article) => {
    const isNew = !article;
    const a = article || { id: "", title: "", body: "", questions: [], issue_type: "", tags: [] };
    const field = (id, label, input) => [h("label", { for: id }, label), input];
    const id = h("input", { id: "art-id", value: a.id, required: true, readonly: !isNew, pattern: "[A-Za-z0-9._-]+" });
    const title = h("input", { id: "art-title", value: a.title, required: true });
    const issue = h("input", { id: "art-issue", value: a.issue_type || "" });
    const tags = h("input", { id: "art-tags", value: (a.tags || []).join(", ") });
    const questions = h("textarea", { id: "art-questions", rows: "5" });
    questions.value = (a.questions || []).join("\n");
    const body = h("textarea", { id: "art-body", rows: "14" });
    body.value = a.body || "";
    const form = h(
      "form",
      {
        class: "article-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const doc = {
            id: id.value.trim(),
            title: title.value.trim(),
            body: body.value,
            questions: questions.value.split("\n").map((q) => q.trim()).filter(Boolean),
            issue_type: issue.value.trim() || null,
            tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
          };
          try {
            const saved = isNew ? await app.api.post("/v1/kb/articles", doc) : await app.api.put(`/v1/kb/articles/${encodeURIComponent(doc.id)}`, doc);
            app.toast(`Saved ${saved.article.title}; knowledge base at revision ${saved.revision}.`);
            renderKnowledge(container, app);
          } catch (error) {
            app.toast(error.message, "bad");
          }
        },
      },
      h("h2", {}, isNew ? "New article" : `Edit: ${a.title}`),
      field("art-id", "Id", id),
      field("art-title", "Title", title),
      field("art-issue", "Issue type", issue),
      field("art-tags", "Tags (comma-separated)", tags),
      field("art-questions", "Example questions (one per line)", questions),
      field("art-body", "Body (Markdown)", body),
      h(
        "div",
        { class: "dialog-buttons" },
        isNew
          ? null
          : h(
              "button",
              {
                class: "btn danger",
                type: "button",
                onclick: async () => {
                  if (!confirm(`Retire “${a.title}”? The AI stops using it.`)) return;
                  try {
                    await app.api.delete(`/v1/kb/articles/${encodeURIComponent(a.id)}`);
                    app.toast("Retired.");
                    renderKnowledge(container, app);
                  } catch (error) {
                    app.toast(error.message, "bad");
                  }
                },
              },
              "Retire",
            ),
        h("button", { class: "btn primary", type: "submit" }, "Save"),
      ),
    );
    fill(editor, form);
    title.focus();
  };

  showList();
  fill(
    container,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Knowledge base"), h("span", { class: "muted" }, `${articles.length} articles · revision ${revision}`), h("button", { class: "btn", type: "button", onclick: () => edit(null) }, "New article")),
      h("form", { class: "inline-form", onsubmit: search }, h("label", { for: "kb-q" }, "Search"), query, h("button", { class: "btn", type: "submit" }, "Search")),
      results,
      h("div", { class: "kb-columns" }, h("div", {}, filter, list), editor),
    ),
  );
}

// ---- Policy -------------------------------------------------------------------------------

export async function renderPolicy(container, app) {
  const status = await app.api.get("/v1/policy");
  const policy = status.policy || {};
  const thresholds = Object.entries(policy.thresholds || {});
  fill(
    container,
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Escalation policy"),
      h(
        "div",
        { class: `policy-status ${status.status}` },
        status.status === "active" ? badge("valid · in force", "good") : badge("latest change rejected", "bad"),
        h("span", {}, ` ${status.name || "Unnamed policy"} · version ${status.version.slice(0, 12)} · ${status.source || "built in"} · loaded ${dateTime(status.loaded_at)}`),
        status.rejected
          ? h("p", { class: "rejected" }, `Rejected ${dateTime(status.rejected.at)}${status.rejected.line ? `, line ${status.rejected.line}` : ""}: ${status.rejected.message}. The version above stays in force.`)
          : null,
      ),
      h("h2", {}, "Thresholds"),
      h("table", { class: "grid narrow-table" }, h("tbody", {}, thresholds.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k === "off" ? "triggers turned off" : words(k)), h("td", {}, Array.isArray(v) ? v.map(words).join(", ") || "none" : String(v)))))),
      h("h2", {}, "Always to a person"),
      h("p", {}, (policy.always_human || []).map((t) => badge(words(t), "issue"))),
      h("h2", {}, "Teams"),
      h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, ["Team", "Skills", "Tiers", "Overflow"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, (policy.teams || []).map((t) => h("tr", {}, h("td", {}, h("strong", {}, t.display_name), h("div", { class: "muted small" }, t.name)), h("td", {}, (t.skills || []).map((s) => badge(words(s)))), h("td", {}, (t.tiers || []).join(", ") || "all"), h("td", {}, t.overflow || "—")))),
      ),
      h("h2", {}, "Segments and routing"),
      h("details", {}, h("summary", {}, "The whole policy as compiled (JSON)"), h("pre", { class: "json" }, JSON.stringify(policy, null, 2))),
    ),
  );
}
