// Relay, the demo product: a small single-page app whose pages are <template>s in the shell.
// Moving between pages is a history.pushState route change, as in most modern products, so
// the widget's page trail follows single-page-app navigation. Buttons marked
// data-baton-action are reported by the widget on click; errors shown to the user are
// reported through window.Baton.track. Under `baton demo` the server signs Jordan Avery in:
// the widget tag carries their identity token, unless the page was opened with ?as=visitor.

const PAGES = {
  dashboard: "Dashboard",
  billing: "Billing",
  settings: "Settings",
  integrations: "Integrations",
};

const main = document.getElementById("main");
const widgetTag = document.querySelector('script[src="/widget.js"]');
const signedIn = Boolean(widgetTag && widgetTag.dataset.identityToken);
/** Kept across route changes: ?as=visitor shows the product to an anonymous visitor. */
const query = location.search;
const toast = document.querySelector(".toast");
let toastTimer = null;

function pageOf(pathname) {
  const name = pathname.replace(/\/+$/, "").split("/").pop();
  return PAGES[name] ? name : "dashboard";
}

/** Reports to Baton once the widget has loaded (it loads after this module). */
function report(kind, details) {
  if (window.Baton) window.Baton.track(kind, details);
  else addEventListener("DOMContentLoaded", () => window.Baton && window.Baton.track(kind, details), { once: true });
}

function render(focus) {
  const page = pageOf(location.pathname);
  const template = document.getElementById(`page-${page}`);
  main.replaceChildren(template.content.cloneNode(true));
  document.title = `${PAGES[page]} · Relay`;
  for (const link of document.querySelectorAll("nav a[data-route]")) {
    if (pageOf(new URL(link.href).pathname) === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const banner of main.querySelectorAll("[data-error]")) {
    report("error", { label: "Error shown on the page", detail: banner.dataset.error });
  }
  if (focus) main.focus();
}

/** Who the chat knows: the signed-in customer, or an anonymous visitor, with the switch. */
function showIdentity() {
  const line = document.getElementById("identity");
  const here = location.pathname;
  const link = document.createElement("a");
  if (signedIn) {
    link.href = `${here}?as=visitor`;
    link.textContent = "View as an anonymous visitor";
    line.replaceChildren("Signed in as Jordan Avery · Acme Logistics · Pro — the chat knows you. ", link);
  } else {
    link.href = here;
    link.textContent = "Sign in as Jordan Avery";
    line.replaceChildren("Anonymous visitor. ", link);
  }
}

function say(text) {
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.hidden = true), 4000);
}

document.addEventListener("click", (e) => {
  const link = e.target.closest("a[data-route]");
  if (link && !e.metaKey && !e.ctrlKey && !e.shiftKey && e.button === 0) {
    e.preventDefault();
    const target = new URL(link.href);
    target.search = query;
    if (target.href !== location.href) {
      history.pushState({}, "", target.href);
      render(true);
    }
    return;
  }
  const button = e.target.closest("button[data-baton-action]");
  if (!button || button.type === "submit") return;
  switch (button.dataset.batonAction) {
    case "retry-payment": {
      const message = "Payment failed again: the card ending 4242 was declined (card_declined).";
      say(message);
      report("error", { label: "Payment retry failed", detail: message });
      break;
    }
    case "download-invoice":
      say(`Downloading ${button.closest("tr").cells[0].textContent}…`);
      break;
    case "connect-jira":
      say("Connecting to Jira…");
      // The integration's callback fails: an uncaught error, as a real bug would be.
      setTimeout(() => {
        throw new Error("Jira OAuth callback failed: state mismatch");
      }, 300);
      break;
    default:
      say(`${button.textContent.trim()}: done (this is a demo).`);
  }
});

document.addEventListener("submit", (e) => {
  e.preventDefault();
  say("Saved (this is a demo).");
});

addEventListener("popstate", () => render(false));
render(false);
showIdentity();
