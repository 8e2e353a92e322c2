//! A support desk on an injected clock for the handoff tests: a real SQLite store in a
//! temporary folder, the real services, agents and escalated conversations made to order.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use baton_core::routing::Presence;
use baton_core::{ConversationState, Staff, StaffRole};
use baton_server::config::Config;
use baton_server::conversations::{IncomingMessage, post_customer_message};
use baton_server::state::{AppState, Clock};
use baton_store::NewStaff;
use chrono::{DateTime, Duration, Utc};

/// A clock the test moves by hand.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The moment every desk starts at.
pub fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

/// A desk: the services over a real SQLite store, on a clock that starts at [`t0`].
pub struct Desk {
    _dir: tempfile::TempDir,
    pub state: Arc<AppState>,
    clock: Arc<ManualClock>,
}

/// One always-open team, `support`, offering one conversation at a time.
pub const ONE_TEAM: &str = "default_team = \"support\"\n[[teams]]\nname = \"support\"\n";

impl Desk {
    /// A desk with `policy` (TOML) and the test timers (30 s offers, 60 s presence, 120 s
    /// grace, 60 s cool-down, no quiet closing), changed by `tweak`.
    pub async fn new(policy: &str, tweak: impl FnOnce(&mut Config)) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let policy_path = dir.path().join("policy.toml");
        std::fs::write(&policy_path, policy).unwrap();
        let mut config = Config::default();
        config.policy.path = Some(policy_path);
        config.handoff.offer_timeout_ms = 30_000;
        config.handoff.presence_timeout_ms = 60_000;
        config.handoff.offline_grace_ms = 120_000;
        config.handoff.decline_cooldown_ms = 60_000;
        config.handoff.ai_quiet_resolve_ms = 0;
        tweak(&mut config);
        let url = format!("sqlite://{}", dir.path().join("baton.db").display());
        let store = baton_store::open(&url, Default::default()).await.unwrap();
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let mut state = AppState::new(config, store, None, shutdown).await.unwrap();
        let clock = Arc::new(ManualClock(Mutex::new(t0())));
        state.clock = clock.clone();
        Desk {
            _dir: dir,
            state: Arc::new(state),
            clock,
        }
    }

    /// The desk's time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut now = self.clock.0.lock().unwrap();
        *now += by;
        *now
    }

    /// An agent in `teams` with `capacity`, online from now.
    pub async fn agent(&self, name: &str, teams: &[&str], capacity: u32) -> Staff {
        let staff = self
            .state
            .store
            .create_staff(
                NewStaff {
                    name: name.into(),
                    role: StaffRole::Agent,
                    key_hash: format!("hash-{name}"),
                },
                self.now(),
            )
            .await
            .unwrap();
        let teams: Vec<String> = teams.iter().map(|t| t.to_string()).collect();
        self.state
            .store
            .set_agent_profile(&staff.id, &teams, capacity, self.now())
            .await
            .unwrap();
        self.state
            .store
            .touch_agent(&staff.id, Some(Presence::Online), self.now())
            .await
            .unwrap();
        staff
    }

    /// A new conversation whose anonymous customer asks for a person: it waits for one.
    /// Returns its id.
    pub async fn escalated(&self) -> String {
        let customer = self
            .state
            .store
            .create_anonymous_customer(self.now())
            .await
            .unwrap();
        self.escalated_for(&customer.id).await
    }

    /// A new conversation of `customer_id` whose customer asks for a person. Returns its id.
    pub async fn escalated_for(&self, customer_id: &str) -> String {
        let now = self.now();
        let (conversation, _) = self
            .state
            .store
            .create_conversation(customer_id, None, now)
            .await
            .unwrap();
        post_customer_message(
            &self.state,
            &conversation.id,
            IncomingMessage {
                client_msg_id: "m1".into(),
                text: "I want to talk to a human".into(),
                page: None,
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            self.conversation_state(&conversation.id).await,
            ConversationState::WaitingHuman
        );
        conversation.id
    }

    pub async fn conversation_state(&self, id: &str) -> ConversationState {
        self.state
            .store
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .state
    }
}
