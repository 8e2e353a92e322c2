//! The state every request handler shares.

use std::sync::Arc;

use baton_store::Store;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::auth::{ConversationTokens, IdentityVerifier, generate_secret};
use crate::config::Config;
use crate::knowledge::KnowledgeBase;
use crate::policy::ActivePolicy;
use baton_ai::Responder;

/// Name of the database secret that signs conversation tokens.
const CONVERSATION_TOKEN_SECRET: &str = "conversation_token_key";

/// Shared by all handlers, behind an `Arc`.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub tokens: ConversationTokens,
    pub identity: IdentityVerifier,
    pub metrics: Option<PrometheusHandle>,
    /// The knowledge base's retrieval index, kept in step with the store.
    pub kb: Arc<KnowledgeBase>,
    /// The escalation policy in force (and the signal engine trained for it).
    pub policy: Arc<ActivePolicy>,
    /// Writes the AI's replies.
    pub responder: Arc<dyn Responder>,
    /// Flips to `true` when the server starts shutting down, so long-lived streams close.
    pub shutdown: watch::Receiver<bool>,
    /// Offers queued handoffs to agents (see [`crate::handoffs`]).
    pub dispatcher: crate::handoffs::Dispatcher,
    /// Where handlers and timers read the time.
    pub clock: Arc<dyn Clock>,
    /// Typing and queue-position notices for this process's streams.
    pub notices: crate::notices::Notices,
    /// Staff whose access was just withdrawn (disabled, key replaced): their agent streams
    /// on this process close at once.
    pub revocations: crate::agent_stream::Revocations,
    /// Held while a customer's feedback is checked and stored, so that two clicks arriving
    /// together on this process store it once (feedback is rare; one lock is enough).
    pub feedback: tokio::sync::Mutex<()>,
}

/// The time source: the system clock in production, a settable one in tests of the timers.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Builds the state, creating the token-signing secret in the database on first start.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        metrics: Option<PrometheusHandle>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<AppState> {
        let secret = store
            .secret(CONVERSATION_TOKEN_SECRET, &generate_secret())
            .await?;
        let embedder = config.knowledge.embeddings.embedder()?;
        let kb = Arc::new(
            KnowledgeBase::load(&*store, config.knowledge.index_options()?, embedder).await?,
        );
        let responder = baton_ai::build_responder(&config.responder)?;
        // The issue-type classifier also learns from the knowledge base's example questions
        // (as they are at start).
        let examples = kb.with_articles(|articles| crate::policy::kb_examples(articles));
        let policy = Arc::new(ActivePolicy::load(
            config.policy.path.as_deref(),
            examples,
            Utc::now(),
        )?);
        Ok(AppState {
            policy,
            kb,
            responder,
            identity: IdentityVerifier::new(&config.identity),
            tokens: ConversationTokens::new(&secret),
            config,
            store,
            metrics,
            shutdown,
            dispatcher: Default::default(),
            clock: Arc::new(SystemClock),
            notices: Default::default(),
            revocations: Default::default(),
            feedback: Default::default(),
        })
    }

    /// The current time. Handlers read the clock here, at the edge, and pass it inward.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
