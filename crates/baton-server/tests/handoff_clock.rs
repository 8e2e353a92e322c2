//! The handoff timers on an injected clock: offers expire, silent agents go offline and lose
//! their conversations after the grace period, and the queue drains — minutes of routing
//! in milliseconds, on a real SQLite store.

mod common;

use baton_core::handoff::timers::TimerAction;
use baton_core::handoff::{HandoffStatus, Priority, Step};
use baton_core::routing::Presence;
use baton_core::{ConversationState, EventBody, NoticeKind};
use baton_server::handoffs;
use baton_server::state::AppState;
use baton_store::HandoffFilter;
use chrono::Duration;
use common::{Desk, ONE_TEAM, t0};

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
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    let dana = desk.agent("Dana", &["support"], 2).await.id;
    let sam = desk.agent("Sam", &["support"], 2).await.id;
    desk.escalated().await;

    let offered = handoffs::dispatch(state, t0()).await.unwrap();
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
    let early = handoffs::tick(state, t0() + Duration::seconds(29))
        .await
        .unwrap();
    assert!(early.is_empty(), "{early:?}");
    let late = handoffs::tick(state, t0() + Duration::seconds(30))
        .await
        .unwrap();
    assert!(
        matches!(&late[..], [TimerAction::ExpireOffer { .. }]),
        "{late:?}"
    );
    let handoff = only_handoff(state).await;
    assert_eq!(handoff.status, HandoffStatus::Offered);
    assert_eq!(handoff.offer.as_ref().unwrap().agent_id, *other);
    assert_eq!(
        handoff.cooling_agents(t0() + Duration::seconds(30)),
        vec![first.as_str()]
    );
}

#[tokio::test]
async fn a_silent_agent_goes_offline_and_their_conversation_returns_after_the_grace() {
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    let dana = desk.agent("Dana", &["support"], 2).await.id;
    let conversation = desk.escalated().await;
    let offered = handoffs::dispatch(state, t0()).await.unwrap();
    let staff = state.store.staff(&dana).await.unwrap().unwrap();
    handoffs::accept(state, &staff, &offered[0].id, t0() + Duration::seconds(5))
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
    let at_60 = handoffs::tick(state, t0() + Duration::seconds(60))
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
    let at_179 = handoffs::tick(state, t0() + Duration::seconds(179))
        .await
        .unwrap();
    assert!(at_179.is_empty(), "{at_179:?}");
    assert_eq!(only_handoff(state).await.status, HandoffStatus::Assigned);
    let at_180 = handoffs::tick(state, t0() + Duration::seconds(180))
        .await
        .unwrap();
    assert!(
        matches!(&at_180[..], [TimerAction::Release { .. }]),
        "{at_180:?}"
    );
    let handoff = only_handoff(state).await;
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
    let again = handoffs::dispatch(state, t0() + Duration::seconds(200))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].offer.as_ref().unwrap().agent_id, dana);
}

/// Every agent's pending offer, by agent id.
async fn offers(state: &AppState) -> Vec<(String, String)> {
    state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Offered],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.offer.unwrap().agent_id, h.conversation_id))
        .collect()
}

/// The scenario that used to strand customers for good: twelve waiting, two agents who let
/// every offer lapse for minutes. Offers keep moving (each agent always has one, the oldest
/// they may take), and once the agents answer, all twelve are taken, oldest first.
#[tokio::test]
async fn twelve_waiting_whose_offers_lapse_on_both_agents_are_all_offered_again_and_taken() {
    let desk = Desk::new(ONE_TEAM, |c| c.handoff.missed_offers_before_away = 0).await;
    let state = &desk.state;
    let ada = desk.agent("Ada", &["support"], 4).await;
    let bo = desk.agent("Bo", &["support"], 4).await;
    let mut waiting = Vec::new();
    for _ in 0..12 {
        waiting.push(desk.escalated().await);
        desk.advance(Duration::seconds(1));
    }
    handoffs::dispatch(state, desk.now()).await.unwrap();
    // One offer at a time each: the two oldest.
    let mut first: Vec<String> = offers(state).await.into_iter().map(|(_, c)| c).collect();
    first.sort();
    let mut oldest = waiting[..2].to_vec();
    oldest.sort();
    assert_eq!(first, oldest);

    // Five minutes of lapsing offers, a tick every 5 s with heartbeats.
    let mut offered_conversations = std::collections::HashSet::new();
    for _ in 0..60 {
        let now = desk.advance(Duration::seconds(5));
        for agent in [&ada, &bo] {
            state.store.touch_agent(&agent.id, None, now).await.unwrap();
        }
        handoffs::tick(state, now).await.unwrap();
        let pending = offers(state).await;
        assert_eq!(
            pending.len(),
            2,
            "each agent always has an offer: {pending:?}"
        );
        offered_conversations.extend(pending.into_iter().map(|(_, c)| c));
    }
    assert!(
        offered_conversations.len() >= 4,
        "offers moved on beyond the first two: {offered_conversations:?}"
    );
    // Nobody was set away, nobody stranded: still twelve waiting, none marked offline.
    let open = state
        .store
        .handoffs(&HandoffFilter::waiting())
        .await
        .unwrap();
    assert_eq!(open.len(), 12);

    // Now the agents answer: accept what is offered, resolve it, and the next comes.
    let mut taken = Vec::new();
    for _ in 0..200 {
        let now = desk.advance(Duration::seconds(1));
        for agent in [&ada, &bo] {
            state.store.touch_agent(&agent.id, None, now).await.unwrap();
        }
        for (agent_id, conversation) in offers(state).await {
            let staff = if agent_id == ada.id { &ada } else { &bo };
            let handoff = handoffs::open_handoff(state, &conversation)
                .await
                .unwrap()
                .unwrap();
            handoffs::accept(state, staff, &handoff.id, now)
                .await
                .unwrap();
            handoffs::resolve(state, staff, &handoff.id, None, Vec::new(), now)
                .await
                .unwrap();
            taken.push(conversation);
        }
        handoffs::tick(state, now).await.unwrap();
        if taken.len() == 12 {
            break;
        }
    }
    assert_eq!(taken.len(), 12, "every conversation is taken");
    for conversation in &waiting {
        assert_eq!(
            desk.conversation_state(conversation).await,
            ConversationState::Resolved
        );
    }
}

