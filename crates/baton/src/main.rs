//! The `baton` command: run the server, manage staff, measure performance.

mod analyze;
mod bench;
mod bench_handoff;
mod demo;
mod doctor;
mod export;
mod kb;
mod policy;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use baton_core::StaffRole;
use baton_server::config::{Config, LogFormat};
use clap::{Args, Parser, Subcommand};

/// Baton: a self-hosted AI customer-support agent with a warm human handoff.
#[derive(Parser)]
#[command(name = "baton", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Try Baton in one command: a demo product with the chat widget, the agent console,
    /// demo agents (their sign-in keys printed), the demo knowledge base and a demo policy,
    /// all in a local SQLite file (./baton-demo/baton.db).
    Demo(demo::DemoArgs),
    /// Run the HTTP and WebSocket server.
    ///
    /// Prints `listening on http://ADDR` once ready. Without a configuration file Baton
    /// listens on 127.0.0.1:8080 and keeps its data in ./baton-data/baton.db.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free one).
        #[arg(long, env = "BATON_LISTEN")]
        listen: Option<String>,
    },
    /// Manage staff accounts.
    Admin {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage the knowledge base: import, search, calibrate.
    Kb {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// Read JSON Lines of texts or conversations and write what Baton reads off each customer
    /// turn, one JSON line per input line (see DESIGN.md, "Contracts").
    Analyze {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        args: analyze::AnalyzeArgs,
    },
    /// Check an escalation policy file, or back-test a policy change on recorded
    /// conversations.
    Policy {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Write stored conversations as JSON Lines in the `baton analyze` format.
    ///
    /// One line per conversation, oldest first, with `at` on every message, plus the state,
    /// the creation and last-activity times and the articles AI messages cite.
    Export {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        args: export::ExportArgs,
    },
    /// Check that the stored handoffs and conversations agree: every open handoff's
    /// conversation waits for or is with a person as the handoff says, every such
    /// conversation has one open handoff, and offers and owners name agents who may hold
    /// them. Exits 1 when something contradicts itself.
    Doctor {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        args: doctor::DoctorArgs,
    },
    /// Measure performance against a real server over loopback.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

/// Flags shared by every command that touches data.
#[derive(Args, Clone)]
struct DataArgs {
    /// Configuration file (TOML); see docs/CONFIGURATION.md.
    #[arg(long, short = 'c', env = "BATON_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (relative to the working directory) or postgres://...
    #[arg(long, env = "BATON_DATABASE_URL", global = true)]
    database: Option<String>,
}

impl DataArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), |var| std::env::var(var).ok())?;
        if let Some(url) = &self.database {
            config.database.url = url.clone();
        }
        config.validate()?;
        Ok(config)
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an agent and print their API key (alone on the last line).
    CreateAgent {
        #[arg(long)]
        name: String,
    },
    /// Create an admin and print their API key (alone on the last line).
    CreateAdmin {
        #[arg(long)]
        name: String,
    },
    /// List agents and admins.
    ListStaff,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve { data, listen } => {
            let mut config = data.load()?;
            if let Some(listen) = listen {
                config.server.listen = listen;
                config.validate()?;
            }
            init_logging(&config);
            baton_server::serve(config, baton_server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin { data, command } => {
            let config = data.load()?;
            init_logging(&config);
            admin(config, command).await
        }
        Command::Kb { data, command } => {
            let config = data.load()?;
            init_logging(&config);
            kb::run(config, command).await
        }
        Command::Analyze { data, args } => {
            // Only a database named explicitly is read: analysing without one uses no stored
            // knowledge base.
            let database = if data.database.is_some() || data.config.is_some() {
                Some(data.load()?)
            } else {
                None
            };
            analyze::run(args, database).await
        }
        Command::Policy { data, command } => {
            let database = if data.database.is_some() || data.config.is_some() {
                Some(data.load()?)
            } else {
                None
            };
            policy::run(command, database).await
        }
        Command::Export { data, args } => {
            let config = data.load()?;
            init_logging(&config);
            export::run(config, args).await
        }
        Command::Doctor { data, args } => {
            let config = data.load()?;
            init_logging(&config);
            doctor::run(config, args).await
        }
        Command::Bench { command } => bench::run(command).await,
        Command::Openapi => {
            let doc = baton_server::api::openapi();
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens the configured database (creating it and applying migrations when needed).
pub async fn open_store(config: &Config) -> anyhow::Result<std::sync::Arc<dyn baton_store::Store>> {
    baton_store::open(&config.database.url, config.database.durability)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                baton_server::redact_url(&config.database.url)
            )
        })
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    let now = chrono::Utc::now();
    let result = match command {
        AdminCommand::CreateAgent { name } | AdminCommand::CreateAdmin { name }
            if name.trim().is_empty() =>
        {
            Err(anyhow::anyhow!("--name must not be empty"))
        }
        AdminCommand::CreateAgent { name } => create(&*store, &name, StaffRole::Agent, now).await,
        AdminCommand::CreateAdmin { name } => create(&*store, &name, StaffRole::Admin, now).await,
        AdminCommand::ListStaff => {
            for s in store.list_staff().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    s.id,
                    s.role.as_str(),
                    if s.disabled { "disabled" } else { "active" },
                    s.name
                );
            }
            Ok(())
        }
    };
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn create(
    store: &dyn baton_store::Store,
    name: &str,
    role: StaffRole,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let created = baton_server::api::admin::create_staff_member(store, name, role, now)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!(
        "created {} {:?} ({}); the API key below is shown only once:",
        role.as_str(),
        created.staff.name,
        created.staff.id
    );
    println!("{}", created.key);
    Ok(())
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
