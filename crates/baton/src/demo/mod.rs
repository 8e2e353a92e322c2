//! `baton demo`: Baton on a local SQLite file with the demo knowledge base, a demo policy
//! with two always-open teams, and demo staff whose sign-in keys are printed, then the server,
//! with the URLs of the demo product (the widget embedded) and the agent console.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use baton_core::StaffRole;
use baton_server::Config;
use baton_server::auth::{generate_staff_key, hash_staff_key};
use baton_store::Store;
use clap::Args;

/// The demo's escalation policy, written next to the database on first start.
const DEMO_POLICY: &str = include_str!("policy.toml");

/// Where the demo keeps its data unless told otherwise.
const DEFAULT_DATABASE: &str = "sqlite://baton-demo/baton.db";

/// The knowledge base imported into an empty demo database, looked up from the working
/// directory, then from the source tree the binary was built from.
const KB_CANDIDATES: [&str; 2] = [
    "examples/kb",
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kb"),
];

#[derive(Args)]
pub struct DemoArgs {
    /// Database URL; sqlite://PATH keeps everything in one file.
    #[arg(long, default_value = DEFAULT_DATABASE)]
    database: String,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = baton_server::config::DEFAULT_LISTEN)]
    listen: String,
    /// Knowledge base to import when the database has none (default: examples/kb).
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
    config.validate()?;
    crate::init_logging(&config);

    let store = crate::open_store(&config).await?;
    let prepared = prepare(&*store, args.kb.as_deref()).await;
    store.close().await;
    let prepared = prepared?;

    let base = format!("http://{}", config.server.listen);
    println!("Baton demo");
    println!(
        "  data        {} (policy {})",
        baton_server::redact_url(&config.database.url),
        policy_path.display()
    );
    println!("  knowledge   {}", prepared.knowledge);
    println!("  demo host   {base}/demo/billing   (the product, with the chat widget)");
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

/// Imports the knowledge base into an empty database and gives every demo staff member a
/// profile and a fresh key.
async fn prepare(store: &dyn Store, kb: Option<&Path>) -> anyhow::Result<Prepared> {
    let now = chrono::Utc::now();
    let stored = store.kb_documents().await?.len();
    let knowledge = if stored > 0 {
        format!("{stored} articles (already in the database)")
    } else {
        match kb_source(kb)? {
            Some(path) => {
                let articles = baton_kb::import_path(&path)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("cannot import {}", path.display()))?;
                baton_server::knowledge::write_articles(
                    store,
                    &articles,
                    Vec::new(),
                    false,
                    &format!("baton demo: import {}", path.display()),
                    now,
                )
                .await?;
                format!(
                    "{} articles imported from {}",
                    articles.len(),
                    path.display()
                )
            }
            None => "empty: pass --kb PATH to give the AI something to answer from".to_string(),
        }
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

/// The knowledge base to import: the one named, or the first of [`KB_CANDIDATES`] found.
fn kb_source(named: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    if let Some(path) = named {
        if !path.exists() {
            bail!("the knowledge base {} does not exist", path.display());
        }
        return Ok(Some(path.to_path_buf()));
    }
    Ok(KB_CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_dir()))
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