#[tokio::test]
async fn an_agent_who_lets_offers_lapse_in_a_row_is_set_away_and_told_why() {
    let desk = Desk::new(ONE_TEAM, |c| c.handoff.missed_offers_before_away = 3).await;
    let state = &desk.state;
    let dana = desk.agent("Dana", &["support"], 2).await;
    for _ in 0..4 {
        desk.escalated().await;
    }
    handoffs::dispatch(state, desk.now()).await.unwrap();
    for lapse in 1..=3 {
        let now = desk.advance(Duration::seconds(30));
        state.store.touch_agent(&dana.id, None, now).await.unwrap();
        handoffs::tick(state, now).await.unwrap();
        let agent = state.store.agent(&dana.id).await.unwrap().unwrap();
        assert_eq!(agent.missed_offers, lapse);
        if lapse < 3 {
            assert_eq!(agent.presence, Presence::Online);
            assert_eq!(offers(state).await.len(), 1, "the next offer follows");
        } else {
            assert_eq!(agent.presence, Presence::Away);
            assert_eq!(
                agent.presence_reason.as_deref(),
                Some("missed 3 offers in a row")
            );
            assert!(offers(state).await.is_empty(), "no offers while away");
        }
    }
    // Back online: the reason and the count are gone and offers come again.
    let now = desk.advance(Duration::seconds(5));
    let agent = handoffs::set_presence(state, &dana, Some(Presence::Online), now)
        .await
        .unwrap();
    assert_eq!((agent.presence_reason, agent.missed_offers), (None, 0));
    handoffs::dispatch(state, now).await.unwrap();
    assert_eq!(offers(state).await.len(), 1);
}

#[tokio::test]
async fn a_declined_handoff_comes_back_to_the_same_agent_after_the_cool_down() {
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    let dana = desk.agent("Dana", &["support"], 2).await;
    let conversation = desk.escalated().await;
    let offered = handoffs::dispatch(state, desk.now()).await.unwrap();
    handoffs::decline(state, &dana, &offered[0].id, desk.now())
        .await
        .unwrap();
    let now = desk.advance(Duration::seconds(59));
    state.store.touch_agent(&dana.id, None, now).await.unwrap();
    handoffs::tick(state, now).await.unwrap();
    assert!(offers(state).await.is_empty(), "cooling down");
    let now = desk.advance(Duration::seconds(1));
    state.store.touch_agent(&dana.id, None, now).await.unwrap();
    handoffs::tick(state, now).await.unwrap();
    assert_eq!(offers(state).await, vec![(dana.id.clone(), conversation)]);
}

