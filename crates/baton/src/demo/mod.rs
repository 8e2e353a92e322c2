//! `baton demo`: Baton on a local SQLite file with the demo knowledge base (built into the
//! binary), a demo policy with two always-open teams, demo staff whose sign-in keys are
//! printed and a signed-in demo customer with an earlier conversation, then the server, with
//! the URLs of the demo product (the widget embedded) and the agent console.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use baton_core::{
    Account, ArticleLink, ConversationState, EventBody, NewEvent, PageContext, Role, StaffRole,
};
use baton_server::Config;
use baton_server::auth::{generate_secret, generate_staff_key, hash_staff_key};
use baton_server::config::DemoHost;
use baton_store::Store;
use chrono::{DateTime, Utc};
use clap::Args;
use include_dir::{Dir, include_dir};

/// The demo's escalation policy, written next to the database on first start.
const DEMO_POLICY: &str = include_str!("policy.toml");

/// Where the demo keeps its data unless told otherwise.
const DEFAULT_DATABASE: &str = "sqlite://baton-demo/baton.db";

/// The demo knowledge base (the Markdown articles of `examples/kb`), built into the binary so
/// `baton demo` works from any directory.
static DEMO_KB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../examples/kb");

/// The customer signed in to the demo product: the host product vouches for them with a
/// signed identity token, so their account, tier and earlier conversations reach the agent.
const DEMO_CUSTOMER_ID: &str = "relay-user-jordan-avery";

fn demo_customer() -> serde_json::Value {
    serde_json::json!({
        "sub": DEMO_CUSTOMER_ID,
        "name": "Jordan Avery",
        "email": "jordan.avery@acme-logistics.example",
        "account": {
            "id": "relay-acme-logistics",
            "name": "Acme Logistics",
            "tier": "pro",
            "signup_at": "2024-03-11T09:00:00Z",
            "owner": "Mei Chen",
            "attrs": {"plan": "Pro", "seats": 24, "region": "EU"}
        }
    })
}

#[derive(Args)]
pub struct DemoArgs {
    /// Database URL; sqlite://PATH keeps everything in one file.
    #[arg(long, default_value = DEFAULT_DATABASE)]
    database: String,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = baton_server::config::DEFAULT_LISTEN)]
    listen: String,
    /// Knowledge base to import when the database has none (default: the demo articles built
    /// into baton, the same as examples/kb).
    #[arg(long)]
    kb: Option<PathBuf>,
    /// The demo policy file; written with the demo's two teams when it does not exist
    /// (default: policy.toml next to the SQLite file, or in ./baton-demo).
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// A member of the demo's staff.
struct DemoStaff {
    name: &'static str,
    role: StaffRole,
    teams: &'static [&'static str],
    capacity: u32,
}

