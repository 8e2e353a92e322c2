//! The handoff timers on an injected clock: offers expire, silent agents go offline and lose
//! their conversations after the grace period, and the queue drains — minutes of routing
//! in milliseconds, on a real SQLite store.

use std::sync::{Arc, Mutex};

use baton_core::handoff::HandoffStatus;
use baton_core::handoff::timers::TimerAction;
use baton_core::routing::Presence;
use baton_core::{ConversationState, StaffRole};
use baton_server::config::Config;
use baton_server::conversations::{IncomingMessage, post_customer_message};
use baton_server::handoffs;
use baton_server::state::{AppState, Clock};
use baton_store::{HandoffFilter, NewStaff};
use chrono::{DateTime, Duration, Utc};

struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

async fn setup() -> (tempfile::TempDir, Arc<AppState>) {
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(
        &policy_path,
        "default_team = \"support\"\n[[teams]]\nname = \"support\"\n",
    )
    .unwrap();
    let mut config = Config::default();
    config.policy.path = Some(policy_path);
    config.handoff.offer_timeout_ms = 30_000;
    config.handoff.presence_timeout_ms = 60_000;
    config.handoff.offline_grace_ms = 120_000;
    config.handoff.ai_quiet_resolve_ms = 0;
    let url = format!("sqlite://{}", dir.path().join("baton.db").display());
    let store = baton_store::open(&url, Default::default()).await.unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let mut state = AppState::new(config, store, None, shutdown).await.unwrap();
    state.clock = Arc::new(ManualClock(Mutex::new(t0())));
    (dir, Arc::new(state))
}

async fn agent(state: &AppState, name: &str) -> String {
    let staff = state
        .store
        .create_staff(
            NewStaff {
                name: name.into(),
                role: StaffRole::Agent,
                key_hash: format!("hash-{name}"),
            },
            t0(),
        )
        .await
        .unwrap();
    state
        .store
        .set_agent_profile(&staff.id, &["support".to_string()], 2, t0())
        .await
        .unwrap();
    state
        .store
        .touch_agent(&staff.id, Some(Presence::Online), t0())
        .await
        .unwrap();
    staff.id
}

async fn escalated_conversation(state: &AppState) -> String {
    let customer = state.store.create_anonymous_customer(t0()).await.unwrap();
    let (conversation, _) = state
        .store
        .create_conversation(&customer.id, None, t0())
        .await
        .unwrap();
    post_customer_message(
        state,
        &conversation.id,
        IncomingMessage {
            client_msg_id: "m1".into(),
            text: "I want to talk to a human".into(),
            page: None,
        },
        t0(),
    )
    .await
    .unwrap();
    let c = state
        .store
        .conversation(&conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.state, ConversationState::WaitingHuman);
    conversation.id
}

async fn only_handoff(state: &AppState) -> baton_core::Handoff {
    let mut all = state
        .store
        .handoffs(&HandoffFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[tokio::test]
async fn an_unanswered_offer_moves_on_after_the_timeout_and_not_before() {
    let (_dir, state) = setup().await;
    let dana = agent(&state, "Dana").await;
    let sam = agent(&state, "Sam").await;
    escalated_conversation(&state).await;

    let offered = handoffs::dispatch(&state, t0()).await.unwrap();
    assert_eq!(offered.len(), 1);
    let first = offered[0].offer.as_ref().unwrap().agent_id.clone();
    let other = if first == dana { &sam } else { &dana };

    // Heartbeats keep both agents present; the offer still runs out at 30 s.
    for id in [&dana, &sam] {
        state
            .store
            .touch_agent(id, None, t0() + Duration::seconds(29))
            .await
            .unwrap();
    }
    let early = handoffs::tick(&state, t0() + Duration::seconds(29))
        .await
        .unwrap();
    assert!(early.is_empty(), "{early:?}");
    let late = handoffs::tick(&state, t0() + Duration::seconds(30))
        .await
        .unwrap();
    assert!(
        matches!(&late[..], [TimerAction::ExpireOffer { .. }]),
        "{late:?}"
    );
    let handoff = only_handoff(&state).await;
    assert_eq!(handoff.status, HandoffStatus::Offered);
    assert_eq!(handoff.offer.as_ref().unwrap().agent_id, *other);
    assert_eq!(handoff.declined, vec![first]);
}

#[tokio::test]
async fn a_silent_agent_goes_offline_and_their_conversation_returns_after_the_grace() {
    let (_dir, state) = setup().await;
    let dana = agent(&state, "Dana").await;
    let conversation = escalated_conversation(&state).await;
    let offered = handoffs::dispatch(&state, t0()).await.unwrap();
    let staff = state.store.staff(&dana).await.unwrap().unwrap();
    handoffs::accept(&state, &staff, &offered[0].id, t0() + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(
        state
            .store
            .conversation(&conversation)
            .await
            .unwrap()
            .unwrap()
            .state,
        ConversationState::Human
    );

    // No heartbeat after t0: offline at 60 s, the conversation back in the queue at 180 s.
    let at_60 = handoffs::tick(&state, t0() + Duration::seconds(60))
        .await
        .unwrap();
    assert!(
        matches!(&at_60[..], [TimerAction::GoOffline { .. }]),
        "{at_60:?}"
    );
    assert_eq!(
        state.store.agent(&dana).await.unwrap().unwrap().presence,
        Presence::Offline
    );
    let at_179 = handoffs::tick(&state, t0() + Duration::seconds(179))
        .await
        .unwrap();
    assert!(at_179.is_empty(), "{at_179:?}");
    assert_eq!(only_handoff(&state).await.status, HandoffStatus::Assigned);
    let at_180 = handoffs::tick(&state, t0() + Duration::seconds(180))
        .await
        .unwrap();
    assert!(
        matches!(&at_180[..], [TimerAction::Release { .. }]),
        "{at_180:?}"
    );
    let handoff = only_handoff(&state).await;
    assert_eq!(handoff.status, HandoffStatus::Queued);
    assert_eq!(
        state
            .store
            .conversation(&conversation)
            .await
            .unwrap()
            .unwrap()
            .state,
        ConversationState::WaitingHuman
    );

    // Back online: the queue drains to them again.
    state
        .store
        .touch_agent(&dana, Some(Presence::Online), t0() + Duration::seconds(200))
        .await
        .unwrap();
    let again = handoffs::dispatch(&state, t0() + Duration::seconds(200))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].offer.as_ref().unwrap().agent_id, dana);
}
