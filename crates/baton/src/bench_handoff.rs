//! `baton bench handoff`: the time from a customer's escalating message to the offer arriving
//! on an agent's stream, under a steady load of customer messages.
//!
//! A real server (started here, with one always-open team) takes messages from many
//! conversations at a fixed rate; one message in N asks for a person. Agents connected to
//! their streams accept and resolve every offer at once, so capacity never runs out and the
//! figure is the routing path itself: decision, brief, handoff, dispatch, stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use baton_core::StaffRole;

/// The load to generate.
pub struct Load {
    pub conversations: usize,
    pub interval: Duration,
    pub escalate_every: usize,
    pub duration: Duration,
    pub agents: usize,
    /// The knowledge base the AI answers from.
    pub kb: std::path::PathBuf,
    /// How the team offers conversations (the policy's `offers`).
    pub offers: String,
}

/// Acknowledgements that follow each answered question, so that the routine messages neither
/// repeat themselves (which would read as going in circles) nor ask for a person.
const ACKNOWLEDGEMENTS: [&str; 4] = [
    "Thanks, that worked!",
    "Great, that helped, thank you.",
    "Perfect, got it.",
    "Thanks, all sorted.",
];

/// The `n`th routine message of conversation `i`: one of the knowledge base's example
/// questions, then an acknowledgement.
fn routine_message(questions: &[String], i: usize, n: usize) -> String {
    if n.is_multiple_of(2) {
        questions[(i * 7 + n / 2) % questions.len()].clone()
    } else {
        ACKNOWLEDGEMENTS[(i + n / 2) % ACKNOWLEDGEMENTS.len()].to_string()
    }
}