#[tokio::test]
async fn an_agent_takes_a_waiting_conversation_from_the_queue_in_one_step() {
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    let dana = desk.agent("Dana", &["support"], 1).await;
    // Dana is away: nothing is offered, but she may still pull.
    handoffs::set_presence(state, &dana, Some(Presence::Away), desk.now())
        .await
        .unwrap();
    let conversation = desk.escalated().await;
    let handoff = handoffs::open_handoff(state, &conversation)
        .await
        .unwrap()
        .unwrap();
    let taken = handoffs::take(state, &dana, &handoff.id, desk.now())
        .await
        .unwrap();
    assert_eq!(taken.status, HandoffStatus::Assigned);
    assert_eq!(taken.last_step().unwrap().step, Step::Taken);
    assert_eq!(
        desk.conversation_state(&conversation).await,
        ConversationState::Human
    );
    // The step, the state change and the customer's message: consecutive, one write.
    let events = state
        .store
        .events_after(&conversation, 0, 0, None)
        .await
        .unwrap();
    let tail: Vec<&str> = events[events.len() - 3..]
        .iter()
        .map(|e| e.body.type_name())
        .collect();
    assert_eq!(tail, ["handoff", "state_changed", "message"]);
    match &events.last().unwrap().body {
        EventBody::Message {
            handover: Some(notice),
            text,
            ..
        } => {
            assert_eq!(notice.kind, NoticeKind::Joined);
            assert_eq!(notice.agent.as_deref(), Some("Dana"));
            assert_eq!(text, "Dana from Support joined the conversation.");
        }
        other => panic!("expected the joined message, got {other:?}"),
    }
    // At capacity: a second one cannot be taken.
    let second = desk.escalated().await;
    let other = handoffs::open_handoff(state, &second)
        .await
        .unwrap()
        .unwrap();
    let refused = handoffs::take(state, &dana, &other.id, desk.now()).await;
    assert!(
        matches!(refused, Err(handoffs::HandoffError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_handoff_nobody_takes_within_the_wait_target_becomes_more_urgent() {
    let desk = Desk::new(
        "default_team = \"support\"\n[[teams]]\nname = \"support\"\nwait_target_minutes = 5\n",
        |_| {},
    )
    .await;
    let state = &desk.state;
    let conversation = desk.escalated().await;
    let before = handoffs::open_handoff(state, &conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.priority, Priority::Normal);
    handoffs::tick(state, t0() + Duration::seconds(299))
        .await
        .unwrap();
    let actions = handoffs::tick(state, t0() + Duration::seconds(300))
        .await
        .unwrap();
    assert!(
        matches!(
            &actions[..],
            [TimerAction::RaisePriority {
                to: Priority::High,
                ..
            }]
        ),
        "{actions:?}"
    );
    let after = handoffs::open_handoff(state, &conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.priority, Priority::High);
    assert_eq!(after.last_step().unwrap().step, Step::PriorityRaised);
}

#[tokio::test]
async fn the_waiting_customer_is_told_where_they_stand_as_agents_come_and_go() {
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    // Nobody on: the customer hears so, and the handoff waits as an offline ticket.
    let conversation = desk.escalated().await;
    let standing = |c: &str| state.dispatcher.standing(c).map(|n| n.kind);
    assert_eq!(standing(&conversation), Some(NoticeKind::Unavailable));
    // Dana comes online with her one slot taken: now the customer is first in line.
    let dana = desk.agent("Dana", &["support"], 1).await;
    let busy = desk.escalated().await;
    handoffs::dispatch(state, desk.now()).await.unwrap();
    let offered = offers(state).await;
    assert_eq!(offered.len(), 1);
    assert_eq!(
        offered[0].1, conversation,
        "the older conversation is offered first"
    );
    assert_eq!(standing(&conversation), Some(NoticeKind::Connecting));
    let notice = state.dispatcher.standing(&busy).unwrap();
    assert_eq!(
        (notice.kind, notice.position),
        (NoticeKind::InLine, Some(2))
    );
    assert!(
        notice.estimate_secs.is_some(),
        "an estimate while Dana is on"
    );
    // Dana goes offline: nobody is on again.
    handoffs::set_presence(state, &dana, Some(Presence::Offline), desk.now())
        .await
        .unwrap();
    handoffs::tick(state, desk.now()).await.unwrap();
    assert_eq!(standing(&busy), Some(NoticeKind::Unavailable));
}

#[tokio::test]
async fn a_customer_whose_email_the_team_has_hears_the_reply_may_come_by_email() {
    let desk = Desk::new(ONE_TEAM, |_| {}).await;
    let state = &desk.state;
    let customer = state
        .store
        .upsert_identified_customer(
            "u-42",
            Some("Jordan"),
            Some("jordan@example.com"),
            None,
            desk.now(),
        )
        .await
        .unwrap();
    // Nobody is on: the customer is told a person will reply here and by email.
    let conversation = desk.escalated_for(&customer.id).await;
    let events = state
        .store
        .events_after(&conversation, 0, 0, None)
        .await
        .unwrap();
    let told = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Message {
                handover: Some(notice),
                text,
                ..
            } => Some((notice.clone(), text.clone())),
            _ => None,
        })
        .expect("the customer is told where they stand");
    assert_eq!(told.0.kind, NoticeKind::Unavailable);
    assert!(told.0.reply_by_email && !told.0.ask_email, "{:?}", told.0);
    assert!(
        told.1.contains("reply here in this chat and by email"),
        "{}",
        told.1
    );
}
