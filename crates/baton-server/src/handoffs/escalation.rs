//! Escalation: an escalating decision becomes a handoff in the routed team's queue, with its
//! brief, and the customer is told honestly where they stand — in one write.

use baton_core::handoff::{Handoff, HandoffChange, HandoverNotice, NoticeKind};
use baton_core::policy::Policy;
use baton_core::signals::TurnSignals;
use baton_core::{Brief, BriefInput, Conversation, Decision, Event, EventBody, NewEvent, Role};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};

use super::dispatch::{availability, outlook};
use super::{HandoffError, Result};
use crate::state::AppState;

/// What the escalation tells the caller.
pub struct Escalated {
    /// The messages the customer sees.
    pub visible: Vec<Event>,
}

/// The turn that escalates: the decision, what was read off the turn, and the decision event
/// to store with the handoff.
pub struct EscalatingTurn<'a> {
    pub decision: &'a Decision,
    pub signals: &'a TurnSignals,
    pub event: NewEvent,
}

/// Hands the conversation over after an escalating decision: builds the brief, and in one
/// write stores the turn's decision, the handoff in the routed team's
/// queue, moves the conversation to `waiting_human` and tells the customer who they wait for,
/// their place in line and an honest estimate — or, when nobody can come now, when someone
/// will (the handoff then waits as an offline ticket). Then asks for a dispatch pass.
#[tracing::instrument(skip_all, fields(conversation_id = %conversation.id))]
pub async fn escalate(
    state: &AppState,
    conversation: &Conversation,
    turn: EscalatingTurn<'_>,
    who: &crate::assistant::Who,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Escalated> {
    let EscalatingTurn {
        decision,
        signals,
        event: decision_event,
    } = turn;
    let customer_context = &who.context;
    let issue_type = signals.signals.issue_type.label.clone();
    let route = policy.route(&issue_type, customer_context, now);
    let customer = who
        .customer
        .as_ref()
        .ok_or_else(|| HandoffError::Internal("the conversation's customer is missing".into()))?;
    let account = who.account.as_ref();
    // Where the customer will stand depends on the line and the agents: read them while the
    // brief is built.
    let store = state.store.clone();
    let line_and_agents = tokio::spawn(async move {
        let line = HandoffFilter::waiting();
        tokio::try_join!(store.handoffs(&line), store.agents())
    });
    let mut events = state
        .store
        .events_after(&conversation.id, 0, 0, None)
        .await?;
    // The brief reads the turn's decision with the timeline it closes.
    events.push(Event {
        seq: events.last().map_or(1, |e| e.seq + 1),
        at: decision_event.at,
        body: decision_event.body.clone(),
    });
    // A configured language model writes the summary; the built-in responder writes none and
    // the brief keeps its extractive one.
    let transcript: Vec<baton_ai::Turn> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message { role, text, .. } => Some(baton_ai::Turn::new(*role, text.clone())),
            _ => None,
        })
        .collect();
    let summary = state.responder.summarize(&transcript).await;
    let brief = Brief::build(&BriefInput {
        conversation,
        customer,
        account,
        events: &events,
        decision,
        signals: Some(signals),
        summary: summary.as_deref(),
        now,
    });
    let mut handoff = Handoff::new(
        format!("ho_{}", uuid::Uuid::now_v7().simple()),
        conversation.id.clone(),
        route.team.clone(),
        route.priority,
        decision
            .triggers
            .iter()
            .map(|t| t.kind.as_str().to_string())
            .collect(),
        Some(issue_type),
        customer_context.tier.clone(),
        route.reason.clone(),
        now,
    );
    handoff.customer_name = customer.name.clone();

    // Where the customer will stand: their place among the team's waiting handoffs and an
    // estimate from the agents on now.
    let (waiting, agents) = line_and_agents
        .await
        .map_err(|e| HandoffError::Internal(format!("reading the queue failed: {e}")))??;
    let mut line: Vec<&Handoff> = waiting.iter().filter(|h| h.team == handoff.team).collect();
    line.push(&handoff);
    let closed = super::dispatch::recent_closed(state, now).await;
    let mut notice = baton_core::routing::standings(
        &line,
        &availability(&agents),
        |team| outlook(state, policy, &closed, team, now),
        now,
    )
    .into_iter()
    .find(|(id, _)| *id == handoff.id)
    .map(|(_, notice)| notice)
    .unwrap_or_else(|| HandoverNotice::new(NoticeKind::InLine));
    if matches!(
        notice.kind,
        NoticeKind::Closed | NoticeKind::Unavailable | NoticeKind::Busy
    ) {
        // Nobody can come now: an offline ticket, owned by its team until someone can.
        let why = match notice.kind {
            NoticeKind::Closed => "the team was closed",
            NoticeKind::Busy => "the wait was longer than the team's limit",
            _ => "nobody of the team was online",
        };
        handoff = handoff.apply(
            &HandoffChange::MarkOffline {
                reason: format!("{why} when it arrived"),
            },
            None,
            now,
        )?;
        notice.ask_email = customer.email.is_none();
        notice.reply_by_email = customer.email.is_some();
    }
    let message = NewEvent {
        at: now,
        body: EventBody::message(Role::System, notice.escalation_text(now))
            .with_handover(notice.clone()),
    };
    let appended = match state
        .store
        .create_handoff(
            &handoff,
            &brief,
            Some(decision_event.clone()),
            Some(message),
        )
        .await
    {
        Ok(events) => events,
        // Another turn of the same conversation escalated first: one handoff is enough, and
        // this turn's decision is kept on its own.
        Err(baton_store::StoreError::Conflict(_)) => {
            state
                .store
                .append_event(&conversation.id, decision_event)
                .await?;
            return Ok(Escalated { visible: vec![] });
        }
        Err(e) => return Err(e.into()),
    };
    metrics::counter!("baton_escalations_total").increment(1);
    state.dispatcher.remember_brief(&handoff.id, brief);
    state
        .dispatcher
        .remember_told(&handoff.conversation_id, notice);
    // Routing need not wait for anything else.
    state.dispatcher.kick();
    let visible = appended
        .into_iter()
        .filter(|e| matches!(e.body, EventBody::Message { .. }))
        .collect();
    Ok(Escalated { visible })
}