/// When each escalating message was sent, by conversation.
type Sent = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn run(dir: &std::path::Path, database: &str, load: Load) -> anyhow::Result<()> {
    let policy = dir.join("policy.toml");
    let policy_text = format!(
        "default_team = \"support\"\n\n[[teams]]\nname = \"support\"\ndisplay_name = \"Support\"\noffers = {:?}\n",
        load.offers
    );
    std::fs::write(&policy, &policy_text)?;
    let always_human = baton_core::policy::Policy::parse(&policy_text)
        .map_err(|e| anyhow::anyhow!("the bench's policy: {e}"))?
        .always_human;
    let config = dir.join("baton.toml");
    std::fs::write(
        &config,
        format!(
            "[policy]\npath = {:?}\n\n[handoff]\noffer_timeout_ms = 600000\nmax_wait_ms = 0\n",
            policy.display().to_string()
        ),
    )?;
    // Staff and the knowledge base first, straight into the database, before the server
    // opens it.
    let questions: Vec<String>;
    let keys = {
        let store = baton_store::open(database, baton_store::Durability::Process)
            .await
            .with_context(|| format!("cannot open {database}"))?;
        let now = chrono::Utc::now();
        let admin = baton_server::api::admin::create_staff_member(
            store.as_ref(),
            "Bench Admin",
            StaffRole::Admin,
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        let mut agents = Vec::new();
        for n in 0..load.agents {
            let agent = baton_server::api::admin::create_staff_member(
                store.as_ref(),
                &format!("Agent {n}"),
                StaffRole::Agent,
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            store
                .set_agent_profile(&agent.staff.id, &["support".to_string()], 50, now)
                .await?;
            agents.push(agent.key);
        }
        let articles = baton_kb::import_path(&load.kb)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot import {}", load.kb.display()))?;
        baton_server::knowledge::write_articles(
            store.as_ref(),
            &articles,
            Vec::new(),
            false,
            "baton bench handoff",
            now,
        )
        .await?;
        // Routine questions: those of articles whose issue type the policy does not reserve
        // for people.
        questions = articles
            .iter()
            .filter(|a| {
                a.issue_type
                    .as_ref()
                    .is_none_or(|t| !always_human.contains(t))
            })
            .filter_map(|a| a.questions.first().cloned())
            .collect();
        store.close().await;
        (admin.key, agents)
    };
    if questions.is_empty() {
        bail!("{} has no example questions to ask", load.kb.display());
    }
    let (mut server, base) = crate::bench::start_configured_server(database, &config).await?;
    let result = measure(&base, &keys.1, &load, Arc::new(questions)).await;
    let _ = server.kill().await;
    result
}

async fn measure(
    base: &str,
    agent_keys: &[String],
    load: &Load,
    questions: Arc<Vec<String>>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.conversations)
        .build()?;
    let sent: Sent = Arc::default();
    // Every offer, including those of escalations the load did not ask for.
    let offers: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let ws_base = base.replacen("http://", "ws://", 1);

    // The agents: stream, go online, accept and resolve every offer.
    let mut agent_tasks = Vec::new();
    for key in agent_keys {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{ws_base}/v1/agent/stream?token={key}"))
                .await
                .context("cannot open an agent stream")?;
        http.put(format!("{base}/v1/agent/presence"))
            .bearer_auth(key)
            .json(&json!({"presence": "online"}))
            .send()
            .await?
            .error_for_status()?;
        let (http, base, key) = (http.clone(), base.to_string(), key.clone());
        let (sent, latencies, offers) = (sent.clone(), latencies.clone(), offers.clone());
        agent_tasks.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                let Message::Text(text) = frame else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if frame["type"] != "offer" {
                    continue;
                }
                offers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let conversation = frame["handoff"]["conversation_id"]
                    .as_str()
                    .unwrap_or_default();
                if let Some(at) = sent.lock().map_or(None, |mut s| s.remove(conversation))
                    && let Ok(mut l) = latencies.lock()
                {
                    l.push(at.elapsed());
                }
                // Accept and resolve beside the stream, as a console does, so that the next
                // offer is read as soon as it arrives.
                let id = frame["handoff"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let (http, base, key) = (http.clone(), base.clone(), key.clone());
                tokio::spawn(async move {
                    for action in ["accept", "resolve"] {
                        let _ = http
                            .post(format!("{base}/v1/agent/handoffs/{id}/{action}"))
                            .bearer_auth(&key)
                            .json(&json!({}))
                            .send()
                            .await;
                    }
                });
            }
        }));
    }

    eprintln!("opening {} conversations on {base} ...", load.conversations);
    let mut conversations = Vec::with_capacity(load.conversations);
    for _ in 0..load.conversations {
        let opened: Value = http
            .post(format!("{base}/v1/conversations"))
            .json(&json!({"page": {"url": "https://app.example.com/bench"}}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        conversations.push((
            opened["id"].as_str().context("no id")?.to_string(),
            opened["token"].as_str().context("no token")?.to_string(),
        ));
    }
    let rate = load.conversations as f64 / load.interval.as_secs_f64();
    eprintln!(
        "sending for {} s: {rate:.0} messages/s, one in {} asking for a person ...",
        load.duration.as_secs(),
        load.escalate_every
    );
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + load.duration;
    let mut senders = Vec::new();
    for (i, (id, token)) in conversations.into_iter().enumerate() {
        let (http, base, sent) = (http.clone(), base.to_string(), sent.clone());
        let questions = Arc::clone(&questions);
        let interval = load.interval;
        let every = load.escalate_every;
        // Spread the conversations over the interval.
        let offset = interval.mul_f64(i as f64 / load.conversations as f64);
        senders.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut ticker = tokio::time::interval(interval);
            let (mut ok, mut failed) = (0usize, 0usize);
            for n in 0.. {
                ticker.tick().await;
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                // Staggered so that about one message in `every` escalates at any moment.
                let escalate = (n + i) % every == every - 1;
                let text = if escalate {
                    "I want to talk to a person please".to_string()
                } else {
                    routine_message(&questions, i, n)
                };
                let at = Instant::now();
                if escalate && let Ok(mut s) = sent.lock() {
                    s.insert(id.clone(), at);
                }
                let response = http
                    .post(format!("{base}/v1/conversations/{id}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"client_msg_id": format!("m{n}"), "text": text}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for sender in senders {
        let (o, f) = sender.await?;
        ok += o;
        failed += f;
    }
    let elapsed = start.elapsed();
    // Let the last offers arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for task in agent_tasks {
        task.abort();
    }
    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let missing = sent.lock().map(|s| s.len()).unwrap_or(0);
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "handoff latency over HTTP/WebSocket on loopback: {} conversations, {} agents",
        load.conversations,
        agent_keys.len()
    );
    println!(
        "  messages:  {ok} acknowledged in {:.1} s ({:.0}/s), {failed} failed",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  handoffs:  {} offers measured, {missing} escalations without an offer yet; {} offers in all",
        latencies.len(),
        offers.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "  escalating message sent -> offer on the agent stream: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    if failed > 0 {
        bail!("{failed} messages were not acknowledged");
    }
    Ok(())
}
