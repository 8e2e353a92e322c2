//! `baton export`: writes stored conversations as JSON Lines in the `baton analyze`
//! conversation format (DESIGN.md, "Contracts"), one line per conversation in creation order,
//! so that analyses and policy back-tests run on what really happened. Conversations are read
//! page by page, never all at once.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use baton_core::{Account, Conversation, ConversationState, EventBody, PageContext, Role};
use baton_store::{CreationCursor, CreationPage, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use serde::Serialize;

/// Conversations read from the store at a time.
const CONVERSATION_PAGE: u32 = 500;
/// Events of one conversation read at a time.
const EVENT_PAGE: u32 = 1000;

#[derive(Args)]
#[command(after_help = "Examples:
  baton export --from 2026-03-01 --to 2026-03-31 --output march.jsonl
  baton export --state resolved --state human --from 2026-03-02T09:00:00Z
  baton export --database sqlite://baton-data/baton.db | baton analyze --kb examples/kb")]
pub struct ExportArgs {
    /// Only conversations created at or after this: a day (2026-03-01, from its start in
    /// UTC) or an RFC 3339 time (2026-03-01T09:00:00+01:00).
    #[arg(long, value_name = "DATE|RFC3339")]
    from: Option<TimeBound>,
    /// Only conversations created before this: a day (2026-03-31, up to its end in UTC,
    /// the day included) or an RFC 3339 time (excluded).
    #[arg(long, value_name = "DATE|RFC3339")]
    to: Option<TimeBound>,
    /// Only conversations now in this state: ai, waiting_human, human or resolved. Repeat
    /// the flag (or separate with commas) for several.
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    states: Vec<ConversationState>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// What can stop an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("--from ({from}) must be before --to ({to}): no conversation can match")]
    EmptyRange {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("there is no database at {0}: check --database (or database.url)")]
    NoDatabase(String),
    #[error("cannot read the conversations: {0}")]
    Store(#[from] StoreError),
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write to {target}: {source}")]
    Write {
        target: String,
        source: std::io::Error,
    },
    #[error("cannot encode conversation {id}: {source}")]
    Encode {
        id: String,
        source: serde_json::Error,
    },
}

/// A `--from`/`--to` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A calendar day in UTC.
    Day(NaiveDate),
    /// An instant.
    Instant(DateTime<Utc>),
}

/// A `--from`/`--to` value that is neither a day nor an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither a day (2026-03-01) nor an RFC 3339 time (2026-03-01T09:00:00Z)")]
pub struct BadTimeBound(String);

impl FromStr for TimeBound {
    type Err = BadTimeBound;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Ok(TimeBound::Day(day));
        }
        DateTime::parse_from_rfc3339(value)
            .map(|at| TimeBound::Instant(at.with_timezone(&Utc)))
            .map_err(|_| BadTimeBound(value.to_string()))
    }
}

impl TimeBound {
    /// The first instant this bound lets in, as a start.
    fn start(self) -> DateTime<Utc> {
        match self {
            TimeBound::Day(day) => day.and_time(chrono::NaiveTime::MIN).and_utc(),
            TimeBound::Instant(at) => at,
        }
    }

    /// The first instant this bound keeps out, as an end: a day's end is the next day's
    /// start (`None` past the last representable day).
    fn end(self) -> Option<DateTime<Utc>> {
        match self {
            TimeBound::Day(day) => day
                .succ_opt()
                .map(|next| next.and_time(chrono::NaiveTime::MIN).and_utc()),
            TimeBound::Instant(at) => Some(at),
        }
    }
}

fn parse_state(value: &str) -> Result<ConversationState, String> {
    ConversationState::parse(value.trim())
        .ok_or_else(|| format!("unknown state {value:?}: use ai, waiting_human, human or resolved"))
}