const STAFF: [DemoStaff; 4] = [
    DemoStaff {
        name: "Dana Whitfield",
        role: StaffRole::Agent,
        teams: &["billing"],
        capacity: 3,
    },
    DemoStaff {
        name: "Sam Okafor",
        role: StaffRole::Agent,
        teams: &["support"],
        capacity: 3,
    },
    DemoStaff {
        name: "Priya Raman",
        role: StaffRole::Agent,
        teams: &["support", "billing"],
        capacity: 4,
    },
    DemoStaff {
        name: "Morgan Lee",
        role: StaffRole::Admin,
        teams: &["support", "billing"],
        capacity: 5,
    },
];

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // The demo ignores BATON_* settings meant for a real deployment: its own defaults only.
    let mut config = Config::load(None, |_| None)?;
    config.database.url = args.database.clone();
    config.server.listen = concrete_listen(&args.listen)?;
    let folder = data_folder(&args.database);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let policy_path = args.policy.unwrap_or_else(|| folder.join("policy.toml"));
    if !policy_path.exists() {
        std::fs::write(&policy_path, DEMO_POLICY)
            .with_context(|| format!("cannot write {}", policy_path.display()))?;
    }
    config.policy.path = Some(policy_path.clone());
    // The demo product signs its customer in with this secret (new on every start: tokens
    // only live for a page load, and conversations keep their own tokens).
    config.identity.secret = Some(generate_secret());
    config.demo = Some(DemoHost {
        claims: demo_customer(),
    });
    config.validate()?;
    crate::init_logging(&config);

    let base = format!("http://{}", config.server.listen);
    let store = crate::open_store(&config).await?;
    let prepared = prepare(&*store, args.kb.as_deref(), &base).await;
    store.close().await;
    let prepared = prepared?;

    println!("Baton demo");
    println!(
        "  data        {} (policy {})",
        baton_server::redact_url(&config.database.url),
        policy_path.display()
    );
    println!("  knowledge   {}", prepared.knowledge);
    println!(
        "  demo host   {base}/demo/billing   (the product, with the chat widget; signed in as Jordan Avery, Acme Logistics, Pro)"
    );
    println!("              {base}/demo/billing?as=visitor   (the same, as an anonymous visitor)");
    println!("  console     {base}/console        (for agents: sign in with a key below)");
    println!();
    println!("Sign-in keys (new ones on every start):");
    for (member, key) in &prepared.keys {
        println!(
            "  {:<16} {:<6} {:<18} {key}",
            member.name,
            member.role.as_str(),
            member.teams.join(", ")
        );
    }
    println!();
    baton_server::serve(config, baton_server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// What `prepare` did, for the start-up message.
struct Prepared {
    knowledge: String,
    keys: Vec<(&'static DemoStaff, String)>,
}

/// Imports the knowledge base into an empty database (and, in a new database, gives the demo
/// customer an earlier conversation), and gives every demo staff member a profile and a
/// fresh key.
async fn prepare(store: &dyn Store, kb: Option<&Path>, base: &str) -> anyhow::Result<Prepared> {
    let now = chrono::Utc::now();
    let stored = store.kb_documents().await?.len();
    let knowledge = if stored > 0 {
        format!("{stored} articles (already in the database)")
    } else {
        let (articles, from) = match kb_source(kb)? {
            Some(path) => (
                baton_kb::import_path(&path)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("cannot import {}", path.display()))?,
                path.display().to_string(),
            ),
            None => (
                builtin_articles()?,
                "the demo knowledge base built into baton".to_string(),
            ),
        };
        baton_server::knowledge::write_articles(
            store,
            &articles,
            Vec::new(),
            false,
            &format!("baton demo: import {from}"),
            now,
        )
        .await?;
        seed_history(store, base, now).await?;
        format!("{} articles imported from {from}", articles.len())
    };

    let existing = store.list_staff().await?;
    let mut keys = Vec::new();
    for member in &STAFF {
        let key = generate_staff_key();
        let id = match existing
            .iter()
            .find(|s| s.name == member.name && s.role == member.role)
        {
            Some(staff) => {
                store
                    .set_staff_key_hash(&staff.id, &hash_staff_key(&key))
                    .await?;
                if staff.disabled {
                    store.set_staff_disabled(&staff.id, false).await?;
                }
                staff.id.clone()
            }
            None => {
                store
                    .create_staff(
                        baton_store::NewStaff {
                            name: member.name.to_string(),
                            role: member.role,
                            key_hash: hash_staff_key(&key),
                        },
                        now,
                    )
                    .await?
                    .id
            }
        };
        let teams: Vec<String> = member.teams.iter().map(|t| t.to_string()).collect();
        store
            .set_agent_profile(&id, &teams, member.capacity, now)
            .await?;
        keys.push((member, key));
    }
    Ok(Prepared { knowledge, keys })
}

/// The knowledge base named with `--kb`, if any (otherwise the built-in one is imported).
fn kb_source(named: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    let Some(path) = named else {
        return Ok(None);
    };
    if !path.exists() {
        bail!("the knowledge base {} does not exist", path.display());
    }
    Ok(Some(path.to_path_buf()))
}

/// The articles of the built-in demo knowledge base, in file-name order.
fn builtin_articles() -> anyhow::Result<Vec<baton_kb::Article>> {
    let mut files: Vec<_> = DEMO_KB
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort_by_key(|f| f.path());
    let mut articles: Vec<baton_kb::Article> = Vec::new();
    for file in files {
        let path = Path::new("examples/kb").join(file.path());
        let text = file
            .contents_utf8()
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        let (article, _) = baton_kb::parse_markdown(&path, text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot read the built-in article {}", path.display()))?;
        if articles.iter().any(|a| a.id == article.id) {
            bail!(
                "the built-in knowledge base has two articles with id {:?}",
                article.id
            );
        }
        articles.push(article);
    }
    Ok(articles)
}

/// Gives the demo customer an earlier conversation, resolved by the AI nine days ago, so the
/// agent console shows "earlier conversations" for them. Only in a new database, and only once.
async fn seed_history(store: &dyn Store, base: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let claims = demo_customer();
    let account: Account = serde_json::from_value(claims["account"].clone())?;
    let at = now - chrono::Duration::days(9);
    store.upsert_account(&account, at).await?;
    let customer = store
        .upsert_identified_customer(
            DEMO_CUSTOMER_ID,
            claims["name"].as_str(),
            claims["email"].as_str(),
            Some(&account.id),
            at,
        )
        .await?;
    let earlier = store
        .list_conversations(&baton_store::ConversationFilter {
            state: None,
            customer_id: Some(customer.id.clone()),
            limit: 1,
        })
        .await?;
    if !earlier.is_empty() {
        return Ok(());
    }
    let page = PageContext {
        url: Some(format!("{base}/demo/billing")),
        title: Some("Billing · Relay".to_string()),
        referrer: None,
    };
    let (conversation, _) = store
        .create_conversation(&customer.id, Some(page), at)
        .await?;
    let message = |role, text: &str, articles| EventBody::Message {
        role,
        text: text.to_string(),
        client_msg_id: None,
        author: None,
        page: None,
        articles,
        choices: Vec::new(),
        handover: None,
    };
    let append = |after: i64, body: EventBody| {
        store.append_event(
            &conversation.id,
            NewEvent {
                at: at + chrono::Duration::seconds(after),
                body,
            },
        )
    };
    append(
        0,
        message(
            Role::Customer,
            "How do I add more seats? Two people joined the warehouse team.",
            Vec::new(),
        ),
    )
    .await?;
    let answer = append(
        2,
        message(
            Role::Ai,
            "Go to **Billing → Plan** and choose **Add seats**. New seats are billed pro rata for the rest of the billing cycle.\n\nSource: Add or remove seats",
            vec![ArticleLink {
                id: "change-seats".to_string(),
                title: "Add or remove seats".to_string(),
                url: Some("/kb/change-seats".to_string()),
            }],
        ),
    )
    .await?;
    append(
        40,
        EventBody::Feedback {
            message_seq: answer.event().seq,
            helpful: true,
        },
    )
    .await?;
    store
        .change_state(
            &conversation.id,
            ConversationState::Resolved,
            Some("resolved by the AI: the customer said the answer helped"),
            at + chrono::Duration::minutes(30),
        )
        .await?;
    Ok(())
}

/// The folder next to a SQLite database (for the policy file), or `./baton-demo`.
fn data_folder(database: &str) -> PathBuf {
    database
        .strip_prefix("sqlite://")
        .map(|path| path.split('?').next().unwrap_or(path))
        .and_then(|path| Path::new(path).parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("baton-demo"))
}

/// The listen address with a real port, so the URLs printed before the server starts are
/// the ones it serves on. Port 0 takes a free port now (another process could take it before
/// the server binds, which is unlikely on a developer's machine).
fn concrete_listen(listen: &str) -> anyhow::Result<String> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address such as 127.0.0.1:8080"))?;
    if addr.port() != 0 {
        return Ok(addr.to_string());
    }
    let probe =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    Ok(probe.local_addr()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_policy_is_valid() {
        let policy = baton_core::policy::Policy::parse(DEMO_POLICY).expect("demo policy");
        let teams: Vec<&str> = policy.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(teams, ["support", "billing"]);
        assert!(policy.teams.iter().all(|t| t.hours.is_none()));
    }

    #[test]
    fn the_built_in_knowledge_base_is_the_example_one() {
        let articles = builtin_articles().expect("built-in articles");
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kb"))
            .expect("examples/kb")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "md"))
            })
            .count();
        assert_eq!(articles.len(), on_disk);
        assert!(articles.iter().any(|a| a.id == "change-seats"));
    }

    #[test]
    fn the_policy_file_goes_next_to_the_sqlite_file() {
        assert_eq!(
            data_folder("sqlite://baton-demo/baton.db"),
            PathBuf::from("baton-demo")
        );
        assert_eq!(
            data_folder("sqlite:///tmp/x/demo.db?mode=rwc"),
            PathBuf::from("/tmp/x")
        );
        assert_eq!(data_folder("sqlite://demo.db"), PathBuf::from("baton-demo"));
        assert_eq!(
            data_folder("postgres://localhost/baton"),
            PathBuf::from("baton-demo")
        );
    }
}
