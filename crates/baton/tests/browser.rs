//! The widget and the console in a real browser (headless Chromium driven over WebDriver):
//! a customer on the demo product's billing page gets an AI answer with a link, asks for a
//! person, and an agent in a second browser session sees the offer with its brief, accepts,
//! replies, resolves; the customer sees it all and rates. And customer text that looks like
//! markup shows as text in the console and runs nothing. And an admin manages agents, edits
//! an article the AI then finds, and sees the policy in force. And a customer waiting while
//! nobody is on sees their place in line once an agent comes online, and the agent takes
//! them from the queue.
//!
//! Needs `chromedriver` (and Chromium): `/usr/bin/chromedriver`, or `BATON_CHROMEDRIVER`.
//! Without it the tests are skipped with a message, unless `BATON_REQUIRE_BROWSER=1`, which
//! makes them fail. Screenshots go to `target/screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{BIN, Backend, Server, TestDatabase, create_agent, create_staff};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One browser scenario at a time: each starts a server, a driver and two browsers, which is
/// plenty for a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(30);

fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("BATON_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var("BATON_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "BATON_REQUIRE_BROWSER=1 but there is no chromedriver at {} (install the Debian packages chromium and chromium-driver)",
        path.display()
    );
    eprintln!(
        "skipping the browser test: no chromedriver at {} (install chromium and chromium-driver, or set BATON_CHROMEDRIVER)",
        path.display()
    );
    None
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("screenshots"))
        .unwrap_or_else(|| PathBuf::from("target/screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// `baton demo` on a fresh SQLite file, with the keys it printed.
struct Demo {
    base: String,
    keys: Vec<(String, String)>,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Demo {
        let dir = tempfile::tempdir().expect("temp dir");
        let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kb");
        let mut child = Command::new(BIN)
            .arg("demo")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--database")
            .arg(format!(
                "sqlite://{}",
                dir.path().join("baton.db").display()
            ))
            .arg("--kb")
            .arg(&kb)
            .current_dir(dir.path())
            .env("BATON_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start baton demo");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut keys = Vec::new();
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                .await
                .expect("baton demo ready within 120 s")
                .expect("read stdout")
                .expect("baton demo exited before it was ready");
            if let Some(base) = line.strip_prefix("listening on ") {
                break base.to_string();
            }
            if let Some(key) = line
                .split_whitespace()
                .last()
                .filter(|w| w.starts_with("bk_"))
            {
                let name = line.trim_start().split("  ").next().unwrap_or("").trim();
                keys.push((name.to_string(), key.to_string()));
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        assert_eq!(keys.len(), 4, "three agents and an admin: {keys:?}");
        Demo {
            base,
            keys,
            _child: child,
            _dir: dir,
        }
    }

    fn key(&self, name: &str) -> &str {
        &self
            .keys
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no key for {name}"))
            .1
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A chromedriver process and the browser sessions it drives.
struct Driver {
    url: String,
    _child: Child,
}

impl Driver {
    async fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Driver { url, _child: child };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start on port {port}");
    }

    /// A new headless browser session, 1280×800.
    async fn browser(&self) -> Client {
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,800", "--lang=en-US"],
        });
        for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
            if Path::new(binary).exists() {
                options["binary"] = json!(binary);
                break;
            }
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_string(), options);
        ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

async fn css(client: &Client, selector: &str) -> Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("no {selector} within {WAIT:?}: {e}"))
}

/// Polls a script until it returns something other than null/false.
async fn until(client: &Client, what: &str, script: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let value = client.execute(script, vec![]).await.expect("script");
        if !value.is_null() && value != json!(false) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The widget's shadow root.
const WIDGET: &str = "document.querySelector('#baton-widget').shadowRoot";

/// Types into the widget and sends, as a customer does (Enter sends).
async fn customer_says(client: &Client, text: &str) {
    let host = css(client, "#baton-widget").await;
    let root = host.shadow_root().await.expect("the widget's shadow root");
    let input = root
        .find(Locator::Css("#baton-input"))
        .await
        .expect("message box");
    input.send_keys(text).await.expect("type");
    input.send_keys("\u{E007}").await.expect("Enter");
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(name), png).expect("write screenshot");
}

/// Signs a staff member into the console.
async fn sign_in(client: &Client, demo: &Demo, name: &str) {
    sign_in_with_key(client, &demo.url("/console"), demo.key(name)).await;
}

/// Signs into the console at `console` (its URL) with an API key.
async fn sign_in_with_key(client: &Client, console: &str, key: &str) {
    client.goto(console).await.expect("console");
    css(client, "#key")
        .await
        .send_keys(key)
        .await
        .expect("type the key");
    css(client, "#sign-in")
        .await
        .click()
        .await
        .expect("sign in");
    css(client, "nav a[href='#/inbox']").await;
}

/// Signs the agent into the console and sets them online.
async fn agent_online(client: &Client, demo: &Demo, name: &str) {
    sign_in(client, demo, name).await;
    go_online(client).await;
}

/// Sets the agent signed into the console online, and waits for their stream.
async fn go_online(client: &Client) {
    css(client, "#presence")
        .await
        .select_by_value("online")
        .await
        .expect("go online");
    until(
        client,
        "the agent is online",
        "return document.querySelector('#presence-dot.online') !== null",
    )
    .await;
    until(
        client,
        "the agent stream is live",
        "return document.querySelector('#live.up') !== null",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_gets_an_answer_then_a_person_who_resolves_and_is_rated() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let demo = Demo::start().await;
    let driver = Driver::start(&driver_path).await;
    let agent = driver.browser().await;
    let customer = driver.browser().await;

    // The agent signs in first and takes conversations.
    agent_online(&agent, &demo, "Priya Raman").await;

    // A customer on the billing page asks something the knowledge base answers.
    customer
        .goto(&demo.url("/demo/billing"))
        .await
        .expect("demo billing page");
    open_widget(&customer).await;
    customer_says(&customer, "Where can I download my invoices?").await;
    let link = until(
        &customer,
        "an AI answer with an article link",
        &format!("const a = {WIDGET}.querySelector('.msg.ai .articles a'); return a && a.href"),
    )
    .await;
    assert!(
        link.as_str().unwrap_or("").contains("/kb/"),
        "the answer links to the article: {link}"
    );

    // The customer asks for a person; the agent gets the offer with the brief.
    customer_says(&customer, "Thanks, but I'd like to talk to a human please").await;
    until(
        &customer,
        "the customer is told they wait for a person",
        &format!("return /in line|Connecting you with someone/.test({WIDGET}.querySelector('.status').textContent)"),
    )
    .await;
    css(&agent, "#accept").await;
    until(
        &agent,
        "the brief shows the trigger",
        "return [...document.querySelectorAll('.why .badge.trigger')].some(b => b.textContent === 'Asked for a person')",
    )
    .await;
    let page = until(
        &agent,
        "the brief shows the page the customer is on",
        "const a = document.querySelector('#brief .current-page a'); return a && a.href",
    )
    .await;
    assert!(
        page.as_str().unwrap_or("").ends_with("/demo/billing"),
        "page in the brief: {page}"
    );
    let trail = css(&agent, "#brief .trail")
        .await
        .text()
        .await
        .expect("trail");
    assert!(trail.contains("/demo/billing"), "page trail: {trail}");

    // Accept, and reply (the box holds the suggested opening line).
    css(&agent, "#accept").await.click().await.expect("accept");
    let reply = css(&agent, "#tab-reply:not([disabled])").await;
    drop(reply);
    let opening = until(
        &agent,
        "the reply box is prefilled with the opening line",
        "const t = document.querySelector('#reply'); return t && t.value",
    )
    .await;
    assert!(!opening.as_str().unwrap_or("").is_empty());
    let reply_box = css(&agent, "#reply").await;
    reply_box.clear().await.expect("clear");
    reply_box
        .send_keys(
            "Hi, I'm Priya from Billing. I've sent invoice RLY-2026-004817 to your billing email.",
        )
        .await
        .expect("type the reply");
    until(
        &customer,
        "the customer sees the agent typing",
        &format!("const t = {WIDGET}.querySelector('.typing:not([hidden])'); return t && t.getAttribute('aria-label') === 'Priya Raman is typing'"),
    )
    .await;
    css(&agent, "#send").await.click().await.expect("send");
    until(
        &agent,
        "the reply is in the console's transcript",
        "return [...document.querySelectorAll('.ev.message.agent .text')].some(e => e.textContent.includes('RLY-2026-004817'))",
    )
    .await;
    // Passing notifications would hide part of the brief in the picture.
    agent
        .execute(
            "document.getElementById('toasts').replaceChildren(); return true",
            vec![],
        )
        .await
        .expect("clear notifications");
    save_screenshot(&agent, "console.png").await;

    // The customer sees who joined and the reply.
    until(
        &customer,
        "the customer sees the agent join",
        &format!("return [...{WIDGET}.querySelectorAll('.msg.system')].some(e => /Priya Raman from Billing joined|Priya Raman from Support joined|Priya Raman joined/.test(e.textContent))"),
    )
    .await;
    until(
        &customer,
        "the customer sees the agent's reply",
        &format!("return [...{WIDGET}.querySelectorAll('.msg.agent')].some(e => e.textContent.includes('RLY-2026-004817'))"),
    )
    .await;
    save_screenshot(&customer, "widget.png").await;

    // The agent resolves with a note and tags.
    css(&agent, "#resolve")
        .await
        .click()
        .await
        .expect("resolve");
    css(&agent, "#resolve-note")
        .await
        .send_keys("Resent the November invoice.")
        .await
        .expect("note");
    css(&agent, "#resolve-tags")
        .await
        .send_keys("invoice, billing")
        .await
        .expect("tags");
    css(&agent, "#dialog-ok")
        .await
        .click()
        .await
        .expect("confirm");
    until(
        &agent,
        "the console shows the handoff resolved",
        "const b = document.querySelector('.conv-title .badge.status'); return b && b.textContent === 'resolved'",
    )
    .await;

    // The customer rates the conversation.
    until(
        &customer,
        "the customer is asked to rate",
        &format!("return {WIDGET}.querySelector('.card.rating') !== null"),
    )
    .await;
    let root = css(&customer, "#baton-widget")
        .await
        .shadow_root()
        .await
        .expect("shadow root");
    root.find(Locator::Css(".card.rating [data-score=\"5\"]"))
        .await
        .expect("five stars")
        .click()
        .await
        .expect("pick 5");
    root.find(Locator::Css(".card.rating button[type=submit]"))
        .await
        .expect("send rating")
        .click()
        .await
        .expect("send the rating");
    until(
        &customer,
        "the rating is confirmed",
        &format!("return [...{WIDGET}.querySelectorAll('.msg.system')].some(e => e.textContent.includes('rated this conversation 5 out of 5'))"),
    )
    .await;

    customer
        .close()
        .await
        .expect("close the customer's browser");
    agent.close().await.expect("close the agent's browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_customer_message_shows_as_text_in_the_console() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let demo = Demo::start().await;
    let driver = Driver::start(&driver_path).await;
    let agent = driver.browser().await;
    agent_online(&agent, &demo, "Sam Okafor").await;
    // Anything that would run: an alert, or a blocked inline handler (a CSP violation).
    agent
        .execute(
            "window.__ran = []; window.alert = m => window.__ran.push('alert ' + m); \
             document.addEventListener('securitypolicyviolation', e => window.__ran.push('csp ' + e.violatedDirective)); \
             return true",
            vec![],
        )
        .await
        .expect("watch for script");

    // The customer writes through the API, as any client may.
    let http = reqwest::Client::new();
    let opened: Value = http
        .post(demo.url("/v1/conversations"))
        .json(&json!({"page": {"url": demo.url("/demo/settings")}}))
        .send()
        .await
        .expect("open")
        .json()
        .await
        .expect("json");
    let (id, token) = (
        opened["id"].as_str().expect("id"),
        opened["token"].as_str().expect("token"),
    );
    let payload = "<img src=x onerror=alert(1)>";
    for (n, text) in [
        payload.to_string(),
        format!("{payload} I want to talk to a person"),
    ]
    .iter()
    .enumerate()
    {
        let status = http
            .post(demo.url(&format!("/v1/conversations/{id}/messages")))
            .bearer_auth(token)
            .json(&json!({"client_msg_id": format!("x{n}"), "text": text}))
            .send()
            .await
            .expect("post")
            .status();
        assert!(status.is_success(), "{status}");
    }

    // The offer opens with its transcript; the payload is text.
    css(&agent, "#accept").await;
    until(
        &agent,
        "the message shows literally",
        &format!(
            "return [...document.querySelectorAll('.ev.message.customer .text')].some(e => e.textContent === {})",
            json!(payload)
        ),
    )
    .await;
    let images: Value = agent
        .execute(
            "return document.querySelectorAll('img:not([src^=\"/console/\"])').length",
            vec![],
        )
        .await
        .expect("count images");
    assert_eq!(images, json!(0), "no image element was created");
    let ran: Value = agent
        .execute("return window.__ran", vec![])
        .await
        .expect("read");
    assert_eq!(ran, json!([]), "nothing ran: {ran}");
    save_screenshot(&agent, "console-markup.png").await;
    agent.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_agents_articles_and_sees_the_policy() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let demo = Demo::start().await;
    let driver = Driver::start(&driver_path).await;
    let admin = driver.browser().await;
    sign_in(&admin, &demo, "Morgan Lee").await;
    let http = reqwest::Client::new();

    // A new agent: the key is shown once, and it works.
    admin
        .goto(&demo.url("/console#/agents"))
        .await
        .expect("agents page");
    css(&admin, "#new-name")
        .await
        .send_keys("Jamie Doe")
        .await
        .expect("name");
    css(&admin, ".inline-form button[type=submit]")
        .await
        .click()
        .await
        .expect("create");
    let key = until(
        &admin,
        "the new agent's key is shown",
        "const k = document.querySelector('.key-box code.key'); return k && k.textContent",
    )
    .await;
    let key = key.as_str().expect("key text").to_string();
    assert!(key.starts_with("bk_"), "{key}");
    let me: Value = http
        .get(demo.url("/v1/agent/me"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["agent"]["name"], "Jamie Doe", "{me}");
    until(
        &admin,
        "the agent is listed",
        "return [...document.querySelectorAll('table.grid td strong')].some(e => e.textContent === 'Jamie Doe')",
    )
    .await;

    // An article edited in the console: the AI finds it by its new example question at once.
    admin
        .goto(&demo.url("/console#/kb"))
        .await
        .expect("knowledge base page");
    css(&admin, "#kb-filter")
        .await
        .send_keys("download-invoice")
        .await
        .expect("filter");
    css(&admin, ".article-list button.link")
        .await
        .click()
        .await
        .expect("open the article");
    let questions = css(&admin, "#art-questions").await;
    questions
        .send_keys("\nwhere do the zorblax statements live")
        .await
        .expect("add a question");
    css(&admin, ".article-form button[type=submit]")
        .await
        .click()
        .await
        .expect("save");
    until(
        &admin,
        "the save is confirmed",
        "return [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('revision'))",
    )
    .await;
    css(&admin, "#kb-q")
        .await
        .send_keys("where do the zorblax statements live?")
        .await
        .expect("search text");
    css(&admin, "form.inline-form button[type=submit]")
        .await
        .click()
        .await
        .expect("search");
    let first = until(
        &admin,
        "the search lists the edited article first",
        "const li = document.querySelector('.search-results ol li'); return li && li.textContent",
    )
    .await;
    assert!(
        first.as_str().unwrap_or("").contains("download-invoice"),
        "first result: {first}"
    );

    // The policy in force, with its validation status.
    admin
        .goto(&demo.url("/console#/policy"))
        .await
        .expect("policy page");
    let status = until(
        &admin,
        "the policy status is shown",
        "const s = document.querySelector('.policy-status'); return s && s.textContent",
    )
    .await;
    assert!(
        status.as_str().unwrap_or("").contains("valid · in force"),
        "{status}"
    );
    save_screenshot(&admin, "console-policy.png").await;
    admin.close().await.expect("close the browser");
}

// ---- The widget on its own: the signed-in customer, page context, accessibility -------------

/// A question the demo knowledge base answers with a clarifying question (two close articles).
const CLARIFYING_QUESTION: &str = "How do I set up single sign-on?";

/// The demo customer's conversation id, from the widget's storage.
const JORDAN_CONVERSATION: &str = "const k = Object.keys(localStorage).find(k => k.endsWith(':relay-user-jordan-avery')); \
     return k && JSON.parse(localStorage.getItem(k) || 'null')?.id";

/// An agent API read, as staff.
async fn staff_get(demo: &Demo, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(demo.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.expect("json")
}

/// Polls the conversation's full timeline (agent API) until `check` holds; returns it.
async fn until_timeline(
    demo: &Demo,
    key: &str,
    id: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = staff_get(
            demo,
            key,
            &format!("/v1/agent/conversations/{id}/events?limit=1000"),
        )
        .await;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if check(&events) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}; timeline: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn page_events<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events
        .iter()
        .filter(move |e| e["type"] == "page_event" && e["kind"] == kind)
}

/// Opens the chat panel with the bubble (unless it is open: it stays open across reloads).
async fn open_widget(client: &Client) {
    let open: Value = client
        .execute(
            "const w = document.querySelector('#baton-widget'); return Boolean(w && !w.shadowRoot.querySelector('.panel').hidden)",
            vec![],
        )
        .await
        .expect("script");
    if open == json!(true) {
        return;
    }
    let root = css(client, "#baton-widget")
        .await
        .shadow_root()
        .await
        .expect("shadow root");
    root.find(Locator::Css(".bubble"))
        .await
        .expect("chat bubble")
        .click()
        .await
        .expect("open the chat");
    until(
        client,
        "the panel opens",
        &format!("return !{WIDGET}.querySelector('.panel').hidden"),
    )
    .await;
}

/// The `seq` of every event the widget shows, in order.
const SHOWN_SEQS: &str = "return [...document.querySelector('#baton-widget').shadowRoot.querySelectorAll('.log [data-seq]')].map(e => Number(e.dataset.seq))";

async fn shown_seqs(client: &Client) -> Vec<i64> {
    let value = client.execute(SHOWN_SEQS, vec![]).await.expect("script");
    serde_json::from_value(value).expect("numbers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_knows_the_signed_in_customer_and_the_page_they_are_on() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let demo = Demo::start().await;
    let driver = Driver::start(&driver_path).await;
    let admin = demo.key("Morgan Lee").to_string();
    let customer = driver.browser().await;

    // The demo product signs Jordan Avery in: the widget tag carries the identity token.
    customer
        .goto(&demo.url("/demo/dashboard"))
        .await
        .expect("demo dashboard");
    let identity = css(&customer, "#identity")
        .await
        .text()
        .await
        .expect("identity line");
    assert!(identity.contains("Signed in as Jordan Avery"), "{identity}");
    customer
        .execute(
            "window.__ran = []; window.alert = m => window.__ran.push('alert ' + m); return true",
            vec![],
        )
        .await
        .expect("watch for script");
    open_widget(&customer).await;

    // A clarifying question offers its choices as buttons, without "did this help?"; once
    // one is taken they are all spent.
    customer_says(&customer, CLARIFYING_QUESTION).await;
    until(
        &customer,
        "the clarifying question's choices",
        &format!("return {WIDGET}.querySelectorAll('.msg.ai .choices button.choice').length >= 2"),
    )
    .await;
    let feedback_on_clarify: Value = customer
        .execute(
            &format!("return {WIDGET}.querySelector('.msg.ai .choices').closest('.msg').querySelector('.helpful') !== null"),
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        feedback_on_clarify,
        json!(false),
        "no feedback on a clarifying question"
    );
    let root = css(&customer, "#baton-widget")
        .await
        .shadow_root()
        .await
        .expect("shadow root");
    let choice = root
        .find(Locator::Css(".msg.ai .choices button.choice"))
        .await
        .expect("a choice");
    let chosen = choice.text().await.expect("choice text");
    choice.click().await.expect("take a choice");
    until(
        &customer,
        "the choice is sent as the customer's message and the choices are spent",
        &format!(
            "const w = {WIDGET}; return [...w.querySelectorAll('.msg.customer:not(.pending)')].some(m => m.textContent.endsWith({})) \
             && [...w.querySelectorAll('.choices button')].every(b => b.disabled)",
            json!(chosen)
        ),
    )
    .await;

    // The conversation belongs to the identified customer: account and tier, and the
    // earlier conversation `baton demo` seeded.
    let id = until(&customer, "the conversation is open", JORDAN_CONVERSATION).await;
    let id = id.as_str().expect("conversation id").to_string();
    let detail = staff_get(&demo, &admin, &format!("/v1/agent/conversations/{id}")).await;
    assert_eq!(detail["customer"]["name"], "Jordan Avery", "{detail}");
    assert_eq!(detail["account"]["name"], "Acme Logistics", "{detail}");
    assert_eq!(detail["account"]["tier"], "pro", "{detail}");
    let history = staff_get(
        &demo,
        &admin,
        &format!("/v1/agent/conversations/{id}/history"),
    )
    .await;
    let earlier = history["conversations"].as_array().expect("history");
    assert!(
        earlier.iter().any(|c| c["state"] == "resolved"),
        "an earlier conversation: {history}"
    );

    // "Did this help?" on an answer; "No" is recorded and offers a person.
    customer_says(&customer, "Where can I download my invoices?").await;
    until(
        &customer,
        "the invoice answer asks whether it helped",
        &format!("return [...{WIDGET}.querySelectorAll('.msg.ai')].some(m => m.querySelector('a[href$=\"/kb/download-invoice\"]') && m.querySelector('.helpful button'))"),
    )
    .await;
    let buttons = root
        .find_all(Locator::Css(".msg.ai .helpful button"))
        .await
        .expect("feedback buttons");
    let mut no = None;
    for button in buttons {
        if button.text().await.expect("text") == "No" {
            no = Some(button);
        }
    }
    no.expect("a No button")
        .click()
        .await
        .expect("say it did not help");
    until(
        &customer,
        "the next step is offered",
        &format!("return [...{WIDGET}.querySelectorAll('.helpful button')].some(b => b.textContent === 'Talk to a person')"),
    )
    .await;
    until_timeline(&demo, &admin, &id, "the feedback is recorded", |events| {
        events
            .iter()
            .any(|e| e["type"] == "feedback" && e["helpful"] == false)
    })
    .await;

    // Escape closes the panel and gives focus back to the bubble; from the bubble too (the
    // panel then leaves the product's page free to use).
    let input = root
        .find(Locator::Css("#baton-input"))
        .await
        .expect("input");
    input.click().await.expect("focus the message box");
    input.send_keys("\u{E00C}").await.expect("Escape");
    until(
        &customer,
        "Escape closes the panel and focus returns to the bubble",
        &format!("const w = {WIDGET}; return w.querySelector('.panel').hidden && w.activeElement === w.querySelector('.bubble')"),
    )
    .await;
    open_widget(&customer).await;
    let bubble = root.find(Locator::Css(".bubble")).await.expect("bubble");
    customer
        .execute(
            &format!("{WIDGET}.querySelector('.bubble').focus(); return true"),
            vec![],
        )
        .await
        .expect("focus the bubble");
    bubble.send_keys("\u{E00C}").await.expect("Escape");
    until(
        &customer,
        "Escape from the bubble closes the panel",
        &format!("return {WIDGET}.querySelector('.panel').hidden"),
    )
    .await;

    // Page context: a single-page-app route change, a marked button, and errors shown to the
    // user (the billing page's banner is reported on every visit, but recorded once).
    for path in ["/demo/billing", "/demo/dashboard", "/demo/billing"] {
        css(&customer, &format!("nav a[href='{path}']"))
            .await
            .click()
            .await
            .expect("navigate");
        until(
            &customer,
            "the route changed",
            &format!("return location.pathname === {}", json!(path)),
        )
        .await;
    }
    css(&customer, "button[data-baton-action='retry-payment']")
        .await
        .click()
        .await
        .expect("retry the payment");
    let events = until_timeline(
        &demo,
        &admin,
        &id,
        "page views, the click and the errors are recorded",
        |events| {
            page_events(events, "page_view")
                .filter(|e| {
                    e["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("/demo/billing"))
                })
                .count()
                >= 2
                && page_events(events, "click").any(|e| e["label"] == "retry-payment")
                && page_events(events, "error").any(|e| {
                    e["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("Payment failed again"))
                })
        },
    )
    .await;
    let banner = page_events(&events, "error")
        .filter(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Your last payment failed"))
        })
        .count();
    assert_eq!(banner, 1, "the same error is recorded once: {events:?}");

    open_widget(&customer).await;
    // Customer text that looks like markup is text in the widget too.
    let payload = "<img src=x onerror=alert(1)>";
    customer_says(&customer, payload).await;
    until(
        &customer,
        "the markup shows literally",
        &format!(
            "return [...{WIDGET}.querySelectorAll('.msg.customer:not(.pending)')].some(m => m.textContent.endsWith({}))",
            json!(payload)
        ),
    )
    .await;
    let images: Value = customer
        .execute(
            &format!("return {WIDGET}.querySelectorAll('img').length"),
            vec![],
        )
        .await
        .expect("count images");
    assert_eq!(images, json!(0), "no image element was created");
    let ran: Value = customer
        .execute("return window.__ran", vec![])
        .await
        .expect("read");
    assert_eq!(ran, json!([]), "nothing ran: {ran}");

    // A reload reconnects and replays: every message once, nothing lost.
    until(
        &customer,
        "the AI replied to the last message",
        &format!(
            "const shown = [...{WIDGET}.querySelectorAll('.log [data-seq]')]; \
             const last = shown.map(e => e.classList.contains('customer')).lastIndexOf(true); \
             return last >= 0 && last < shown.length - 1"
        ),
    )
    .await;
    let before = shown_seqs(&customer).await;
    assert!(before.len() >= 8, "{before:?}");
    customer.refresh().await.expect("reload");
    open_widget(&customer).await;
    let count = before.len();
    until(
        &customer,
        "the history is back after the reload",
        &format!("return document.querySelector('#baton-widget').shadowRoot.querySelectorAll('.log [data-seq]').length >= {count}"),
    )
    .await;
    let after = shown_seqs(&customer).await;
    assert_eq!(after, before, "the same events, once each, in order");

    // The same customer on a phone, a new device: the open conversation's history shows as
    // soon as they open the chat, and the panel fits the screen.
    let phone = driver.browser().await;
    phone
        .set_window_size(375, 760)
        .await
        .expect("a phone-sized window");
    phone
        .goto(&demo.url("/demo/dashboard"))
        .await
        .expect("demo dashboard");
    open_widget(&phone).await;
    until(
        &phone,
        "the open conversation's history on the new device",
        &format!("return document.querySelector('#baton-widget').shadowRoot.querySelectorAll('.log [data-seq]').length >= {count}"),
    )
    .await;
    let fits: Value = phone
        .execute(
            &format!(
                "const w = {WIDGET}; const p = w.querySelector('.panel').getBoundingClientRect(); \
                 const send = w.querySelector('.composer .primary').getBoundingClientRect(); \
                 return {{width: document.documentElement.clientWidth, panel: p.width, bubble: getComputedStyle(w.querySelector('.bubble')).display, \
                 send: send.right <= innerWidth && send.bottom <= innerHeight && send.width > 0}}"
            ),
            vec![],
        )
        .await
        .expect("measure");
    assert!(fits["width"].as_f64().unwrap_or(1000.0) <= 480.0, "{fits}");
    assert_eq!(
        fits["panel"], fits["width"],
        "the panel fills the screen: {fits}"
    );
    assert_eq!(
        fits["bubble"], "none",
        "the bubble does not cover the panel: {fits}"
    );
    assert_eq!(fits["send"], true, "Send is on screen: {fits}");

    // Asking for a person from the phone: the brief knows who they are.
    customer_says(&phone, "I'd like to talk to a person please").await;
    until(
        &phone,
        "the customer is told a person will reply",
        &format!("return /Nobody from .+ is on right now|is away — |Waiting for|Connecting you/.test({WIDGET}.querySelector('.status').textContent)"),
    )
    .await;
    save_screenshot(&phone, "widget-phone.png").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let handoff_id = loop {
        let queue = staff_get(&demo, &admin, "/v1/agent/queue").await;
        if let Some(h) = queue["handoffs"]
            .as_array()
            .and_then(|hs| hs.iter().find(|h| h["conversation_id"] == id.as_str()))
        {
            break h["id"].as_str().expect("handoff id").to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no handoff: {queue}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let handoff = staff_get(&demo, &admin, &format!("/v1/agent/handoffs/{handoff_id}")).await;
    let brief = &handoff["brief"];
    assert_eq!(brief["customer"]["name"], "Jordan Avery", "{brief}");
    assert_eq!(brief["customer"]["anonymous"], false, "{brief}");
    assert_eq!(brief["account"]["tier"], "pro", "{brief}");
    assert_eq!(brief["account"]["name"], "Acme Logistics", "{brief}");

    phone.close().await.expect("close the phone's browser");
    customer.close().await.expect("close the browser");
}

// ---- The console with several people: notes, transfer, live supervision, hand-back ---------

/// Presses keys the way an agent works the console: nothing focused, so they reach its
/// shortcuts.
async fn press(client: &Client, keys: &str) {
    client
        .execute(
            "if (document.activeElement) document.activeElement.blur(); return true",
            vec![],
        )
        .await
        .expect("blur");
    css(client, "body")
        .await
        .send_keys(keys)
        .await
        .expect("press keys");
}

/// Records the console's desktop notifications, with the tab as if it were in the background.
async fn record_notifications(client: &Client) {
    client
        .execute(
            "window.__notified = []; \
             window.Notification = class { \
               constructor(title, options) { window.__notified.push(title + ' | ' + ((options && options.body) || '')); } \
               static get permission() { return 'granted'; } \
               static requestPermission() { return Promise.resolve('granted'); } }; \
             document.hasFocus = () => false; return true",
            vec![],
        )
        .await
        .expect("record notifications");
}

/// The supervisor page's row of a handoff, as a script expression.
fn supervisor_row(handoff_id: &str) -> String {
    format!("document.querySelector('#supervisor-table tr[data-handoff=\"{handoff_id}\"]')")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_note_transfer_and_hand_back_while_a_supervisor_follows_and_reassigns() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let demo = Demo::start().await;
    let driver = Driver::start(&driver_path).await;
    let admin = driver.browser().await;
    let sam = driver.browser().await;
    let dana = driver.browser().await;
    let http = reqwest::Client::new();

    // The supervisor opens the list of every open handoff; it is never reloaded after this.
    sign_in(&admin, &demo, "Morgan Lee").await;
    admin
        .goto(&demo.url("/console#/supervisor"))
        .await
        .expect("supervisor page");
    until(
        &admin,
        "the supervisor page is live",
        "return document.querySelector('#live.up') !== null && [...document.querySelectorAll('.page h1')].some(h => h.textContent === 'All open handoffs')",
    )
    .await;
    admin
        .execute("window.__sameDocument = true; return true", vec![])
        .await
        .expect("mark the page");

    // Sam takes Support's conversations; Dana (Billing) is signed in but away.
    agent_online(&sam, &demo, "Sam Okafor").await;
    sign_in(&dana, &demo, "Dana Whitfield").await;
    css(&dana, "#presence")
        .await
        .select_by_value("away")
        .await
        .expect("away");
    until(
        &dana,
        "Dana is away and live",
        "return document.querySelector('#presence-dot.away') !== null && document.querySelector('#live.up') !== null",
    )
    .await;
    record_notifications(&dana).await;

    // A customer asks for a person (through the API, as any client may).
    let opened: Value = http
        .post(demo.url("/v1/conversations"))
        .json(&json!({"page": {"url": demo.url("/demo/settings")}}))
        .send()
        .await
        .expect("open")
        .json()
        .await
        .expect("json");
    let (id, token) = (
        opened["id"].as_str().expect("id").to_string(),
        opened["token"].as_str().expect("token").to_string(),
    );
    let say = |n: &str, text: &str| {
        let request = http
            .post(demo.url(&format!("/v1/conversations/{id}/messages")))
            .bearer_auth(&token)
            .json(&json!({"client_msg_id": n, "text": text}));
        async move {
            let response = request.send().await.expect("post");
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.expect("json")
        }
    };
    say("m1", "Hi, I would like to talk to a human please").await;

    // The offer opens in Sam's console and appears on the supervisor's page by itself.
    css(&sam, "#accept").await;
    let handoff_id = until(
        &admin,
        "the handoff appears on the supervisor page",
        "const r = document.querySelector('#supervisor-table tr[data-handoff]'); return r && r.dataset.handoff",
    )
    .await;
    let handoff_id = handoff_id.as_str().expect("handoff id").to_string();
    let row = supervisor_row(&handoff_id);

    // Keyboard only: accept, then an internal note (n, Ctrl+Enter).
    press(&sam, "a").await;
    css(&sam, "#tab-reply:not([disabled])").await;
    until(
        &admin,
        "the supervisor sees that Sam has it",
        &format!(
            "const r = {row}; return r && r.querySelector('.holder').textContent === 'Sam Okafor'"
        ),
    )
    .await;
    press(&sam, "n").await;
    css(&sam, "#tab-note[aria-selected='true']").await;
    let note = "Annual plan; the double charge is real, see Stripe.";
    let message_box = css(&sam, "#reply").await;
    message_box.clear().await.expect("clear");
    message_box
        .send_keys(&format!("{note}\u{E009}\u{E007}"))
        .await
        .expect("write the note and send it");
    until(
        &sam,
        "the note shows with its author",
        &format!(
            "return [...document.querySelectorAll('.ev.note')].some(n => n.textContent.includes({}) && n.querySelector('.who').textContent === 'Note · Sam Okafor')",
            json!(note)
        ),
    )
    .await;
    // The customer never sees it.
    let seen: Value = http
        .get(demo.url(&format!("/v1/conversations/{id}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("customer's events")
        .json()
        .await
        .expect("json");
    assert!(
        !seen.to_string().contains("double charge is real"),
        "the customer's timeline holds the note: {seen}"
    );

    // Sam transfers it to Billing (t, then Ctrl+Enter in the note); the supervisor sees it
    // back in Billing's queue.
    press(&sam, "t").await;
    css(&sam, "#transfer-note")
        .await
        .send_keys("Double charge: Billing, please.\u{E009}\u{E007}")
        .await
        .expect("transfer");
    until(
        &admin,
        "the supervisor sees it queued for Billing",
        &format!("const r = {row}; return r && r.querySelector('.badge.status').textContent === 'queued' && r.children[1].textContent === 'Billing'"),
    )
    .await;

    // Dana previews it from her queue; the customer writes meanwhile and she sees it live,
    // with Sam's note under his name.
    let item = format!("[data-handoff='{handoff_id}']");
    css(&dana, &item).await.click().await.expect("preview");
    until(
        &dana,
        "the previewed transcript loads",
        "return [...document.querySelectorAll('.ev.message.customer .text')].some(e => e.textContent.includes('talk to a human'))",
    )
    .await;
    until(
        &dana,
        "Sam's note shows under his name",
        "return [...document.querySelectorAll('.ev.note .who')].some(e => e.textContent === 'Note · Sam Okafor')",
    )
    .await;
    say("m2", "I was charged twice for March").await;
    until(
        &dana,
        "the new message arrives live in the preview",
        "return [...document.querySelectorAll('.ev.message.customer .text')].some(e => e.textContent === 'I was charged twice for March')",
    )
    .await;
    until(
        &admin,
        "the supervisor's list knows Dana",
        &format!("const r = {row}; return r && [...r.querySelectorAll('option')].some(o => o.textContent.startsWith('Dana Whitfield'))"),
    )
    .await;

    // The supervisor gives it to Dana: she is alerted, and it is hers.
    admin
        .execute(
            &format!(
                "const r = {row}; const s = r.querySelector('select'); \
                 s.value = [...s.options].find(o => o.textContent.startsWith('Dana Whitfield')).value; \
                 s.dispatchEvent(new Event('change')); r.querySelector('button.reassign').click(); return true"
            ),
            vec![],
        )
        .await
        .expect("reassign");
    until(
        &dana,
        "Dana gets a desktop notification",
        "return window.__notified.some(n => n.startsWith('A conversation was given to you'))",
    )
    .await;
    until(
        &dana,
        "the conversation is Dana's",
        &format!("const i = document.querySelector(\"{item}\"); return i && i.querySelector('.qi-status').textContent === 'Yours'"),
    )
    .await;
    css(&dana, "#hand-back").await;
    until(
        &admin,
        "the supervisor sees Dana has it",
        &format!("const r = {row}; return r && r.querySelector('.holder').textContent === 'Dana Whitfield'"),
    )
    .await;

    // Dana hands it back to the AI (b, Ctrl+Enter): the customer gets AI answers again and
    // the row leaves the supervisor's page.
    press(&dana, "b").await;
    css(&dana, "#handback-note")
        .await
        .send_keys("Refunded the second charge.\u{E009}\u{E007}")
        .await
        .expect("hand back");
    until(
        &dana,
        "the console shows it handed back",
        "const b = document.querySelector('.conv-title .badge.status'); return b && b.textContent === 'handed back'",
    )
    .await;
    until(
        &admin,
        "the row leaves the supervisor page",
        &format!("return {row} === null"),
    )
    .await;
    let answered = say("m3", "Where can I download my invoices?").await;
    assert!(
        answered["replies"]
            .as_array()
            .is_some_and(|r| r.iter().any(|m| m["role"] == "ai")),
        "the AI answers again: {answered}"
    );

    // Dana takes more conversations at once.
    css(&dana, "#capacity")
        .await
        .send_keys("\u{E009}a\u{E009}7\t")
        .await
        .expect("capacity");
    until(
        &dana,
        "the load shows the new capacity",
        "return document.querySelector('#load').textContent.endsWith('/7')",
    )
    .await;
    let me: Value = http
        .get(demo.url("/v1/agent/me"))
        .bearer_auth(demo.key("Dana Whitfield"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["agent"]["capacity"], 7, "{me}");
    assert_eq!(
        admin
            .execute("return window.__sameDocument === true", vec![])
            .await
            .expect("read"),
        json!(true),
        "the supervisor page was never reloaded"
    );
    save_screenshot(&admin, "console-supervisor.png").await;

    // The admin disables Sam: his console signs out at once.
    admin
        .goto(&demo.url("/console#/agents"))
        .await
        .expect("agents page");
    until(
        &admin,
        "Sam's Disable button is clicked",
        "const r = [...document.querySelectorAll('table.grid tr')].find(r => r.textContent.includes('Sam Okafor') && r.textContent.includes('Disable')); \
         const b = r && [...r.querySelectorAll('button')].find(b => b.textContent === 'Disable'); \
         if (!b) return false; b.click(); return true",
    )
    .await;
    until(
        &sam,
        "Sam is signed out",
        "const e = document.querySelector('.signin .error'); return document.querySelector('#key') !== null && e && e.textContent.includes('signed out')",
    )
    .await;
    let key: Value = sam
        .execute("return sessionStorage.getItem('baton.console.key')", vec![])
        .await
        .expect("read");
    assert_eq!(key, Value::Null, "the key is forgotten");

    dana.close().await.expect("close Dana's browser");
    sam.close().await.expect("close Sam's browser");
    admin.close().await.expect("close the admin's browser");
}

// ---- Waiting for a person: the status line follows the facts; taking from the queue --------

/// One always-open team that offers its conversations one at a time.
const ONE_TEAM_ONE_OFFER_AT_A_TIME: &str = r#"
default_team = "support"

[[teams]]
name = "support"
display_name = "Support"
offers = "one_at_a_time"
"#;

/// The widget's status line, as a script expression.
const STATUS_LINE: &str =
    "document.querySelector('#baton-widget').shadowRoot.querySelector('.status').textContent";

/// The open handoff of a conversation, from the queue as an admin sees it.
async fn handoff_of(server: &Server, admin: &str, conversation_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, queue) = server.get("/v1/agent/queue", Some(admin)).await;
        assert_eq!(status, 200, "{queue}");
        if let Some(handoff) = queue["handoffs"].as_array().and_then(|handoffs| {
            handoffs
                .iter()
                .find(|h| h["conversation_id"] == conversation_id)
        }) {
            return handoff.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no handoff for {conversation_id} within {WAIT:?}: {queue}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_customer_sees_their_place_when_an_agent_comes_online_and_the_agent_takes_them() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDatabase::new(&Backend::Sqlite).await;
    // Offers stay open for the whole test, and every wait is short enough to promise.
    let server = Server::start_with_policy(
        &db,
        ONE_TEAM_ONE_OFFER_AT_A_TIME,
        "offer_timeout_ms = 600000\ntypical_handle_ms = 120000\nmax_wait_ms = 0",
    )
    .await;
    let admin = create_staff(&db.url, "admin", "Ada Admin");
    let sam = create_agent(&server, &admin, "Sam Okafor", &["support"], 2).await;

    // Nobody is on. A first customer asks for a person (through the API, as any client may).
    let (first, first_token) = server.open_conversation(json!({})).await;
    let (status, body) = server
        .post_message(
            &first,
            &first_token,
            "m1",
            "I want to talk to a person please",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let first_handoff = handoff_of(&server, &admin, &first).await;
    let first_handoff = first_handoff["id"]
        .as_str()
        .expect("handoff id")
        .to_string();

    // A second customer asks in the widget: nobody from Support is on, and the status line
    // says so.
    let driver = Driver::start(&driver_path).await;
    let customer = driver.browser().await;
    customer
        .goto(&server.url("/demo/settings"))
        .await
        .expect("demo settings page");
    open_widget(&customer).await;
    let asked = "I'd like to talk to a person about my account settings";
    customer_says(&customer, asked).await;
    let nobody = until(
        &customer,
        "the customer is told nobody from Support is on",
        &format!("const s = {STATUS_LINE}; return s === 'Nobody from Support is on right now — we\\'ll reply here' && s"),
    )
    .await;
    let second = until(
        &customer,
        "the widget's conversation",
        "const k = Object.keys(localStorage).find(k => k.endsWith(':anonymous')); \
         return k && JSON.parse(localStorage.getItem(k) || 'null')?.id",
    )
    .await;
    let second = second.as_str().expect("conversation id").to_string();
    let second_handoff = handoff_of(&server, &admin, &second).await;
    let second_handoff = second_handoff["id"]
        .as_str()
        .expect("handoff id")
        .to_string();

    // Sam comes online: the first customer's conversation is offered to him (one offer at a
    // time), and the second customer sees their place in line instead of "nobody".
    let agent = driver.browser().await;
    sign_in_with_key(&agent, &server.url("/console"), &sam.key).await;
    go_online(&agent).await;
    css(&agent, "#accept").await;
    until(
        &agent,
        "the first customer's conversation is the one offered",
        &format!("const o = document.querySelector('.queue-item.offered.mine'); return o && o.dataset.handoff === {}", json!(first_handoff)),
    )
    .await;
    let line = until(
        &customer,
        "the status line shows the customer's place in line",
        &format!(
            "const s = {STATUS_LINE}; return /^Waiting for Support — 2nd in line/.test(s) && s"
        ),
    )
    .await;
    assert_ne!(line, nobody);
    save_screenshot(&customer, "widget-waiting.png").await;

    // The second customer's card: who (an anonymous visitor), what they wrote, and that they
    // wait; with a Take button.
    let card = format!("document.querySelector('.queue-item[data-handoff=\"{second_handoff}\"]')");
    let shown = until(
        &agent,
        "the waiting customer's card",
        &format!(
            "const c = {card}; return c && c.querySelector('.take') !== null && {{who: c.querySelector('.who').textContent, \
             preview: (c.querySelector('.qi-preview') || {{}}).textContent, status: c.querySelector('.qi-status').textContent}}"
        ),
    )
    .await;
    assert_eq!(shown["who"], "Visitor", "{shown}");
    assert_eq!(shown["preview"], asked, "{shown}");
    assert!(
        shown["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("Waiting")),
        "{shown}"
    );
    save_screenshot(&agent, "console-queue.png").await;

    // Keyboard only: the next card is the waiting customer; p picks it up.
    press(&agent, "j").await;
    until(
        &agent,
        "the waiting conversation is open with its Take button",
        &format!("const c = {card}; return c && c.classList.contains('selected') && document.querySelector('#take') !== null"),
    )
    .await;
    press(&agent, "p").await;
    css(&agent, "#tab-reply:not([disabled])").await;
    until(
        &agent,
        "the card says the conversation is Sam's",
        &format!(
            "const c = {card}; return c && c.querySelector('.qi-status').textContent === 'Yours'"
        ),
    )
    .await;

    // The customer sees who joined, from the notice's fields.
    until(
        &customer,
        "the customer sees Sam join",
        &format!("return {STATUS_LINE} === 'Chatting with Sam Okafor (Support)'"),
    )
    .await;
    until(
        &customer,
        "the chat says Sam joined",
        &format!("return [...{WIDGET}.querySelectorAll('.msg.system')].some(e => e.textContent === 'Sam Okafor from Support joined the conversation.')"),
    )
    .await;
    let (_, handoff) = server
        .get(
            &format!("/v1/agent/handoffs/{second_handoff}"),
            Some(&admin),
        )
        .await;
    assert_eq!(handoff["handoff"]["status"], "assigned", "{handoff}");
    assert_eq!(handoff["handoff"]["agent_id"], sam.id.as_str(), "{handoff}");

    customer
        .close()
        .await
        .expect("close the customer's browser");
    agent.close().await.expect("close the agent's browser");
}