impl ExportArgs {
    /// The first page to read, or why the flags cannot match anything.
    fn first_page(&self) -> Result<CreationPage, ExportError> {
        let created_from = self.from.map(TimeBound::start);
        let created_before = self.to.and_then(TimeBound::end);
        if let (Some(from), Some(to)) = (created_from, created_before)
            && from >= to
        {
            return Err(ExportError::EmptyRange { from, to });
        }
        Ok(CreationPage {
            states: self.states.clone(),
            created_from,
            created_before,
            after: None,
            limit: CONVERSATION_PAGE,
        })
    }
}

/// One line of the export: the `baton analyze` conversation, plus fields it ignores.
#[derive(Debug, Serialize)]
struct ExportedConversation {
    id: String,
    messages: Vec<ExportedMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<ExportedCustomer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<PageContext>,
    state: ConversationState,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct ExportedMessage {
    role: Role,
    text: String,
    at: DateTime<Utc>,
    /// The ids of the articles an AI message cites (AI messages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    articles: Option<Vec<String>>,
}

/// The customer's account, as far as it is known.
#[derive(Debug, Serialize)]
struct ExportedCustomer {
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signup_at: Option<DateTime<Utc>>,
    attrs: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

impl From<Account> for ExportedCustomer {
    fn from(account: Account) -> Self {
        ExportedCustomer {
            tier: account.tier,
            signup_at: account.signup_at,
            attrs: account.attrs,
            owner: account.owner,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Lines written.
    pub exported: usize,
    /// Conversations left out because they have no message yet (`baton analyze` needs one).
    pub without_messages: usize,
}

pub async fn run(config: baton_server::Config, args: ExportArgs) -> anyhow::Result<ExitCode> {
    // Flags are checked before the database is touched, and a mistyped SQLite path is not
    // created as an empty database.
    let first_page = args.first_page()?;
    if let Some(path) = missing_sqlite_file(&config.database.url) {
        return Err(ExportError::NoDatabase(path.display().to_string()).into());
    }
    let store = crate::open_store(&config).await?;
    let (target, result) = match &args.output {
        Some(path) => {
            let target = path.display().to_string();
            let result = match std::fs::File::create(path) {
                Ok(file) => {
                    let mut out = std::io::BufWriter::new(file);
                    export(&*store, first_page, &mut out, &target).await
                }
                Err(source) => Err(ExportError::Create {
                    path: target.clone(),
                    source,
                }),
            };
            (target, result)
        }
        None => {
            let target = "standard output".to_string();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            (
                target.clone(),
                export(&*store, first_page, &mut out, &target).await,
            )
        }
    };
    store.close().await;
    match result {
        Ok(summary) => {
            eprintln!(
                "exported {} conversations to {target} ({} without messages left out)",
                summary.exported, summary.without_messages
            );
            Ok(ExitCode::SUCCESS)
        }
        // The reader went away (`baton export | head`): nothing more is wanted.
        Err(ExportError::Write { source, .. })
            if args.output.is_none() && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(error.into()),
    }
}

/// The file a `sqlite:` URL names, when it does not exist (an in-memory database always
/// does).
fn missing_sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    let path = PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// Writes every conversation `first_page` selects to `out`, one JSON line each, in creation
/// order, reading the store one page (of `first_page.limit`) at a time. `target` names `out`
/// in errors.
pub async fn export(
    store: &dyn Store,
    first_page: CreationPage,
    out: &mut impl Write,
    target: &str,
) -> Result<ExportSummary, ExportError> {
    let write_error = |source| ExportError::Write {
        target: target.to_string(),
        source,
    };
    let mut page = first_page;
    let mut summary = ExportSummary::default();
    loop {
        let conversations = store.conversations_by_creation(&page).await?;
        for conversation in &conversations {
            let Some(line) = exported(store, conversation).await? else {
                summary.without_messages += 1;
                continue;
            };
            serde_json::to_writer(&mut *out, &line).map_err(|source| {
                if source.is_io() {
                    write_error(source.into())
                } else {
                    ExportError::Encode {
                        id: conversation.id.clone(),
                        source,
                    }
                }
            })?;
            out.write_all(b"\n").map_err(write_error)?;
            summary.exported += 1;
        }
        match conversations.last() {
            Some(last) if conversations.len() >= page.limit as usize => {
                page.after = Some(CreationCursor::after(last));
            }
            _ => break,
        }
    }
    out.flush().map_err(write_error)?;
    Ok(summary)
}

/// The export line of one conversation; `None` when it has no message.
async fn exported(
    store: &dyn Store,
    conversation: &Conversation,
) -> Result<Option<ExportedConversation>, ExportError> {
    let mut messages = Vec::new();
    let mut after = 0;
    loop {
        let events = store
            .events_after(&conversation.id, after, EVENT_PAGE, None)
            .await?;
        for event in &events {
            if let EventBody::Message {
                role,
                text,
                articles,
                ..
            } = &event.body
            {
                messages.push(ExportedMessage {
                    role: *role,
                    text: text.clone(),
                    at: event.at,
                    articles: (*role == Role::Ai)
                        .then(|| articles.iter().map(|a| a.id.clone()).collect()),
                });
            }
        }
        match events.last() {
            Some(last) if events.len() >= EVENT_PAGE as usize => after = last.seq,
            _ => break,
        }
    }
    if messages.is_empty() {
        return Ok(None);
    }
    Ok(Some(ExportedConversation {
        id: conversation.id.clone(),
        messages,
        customer: account_of(store, &conversation.customer_id)
            .await?
            .map(ExportedCustomer::from),
        page: conversation.page.clone(),
        state: conversation.state,
        created_at: conversation.created_at,
        updated_at: conversation.updated_at,
    }))
}

/// The account of the customer, when they have one Baton knows.
async fn account_of(store: &dyn Store, customer_id: &str) -> Result<Option<Account>, StoreError> {
    let Some(account_id) = store
        .customer(customer_id)
        .await?
        .and_then(|customer| customer.account_id)
    else {
        return Ok(None);
    };
    store.account(&account_id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{ArticleLink, NewEvent};
    use baton_store::{Durability, SqliteStore};
    use serde_json::{Value, json};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_445_600 + seconds, 0).unwrap()
    }

    fn message(role: Role, text: &str, seconds: i64, articles: &[&str]) -> NewEvent {
        NewEvent {
            at: at(seconds),
            body: EventBody::Message {
                role,
                text: text.to_string(),
                client_msg_id: None,
                author: None,
                page: None,
                articles: articles
                    .iter()
                    .map(|id| ArticleLink {
                        id: id.to_string(),
                        title: format!("About {id}"),
                        url: None,
                    })
                    .collect(),
                choices: Vec::new(),
                handover: None,
            },
        }
    }

    #[test]
    fn bounds_read_days_and_instants() {
        let day: TimeBound = "2026-03-01".parse().unwrap();
        assert_eq!(
            day.start(),
            "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            day.end(),
            Some("2026-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap())
        );
        let instant: TimeBound = "2026-03-01T09:30:00+01:00".parse().unwrap();
        let expected: DateTime<Utc> = "2026-03-01T08:30:00Z".parse().unwrap();
        assert_eq!(instant.start(), expected);
        assert_eq!(instant.end(), Some(expected));
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-03-01 09:00",
            "1709280000",
            "",
        ] {
            let error = bad.parse::<TimeBound>().unwrap_err().to_string();
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_day_to_itself_is_the_whole_day_but_an_instant_to_itself_is_empty() {
        let args = |from: &str, to: &str| ExportArgs {
            from: Some(from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
            states: Vec::new(),
            output: None,
        };
        let page = args("2026-03-01", "2026-03-01").first_page().unwrap();
        assert_eq!(
            page.created_from.unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            page.created_before.unwrap().to_rfc3339(),
            "2026-03-02T00:00:00+00:00"
        );
        assert!(matches!(
            args("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z").first_page(),
            Err(ExportError::EmptyRange { .. })
        ));
        assert!(matches!(
            args("2026-03-02", "2026-03-01").first_page(),
            Err(ExportError::EmptyRange { .. })
        ));
    }

    #[test]
    fn only_a_missing_sqlite_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("baton.db");
        std::fs::write(&present, b"").unwrap();
        let absent = dir.path().join("typo.db");
        assert_eq!(
            missing_sqlite_file(&format!("sqlite://{}", absent.display())),
            Some(absent.clone())
        );
        assert_eq!(
            missing_sqlite_file(&format!("sqlite:{}?mode=ro", absent.display())),
            Some(absent)
        );
        assert_eq!(
            missing_sqlite_file(&format!("sqlite://{}", present.display())),
            None
        );
        assert_eq!(missing_sqlite_file("sqlite::memory:"), None);
        assert_eq!(missing_sqlite_file("postgres://db.example.com/baton"), None);
    }

    #[tokio::test]
    async fn every_conversation_is_written_once_in_creation_order_across_pages() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        let store = SqliteStore::open(&url, Durability::Process).await.unwrap();
        let account = Account {
            id: "acme".into(),
            name: Some("Acme".into()),
            tier: Some("enterprise".into()),
            signup_at: Some(at(-86_400 * 30)),
            owner: Some("Sam".into()),
            attrs: json!({"seats": 120}).as_object().unwrap().clone(),
        };
        store.upsert_account(&account, at(0)).await.unwrap();
        let known = store
            .upsert_identified_customer("user-1", None, None, Some("acme"), at(0))
            .await
            .unwrap();
        let anonymous = store.create_anonymous_customer(at(0)).await.unwrap();

        // Created out of order: the export follows creation time, not insertion.
        let mut expected = Vec::new();
        for (n, seconds) in [40, 10, 30, 0, 20].into_iter().enumerate() {
            let customer = if n % 2 == 0 { &known } else { &anonymous };
            let page = PageContext {
                url: Some(format!("https://app.example.com/{n}")),
                ..Default::default()
            };
            let (conversation, _) = store
                .create_conversation(&customer.id, Some(page), at(seconds))
                .await
                .unwrap();
            let id = conversation.id;
            store
                .append_event(
                    &id,
                    message(Role::Customer, "Where are my invoices?", seconds + 1, &[]),
                )
                .await
                .unwrap();
            store
                .append_event(
                    &id,
                    message(
                        Role::Ai,
                        "Under Billing.",
                        seconds + 2,
                        &["invoices", "billing"],
                    ),
                )
                .await
                .unwrap();
            expected.push((seconds, id, n % 2 == 0));
        }
        // Never written in: left out.
        store
            .create_conversation(&anonymous.id, None, at(25))
            .await
            .unwrap();
        expected.sort();

        let mut out = Vec::new();
        let page = CreationPage {
            limit: 2,
            ..Default::default()
        };
        let summary = export(&store, page, &mut out, "memory").await.unwrap();
        assert_eq!(
            summary,
            ExportSummary {
                exported: 5,
                without_messages: 1
            }
        );
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        for (line, (seconds, id, identified)) in lines.iter().zip(&expected) {
            assert_eq!(line["id"], json!(id));
            assert_eq!(line["created_at"], json!(at(*seconds)));
            assert_eq!(line["updated_at"], json!(at(seconds + 2)));
            assert_eq!(line["state"], "ai");
            assert_eq!(line["messages"][0]["role"], "customer");
            assert_eq!(line["messages"][0]["at"], json!(at(seconds + 1)));
            assert!(line["messages"][0].get("articles").is_none());
            assert_eq!(line["messages"][1]["role"], "ai");
            assert_eq!(
                line["messages"][1]["articles"],
                json!(["invoices", "billing"])
            );
            assert!(
                line["page"]["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://")
            );
            if *identified {
                assert_eq!(
                    line["customer"],
                    json!({"tier": "enterprise", "signup_at": at(-86_400 * 30),
                           "attrs": {"seats": 120}, "owner": "Sam"})
                );
            } else {
                assert!(line.get("customer").is_none(), "{line}");
            }
        }
        store.close().await;
    }
}
