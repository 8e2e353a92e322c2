// Small DOM helpers shared by the console's modules. Text is always set as text: nothing
// that comes from a customer, an agent or the API is ever parsed as markup.

/** Builds an element: `h("button", {class: "x", onclick}, "text", child)`. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "value") element.value = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An SVG element (for icons and the sentiment sparkline). */
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  for (const child of children.flat()) if (child) element.append(child);
  return element;
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** "3 min", "1 h 5 min", "42 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

export function since(iso) {
  return duration((Date.now() - Date.parse(iso)) / 1000);
}

export function clock(iso) {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** A small coloured label; `kind` picks the colour. */
export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}`.trim() }, text);
}

/** Words for machine names: `explicit_request` → "explicit request". */
export function words(name) {
  return String(name || "").replace(/_/g, " ");
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
}

/** Only web links become links. */
export function safeHref(url) {
  try {
    const resolved = new URL(url, location.origin);
    return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : null;
  } catch {
    return null;
  }
}

/** A link when the URL is a web address, plain text otherwise. */
export function link(url, text) {
  const href = url ? safeHref(url) : null;
  return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text ?? url) : h("span", {}, text ?? url ?? "");
}

/** Is the keyboard focus in something the user types into? */
export function typing(event) {
  const t = event.target;
  return t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}

/**
 * AI answers quote articles written in Markdown: `**bold**` and `` `code` `` become elements,
 * built as nodes (never parsed as markup); everything else stays text.
 */
export function emphasis(text) {
  return String(text ?? "")
    .split(/(\*\*[^*\n]+\*\*|`[^`\n]+`)/)
    .map((part, i) => {
      if (i % 2 === 0) return document.createTextNode(part);
      return part.startsWith("**") ? h("strong", {}, part.slice(2, -2)) : h("code", {}, part.slice(1, -1));
    });
}
