//! The warm handoff: from the escalating turn to a person, and back.
//!
//! On escalation the conversation gets a [`Handoff`] (queued in the team the policy routes
//! it to, with its brief), moves to `waiting_human`, and the customer is told at once who
//! they wait for, their place in line and an honest estimate — or, when nobody can come,
//! when someone will. The dispatcher offers queued handoffs to agents (online members of the
//! team with spare capacity, least loaded then longest idle), highest priority first; the
//! timers take back offers not accepted in time, mark agents whose heartbeat stopped as
//! offline, return the conversations of agents offline past the grace period to the queue
//! and move handoffs that waited too long to their team's overflow team.
//!
//! Every change goes through [`Store::change_handoff`](baton_store::Store::change_handoff),
//! which checks and writes under lock, so any number of tasks and processes can dispatch at
//! once. Each change is recorded in the same write on the conversation's timeline as a
//! staff-only `handoff` event (with its reason), which is also how every process's agent
//! streams learn of it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use baton_core::handoff::timers::{self, AgentClock, TimerAction};
use baton_core::handoff::{BY_BATON, Handoff, HandoffChange, HandoffStatus, Outcome};
use baton_core::policy::Policy;
use baton_core::routing::{self, AgentAvailability, TeamStats, choose_agent};
use baton_core::signals::TurnSignals;
use baton_core::{
    Agent, Brief, BriefInput, Conversation, ConversationState, Decision, Event, EventBody,
    NewEvent, Role, Staff, StaffRole,
};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};

use crate::error::ApiError;
use crate::state::AppState;

/// The team name routing uses for a handoff without a team (the policy declares none): every
/// agent is in it.
const ANY_TEAM: &str = "*";

/// The place in line a waiting customer was last told, and when.
struct Told {
    position: usize,
    at: std::time::Instant,
}

/// Serialises this process's dispatch passes and lets anyone ask for one.
#[derive(Default)]
pub struct Dispatcher {
    pass: Mutex<()>,
    wake: Notify,
    /// The place in line each waiting customer was last told, and when, by handoff id: a
    /// pass that moves them tells them again (a transient notice on their stream).
    told: std::sync::Mutex<HashMap<String, Told>>,
    /// Recently closed handoffs (most recent first) for the median handle times behind wait
    /// estimates, read at most once per [`HANDLE_TIMES_TTL_SECS`].
    recent_closed: std::sync::Mutex<Option<RecentClosed>>,
    /// The briefs of handoffs this process created lately, so that an offer carries its
    /// brief without reading it back.
    briefs: std::sync::Mutex<RecentBriefs>,
}

/// How many recent briefs [`Dispatcher`] keeps.
const RECENT_BRIEFS: usize = 256;

/// The last [`RECENT_BRIEFS`] briefs created, by handoff id.
#[derive(Default)]
struct RecentBriefs {
    by_id: HashMap<String, Arc<Brief>>,
    order: std::collections::VecDeque<String>,
}

/// When the recently closed handoffs were read, and what was read.
type RecentClosed = (DateTime<Utc>, Arc<Vec<Handoff>>);

/// How long the recently closed handoffs behind wait estimates are reused.
const HANDLE_TIMES_TTL_SECS: i64 = 60;
/// How many recently closed handoffs are read for them (every team's).
const HANDLE_TIMES_READ: u32 = 500;

/// Recently closed handoffs, most recent first, for [`routing::median_handle_time`]; empty
/// when they cannot be read (estimates then say nothing rather than fail the handoff).
async fn recent_closed(state: &AppState, now: DateTime<Utc>) -> Arc<Vec<Handoff>> {
    {
        let cached = state
            .dispatcher
            .recent_closed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, list)) = cached.as_ref()
            && (now - *at).num_seconds() < HANDLE_TIMES_TTL_SECS
        {
            return Arc::clone(list);
        }
    }
    let list = match state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Closed],
            recent_first: true,
            limit: HANDLE_TIMES_READ,
            ..Default::default()
        })
        .await
    {
        Ok(list) => Arc::new(list),
        Err(error) => {
            tracing::warn!(%error, "cannot read recent handoffs for wait estimates");
            Arc::new(Vec::new())
        }
    };
    *state
        .dispatcher
        .recent_closed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now, Arc::clone(&list)));
    list
}

impl Dispatcher {
    fn told(&self) -> std::sync::MutexGuard<'_, HashMap<String, Told>> {
        self.told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember_told(&self, handoff_id: &str, position: usize) {
        self.told().insert(
            handoff_id.to_string(),
            Told {
                position,
                at: std::time::Instant::now(),
            },
        );
    }

    fn briefs(&self) -> std::sync::MutexGuard<'_, RecentBriefs> {
        self.briefs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember_brief(&self, handoff_id: &str, brief: Brief) {
        let mut briefs = self.briefs();
        if briefs.order.len() >= RECENT_BRIEFS
            && let Some(oldest) = briefs.order.pop_front()
        {
            briefs.by_id.remove(&oldest);
        }
        briefs.order.push_back(handoff_id.to_string());
        briefs.by_id.insert(handoff_id.to_string(), Arc::new(brief));
    }

    /// A handoff's brief: as created here lately, else as stored.
    pub async fn brief(&self, state: &AppState, handoff_id: &str) -> Option<Arc<Brief>> {
        if let Some(brief) = self.briefs().by_id.get(handoff_id) {
            return Some(Arc::clone(brief));
        }
        match state.store.handoff_brief(handoff_id).await {
            Ok(brief) => brief.map(Arc::new),
            Err(error) => {
                tracing::warn!(%error, handoff = handoff_id, "cannot read the handoff's brief");
                None
            }
        }
    }

    /// Asks the background task for a dispatch pass soon.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Waits until someone asks for a pass.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// What the escalation tells the caller.
pub struct Escalated {
    /// The messages the customer sees.
    pub visible: Vec<Event>,
}

/// Hands the conversation over after an escalating decision: builds the brief, stores the
/// handoff in the routed team's queue, moves the conversation to `waiting_human`, tells the
/// customer honestly what happens next and asks for a dispatch pass.
#[allow(clippy::too_many_arguments)]
pub async fn escalate(
    state: &AppState,
    conversation: &Conversation,
    decision: &Decision,
    signals: &TurnSignals,
    who: &crate::assistant::Who,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Escalated, ApiError> {
    let customer_context = &who.context;
    let issue_type = signals.signals.issue_type.label.clone();
    let route = policy.route(&issue_type, customer_context, now);
    let customer = who
        .customer
        .as_ref()
        .ok_or_else(|| ApiError::internal("the conversation's customer is missing"))?;
    let account = who.account.as_ref();
    let events = state
        .store
        .events_after(&conversation.id, 0, 0, None)
        .await?;
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
    let handoff = Handoff::new(
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
    // The handoff, the conversation's move to `waiting_human` and the `queued` step are one
    // write.
    match state.store.create_handoff(&handoff, &brief).await {
        Ok(_) => {}
        // Another turn of the same conversation escalated first: one handoff is enough.
        Err(baton_store::StoreError::Conflict(_)) => return Ok(Escalated { visible: vec![] }),
        Err(e) => return Err(e.into()),
    }
    metrics::counter!("baton_escalations_total").increment(1);
    state.dispatcher.remember_brief(&handoff.id, brief);
    // Routing need not wait for what the customer is told.
    state.dispatcher.kick();

    // What the customer is told: the team, their place and an honest wait, or when a
    // person will be back.
    let team = route.team.as_deref().and_then(|t| policy.team(t));
    let team_name = team.map_or("our support team".to_string(), |t| {
        format!("our {} team", t.display_name)
    });
    let agents = state.store.agents().await?;
    let team_key = route.team.as_deref().unwrap_or(ANY_TEAM);
    let members: Vec<AgentAvailability> = availability(&agents, route.team.as_deref());
    let closed = recent_closed(state, now).await;
    let stats = TeamStats::from_agents(
        team_key,
        &members,
        routing::median_handle_time(&closed, route.team.as_deref()),
    );
    let queue = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Queued],
            ..Default::default()
        })
        .await?;
    let position = queue
        .iter()
        .filter(|h| h.team == route.team)
        .position(|h| h.id == handoff.id)
        .map_or(1, |p| p + 1);
    let estimate = routing::estimate_wait(position, &stats);
    let open = team.is_none_or(|t| t.is_open(now));
    let too_long = state.config.handoff.max_wait_ms > 0
        && estimate.is_some_and(|e| e.as_millis() as u64 > state.config.handoff.max_wait_ms);
    let intro = format!(
        "I'm passing this to {team_name}, together with everything you've told me, so you won't need to repeat anything."
    );
    let text = if open && stats.agents_online > 0 && !too_long {
        let display = team.map_or("our support team".to_string(), |t| t.display_name.clone());
        state.dispatcher.remember_told(&handoff.id, position);
        format!(
            "{intro} {}",
            routing::waiting_message(&display, position, estimate)
        )
    } else {
        let why = if !open {
            "Nobody from the team is working right now"
        } else if stats.agents_online == 0 {
            "Nobody from the team is available right now"
        } else {
            "The team is very busy right now"
        };
        let when = match team.and_then(|t| (!t.is_open(now)).then(|| t.next_open(now)).flatten()) {
            Some(opens) => format!("they are back {}", describe_when(opens, now)),
            None => "a person will pick this up as soon as one is free".to_string(),
        };
        let mut text = format!(
            "{intro} {why}; {when}, and will reply here in this chat — you can close this window and come back."
        );
        if customer.email.is_none() {
            text.push_str(
                " If you'd like, leave your email address so the team knows who you are.",
            );
        }
        let reason = format!("{why} ({})", team_name.trim_start_matches("our "));
        state
            .store
            .change_handoff(
                &handoff.id,
                &HandoffChange::MarkOffline {
                    reason: reason.clone(),
                },
                "offline",
                &reason,
                now,
            )
            .await?;
        text
    };
    let message = system_message(state, &conversation.id, text, now).await?;
    Ok(Escalated {
        visible: vec![message],
    })
}

/// The agents as routing sees them for a handoff of `team` (`None`: any agent).
fn availability(agents: &[Agent], team: Option<&str>) -> Vec<AgentAvailability> {
    agents
        .iter()
        .map(|a| {
            let mut view = a.availability(&[]);
            if team.is_none() {
                view.teams = vec![ANY_TEAM.to_string()];
            }
            view
        })
        .collect()
}

/// One dispatch pass: offers every queued handoff it can, highest priority first, to the
/// agent routing chooses. Returns the handoffs offered.
pub async fn dispatch(state: &AppState, now: DateTime<Utc>) -> Result<Vec<Handoff>, ApiError> {
    let _pass = state.dispatcher.pass.lock().await;
    // A customer told their place after this moment may be missing from the queue read
    // below: their entry stays.
    let started = std::time::Instant::now();
    let queue = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Queued],
            ..Default::default()
        })
        .await?;
    if queue.is_empty() {
        state.dispatcher.told().retain(|_, told| told.at > started);
        return Ok(Vec::new());
    }
    let mut agents = state.store.agents().await?;
    let expires_at = now + ms(state.config.handoff.offer_timeout_ms);
    let mut offered = Vec::new();
    for handoff in &queue {
        if !agents.iter().any(|a| {
            !a.disabled
                && a.presence == routing::Presence::Online
                && a.active < a.capacity
                && handoff.team.as_ref().is_none_or(|t| a.teams.contains(t))
        }) {
            continue;
        }
        let candidates = availability(&agents, handoff.team.as_deref());
        let team = handoff.team.as_deref().unwrap_or(ANY_TEAM);
        let exclude: Vec<&str> = handoff.declined.iter().map(String::as_str).collect();
        let Ok(choice) = choose_agent(team, &candidates, &exclude, now) else {
            continue;
        };
        let change = HandoffChange::Offer {
            agent_id: choice.agent_id.clone(),
            expires_at,
            reason: choice.reason.clone(),
        };
        match state
            .store
            .change_handoff(&handoff.id, &change, "offered", &choice.reason, now)
            .await?
        {
            Some(Ok(changed)) => {
                if let Some(agent) = agents.iter_mut().find(|a| a.id == choice.agent_id) {
                    agent.active += 1;
                }
                metrics::counter!("baton_handoff_offers_total").increment(1);
                offered.push(changed.handoff);
            }
            // Someone else changed it or the agent's load moved: read afresh next pass.
            Some(Err(refusal)) => {
                tracing::debug!(handoff = %handoff.id, %refusal, "offer refused");
                agents = state.store.agents().await?;
            }
            None => {}
        }
    }
    let offered_ids: HashSet<&str> = offered.iter().map(|h| h.id.as_str()).collect();
    let waiting: Vec<&Handoff> = queue
        .iter()
        .filter(|h| !offered_ids.contains(h.id.as_str()))
        .collect();
    if !waiting.is_empty() {
        let closed = recent_closed(state, now).await;
        tell_new_places(state, &waiting, &agents, &closed, started);
    }
    Ok(offered)
}

/// Tells each customer who was given a place in line and whose place has changed their new
/// place and estimate, as a transient notice on their stream. `waiting` is in queue order.
fn tell_new_places(
    state: &AppState,
    waiting: &[&Handoff],
    agents: &[Agent],
    closed: &[Handoff],
    started: std::time::Instant,
) {
    let policy = state.policy.current();
    let mut told = state.dispatcher.told();
    let mut places: HashMap<Option<&str>, usize> = HashMap::new();
    let mut still_waiting = HashSet::new();
    for handoff in waiting {
        let place = places.entry(handoff.team.as_deref()).or_default();
        *place += 1;
        let position = *place;
        still_waiting.insert(handoff.id.as_str());
        // Only customers who were given a place hear of it moving (an offline ticket's
        // customer was told when the team is back instead).
        match told.get_mut(&handoff.id) {
            Some(before) if before.position != position => before.position = position,
            _ => continue,
        }
        let team_key = handoff.team.as_deref().unwrap_or(ANY_TEAM);
        let members = availability(agents, handoff.team.as_deref());
        let stats = TeamStats::from_agents(
            team_key,
            &members,
            routing::median_handle_time(closed, handoff.team.as_deref()),
        );
        let estimate = routing::estimate_wait(position, &stats);
        let display = handoff
            .team
            .as_deref()
            .and_then(|t| policy.policy.team(t))
            .map_or("our support team".to_string(), |t| t.display_name.clone());
        state.notices.publish(
            &handoff.conversation_id,
            crate::notices::Notice::Queue {
                text: routing::waiting_message(&display, position, estimate),
                team: display,
                position,
                estimate_secs: estimate.map(|e| e.as_secs()),
            },
        );
    }
    told.retain(|id, told| still_waiting.contains(id.as_str()) || told.at > started);
}

/// Runs the timers due at `now`, then a dispatch pass. Returns what the timers did.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Vec<TimerAction>, ApiError> {
    let open = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![
                HandoffStatus::Queued,
                HandoffStatus::Offered,
                HandoffStatus::Assigned,
            ],
            ..Default::default()
        })
        .await?;
    let agents = state.store.agents().await?;
    let clocks: Vec<AgentClock> = agents
        .iter()
        .map(|a| AgentClock {
            id: a.id.clone(),
            presence: a.presence,
            presence_at: a.presence_at,
            last_seen_at: a.last_seen_at,
        })
        .collect();
    let policy = state.policy.current();
    let settings = state.config.handoff.timers();
    let actions = timers::due(
        &open,
        &clocks,
        |team| policy.policy.team(team).and_then(|t| t.overflow.clone()),
        &settings,
        now,
    );
    for action in &actions {
        match action {
            TimerAction::GoOffline { agent_id, reason } => {
                state
                    .store
                    .touch_agent(agent_id, Some(routing::Presence::Offline), now)
                    .await?;
                tracing::info!(agent = %agent_id, %reason, "agent marked offline");
            }
            TimerAction::ExpireOffer { handoff_id, reason } => {
                apply(
                    state,
                    handoff_id,
                    HandoffChange::ExpireOffer {
                        reason: reason.clone(),
                    },
                    "offer_expired",
                    reason,
                    now,
                )
                .await?;
            }
            TimerAction::Release { handoff_id, reason } => {
                release(state, handoff_id, reason, now).await?;
            }
            TimerAction::Overflow {
                handoff_id,
                to_team,
                reason,
            } => {
                apply(
                    state,
                    handoff_id,
                    HandoffChange::Transfer {
                        team: Some(to_team.clone()),
                        priority: None,
                        by: BY_BATON.to_string(),
                        reason: reason.clone(),
                    },
                    "transferred",
                    reason,
                    now,
                )
                .await?;
            }
        }
    }
    close_quiet_conversations(state, now).await?;
    dispatch(state, now).await?;
    Ok(actions)
}

/// Sentiment at or below which a customer's last turn counts as a negative reaction.
const NEGATIVE_REACTION: f64 = -0.05;

/// Closes conversations the AI owns that had no new event for `ai_quiet_resolve_ms`: as
/// resolved by the AI when the AI answered and the customer's last reaction was not
/// negative; otherwise closed, with the reason saying why it does not count as resolved.
/// Returns how many were closed.
pub async fn close_quiet_conversations(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let quiet = state.config.handoff.ai_quiet_resolve_ms;
    if quiet == 0 {
        return Ok(0);
    }
    let idle = state
        .store
        .idle_conversations(ConversationState::Ai, now - ms(quiet), 100)
        .await?;
    let words = timers::words(std::time::Duration::from_millis(quiet));
    for conversation in &idle {
        let recent = state
            .store
            .events_after(
                &conversation.id,
                (conversation.last_seq - 60).max(0),
                60,
                None,
            )
            .await?;
        let answered = recent
            .iter()
            .any(|e| matches!(&e.body, EventBody::Message { role: Role::Ai, .. }));
        let last_ai = recent
            .iter()
            .rev()
            .find(|e| matches!(&e.body, EventBody::Message { role: Role::Ai, .. }))
            .map_or(0, |e| e.seq);
        let unhelpful = recent.iter().any(|e| {
            matches!(&e.body, EventBody::Feedback { message_seq, helpful: false } if *message_seq >= last_ai)
        });
        let last_sentiment = recent.iter().rev().find_map(|e| match &e.body {
            EventBody::Decision { signals, .. } => Some(signals.signals.sentiment),
            _ => None,
        });
        let negative = unhelpful || last_sentiment.is_some_and(|s| s <= NEGATIVE_REACTION);
        let (reason, outcome) = if !answered {
            (format!("closed: no message for {words}"), "closed")
        } else if negative {
            (
                format!(
                    "closed: no message for {words}; not resolved by the AI, the customer's last reaction was negative"
                ),
                "unresolved",
            )
        } else {
            (
                format!("resolved by the AI: no message for {words}"),
                "ai_resolved",
            )
        };
        match state
            .store
            .change_state(
                &conversation.id,
                ConversationState::Resolved,
                Some(&reason),
                now,
            )
            .await
        {
            Ok(_) => {
                metrics::counter!("baton_conversations_closed_total", "outcome" => outcome)
                    .increment(1);
            }
            // The customer wrote meanwhile and the state moved on: leave it.
            Err(baton_store::StoreError::InvalidTransition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(idle.len())
}

/// Gives an assigned handoff back to its team's queue (its agent is gone): the conversation
/// waits for a person again and the customer is told.
async fn release(
    state: &AppState,
    handoff_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let change = HandoffChange::Release {
        reason: reason.to_string(),
    };
    if let Some(handoff) = apply(state, handoff_id, change, "released", reason, now).await? {
        state
            .store
            .change_state(
                &handoff.conversation_id,
                ConversationState::WaitingHuman,
                Some(reason),
                now,
            )
            .await?;
        system_message(
            state,
            &handoff.conversation_id,
            "The person who was helping you had to step away; I've put you back in line for the next one, with everything so far.".to_string(),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Applies a change and records it on the timeline; `None` when it was refused or the
/// handoff is unknown (the timers race with people; a refusal there is routine).
async fn apply(
    state: &AppState,
    handoff_id: &str,
    change: HandoffChange,
    step: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Handoff>, ApiError> {
    match state
        .store
        .change_handoff(handoff_id, &change, step, reason, now)
        .await?
    {
        Some(Ok(changed)) => Ok(Some(changed.handoff)),
        Some(Err(refusal)) => {
            tracing::debug!(handoff = %handoff_id, %refusal, "timer change refused");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The background task: a dispatch pass when asked, timers on every tick, until shutdown.
pub async fn run(state: Arc<AppState>) {
    let period = std::time::Duration::from_millis(state.config.handoff.tick_ms);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    loop {
        let outcome = tokio::select! {
            _ = ticker.tick() => tick(&state, state.now()).await.map(|_| ()),
            _ = state.dispatcher.woken() => dispatch(&state, state.now()).await.map(|_| ()),
            _ = shutdown.changed() => return,
        };
        if let Err(error) = outcome {
            tracing::warn!(error = %error.message, "handoff routing pass failed");
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Appends a system message the customer sees.
async fn system_message(
    state: &AppState,
    conversation_id: &str,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    message(state, conversation_id, Role::System, None, text, now).await
}

async fn message(
    state: &AppState,
    conversation_id: &str,
    role: Role,
    author: Option<String>,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    Ok(state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::Message {
                    role,
                    text,
                    client_msg_id: None,
                    author,
                    page: None,
                    articles: Vec::new(),
                    choices: Vec::new(),
                },
            },
        )
        .await?
        .into_event())
}

/// "in about 3 hours", "on Monday at 09:00 UTC".
pub fn describe_when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (at - now).num_minutes().max(1);
    if minutes < 90 {
        format!("in about {minutes} minutes")
    } else if minutes < 12 * 60 {
        format!("in about {} hours", (minutes + 30) / 60)
    } else {
        format!("on {} at {} UTC", at.format("%A"), at.format("%H:%M"))
    }
}

fn ms(millis: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(millis.min(i64::MAX as u64) as i64)
}

// --- what agents and supervisors do ---

/// The open handoff of a conversation, or 404/409.
pub async fn handoff_or_404(state: &AppState, id: &str) -> Result<Handoff, ApiError> {
    state
        .store
        .handoff(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("handoff {id} not found")))
}

/// Turns a refusal into a 409 with its reason.
fn refused(refusal: baton_core::Refusal) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "handoff_refused",
        refusal.to_string(),
    )
}

/// Applies a change asked for by a person and records it on the timeline as `step`.
async fn change(
    state: &AppState,
    id: &str,
    change: HandoffChange,
    (step, reason): (&str, &str),
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    match state
        .store
        .change_handoff(id, &change, step, reason, now)
        .await?
    {
        Some(Ok(changed)) => Ok(changed.handoff),
        Some(Err(refusal)) => Err(refused(refusal)),
        None => Err(ApiError::not_found(format!("handoff {id} not found"))),
    }
}

/// Whether `staff` may act on a handoff someone else holds: admins supervise.
fn supervises(staff: &Staff) -> bool {
    staff.role == StaffRole::Admin
}

/// Checks that `staff` owns the assigned handoff (or supervises).
fn check_owner(staff: &Staff, handoff: &Handoff) -> Result<(), ApiError> {
    if handoff.status != HandoffStatus::Assigned {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "handoff_refused",
            format!("the handoff is {}, not assigned", handoff.status.as_str()),
        ));
    }
    if handoff.agent_id.as_deref() == Some(staff.id.as_str()) || supervises(staff) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this conversation belongs to another agent",
        ))
    }
}

/// The agent takes the handoff offered to them: the conversation becomes theirs and the
/// customer sees who joined.
pub async fn accept(
    state: &AppState,
    staff: &Staff,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let handoff = change(
        state,
        id,
        HandoffChange::Accept {
            agent_id: staff.id.clone(),
        },
        ("accepted", "accepted the offer"),
        now,
    )
    .await?;
    state
        .store
        .change_state(
            &handoff.conversation_id,
            ConversationState::Human,
            Some(&format!("{} joined", staff.name)),
            now,
        )
        .await?;
    let team = team_display(state, handoff.team.as_deref());
    let joined = match team {
        Some(team) => format!("{} from {team} joined the conversation.", staff.name),
        None => format!("{} joined the conversation.", staff.name),
    };
    system_message(state, &handoff.conversation_id, joined, now).await?;
    metrics::histogram!("baton_handoff_wait_seconds")
        .record((now - handoff.created_at).num_milliseconds().max(0) as f64 / 1000.0);
    Ok(handoff)
}

fn team_display(state: &AppState, team: Option<&str>) -> Option<String> {
    let policy = state.policy.current();
    team.and_then(|t| policy.policy.team(t).map(|t| t.display_name.clone()))
}

/// The agent turns the offer down: it goes to the next agent.
pub async fn decline(
    state: &AppState,
    staff: &Staff,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let handoff = change(
        state,
        id,
        HandoffChange::Decline {
            agent_id: staff.id.clone(),
        },
        ("declined", "declined the offer"),
        now,
    )
    .await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The open handoff of a conversation.
pub async fn open_handoff(
    state: &AppState,
    conversation_id: &str,
) -> Result<Option<Handoff>, ApiError> {
    Ok(state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![
                HandoffStatus::Queued,
                HandoffStatus::Offered,
                HandoffStatus::Assigned,
            ],
            conversation_id: Some(conversation_id.to_string()),
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_iter()
        .next())
}

/// The agent who owns the conversation writes to the customer.
pub async fn reply(
    state: &AppState,
    staff: &Staff,
    conversation_id: &str,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let handoff = open_handoff(state, conversation_id)
        .await?
        .ok_or_else(|| ApiError::conflict("no person owns this conversation"))?;
    check_owner(staff, &handoff)?;
    let event = message(
        state,
        conversation_id,
        Role::Agent,
        Some(staff.name.clone()),
        text,
        now,
    )
    .await?;
    metrics::counter!("baton_messages_stored_total", "role" => "agent").increment(1);
    Ok(event)
}

/// The owner of the conversation is typing: the customer's stream shows it.
pub async fn typing(
    state: &AppState,
    staff: &Staff,
    conversation_id: &str,
) -> Result<(), ApiError> {
    let handoff = open_handoff(state, conversation_id)
        .await?
        .ok_or_else(|| ApiError::conflict("no person owns this conversation"))?;
    check_owner(staff, &handoff)?;
    state.notices.publish(
        conversation_id,
        crate::notices::Notice::Typing {
            role: Role::Agent,
            name: Some(staff.name.clone()),
        },
    );
    Ok(())
}

/// An internal note on the conversation: staff only, never shown to the customer.
pub async fn note(
    state: &AppState,
    staff: &Staff,
    conversation_id: &str,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    Ok(state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::Note {
                    text,
                    author: staff.id.clone(),
                },
            },
        )
        .await?
        .into_event())
}

/// Moves the handoff to another team's queue (a re-route): the customer is told.
pub async fn transfer(
    state: &AppState,
    staff: &Staff,
    id: &str,
    team: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let current = handoff_or_404(state, id).await?;
    if current.status == HandoffStatus::Assigned {
        check_owner(staff, &current)?;
    } else if !supervises(staff) {
        return Err(ApiError::forbidden(
            "only the agent who owns a conversation, or a supervisor, can transfer it",
        ));
    }
    let policy = state.policy.current();
    let target = policy
        .policy
        .team(team)
        .ok_or_else(|| ApiError::invalid(format!("team {team:?} is not declared in the policy")))?;
    let display = target.display_name.clone();
    let reason = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{} moved it to {display}: {note}", staff.name),
        None => format!("{} moved it to {display}", staff.name),
    };
    let handoff = change(
        state,
        id,
        HandoffChange::Transfer {
            team: Some(team.to_string()),
            priority: None,
            by: staff.id.clone(),
            reason: reason.clone(),
        },
        ("transferred", &reason),
        now,
    )
    .await?;
    state
        .store
        .change_state(
            &handoff.conversation_id,
            ConversationState::WaitingHuman,
            Some(&format!("transferred to {display}")),
            now,
        )
        .await?;
    system_message(
        state,
        &handoff.conversation_id,
        format!(
            "I'm bringing in our {display} team, who can help with this; they get everything you've told us so far."
        ),
        now,
    )
    .await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The agent gives the conversation back to the AI.
pub async fn hand_back(
    state: &AppState,
    staff: &Staff,
    id: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let current = handoff_or_404(state, id).await?;
    check_owner(staff, &current)?;
    let handoff = change(
        state,
        id,
        HandoffChange::Close {
            outcome: Outcome::HandedBack,
            by: staff.id.clone(),
            note,
            tags: Vec::new(),
        },
        ("handed_back", "handed back to the AI"),
        now,
    )
    .await?;
    state
        .store
        .change_state(
            &handoff.conversation_id,
            ConversationState::Ai,
            Some(&format!("{} handed back to the AI", staff.name)),
            now,
        )
        .await?;
    system_message(
        state,
        &handoff.conversation_id,
        format!(
            "{} handed you back to the AI assistant. Ask for a person again any time.",
            staff.name
        ),
        now,
    )
    .await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The agent resolves the conversation with a note and tags; the customer is asked to rate it.
pub async fn resolve(
    state: &AppState,
    staff: &Staff,
    id: &str,
    note: Option<String>,
    tags: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let current = handoff_or_404(state, id).await?;
    if current.status == HandoffStatus::Assigned {
        check_owner(staff, &current)?;
    } else if !supervises(staff) {
        return Err(ApiError::forbidden(
            "only the agent who owns a conversation, or a supervisor, can resolve it",
        ));
    }
    // The timeline's reason is the resolution note as the handoff keeps it.
    let reason = note
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "resolved".to_string());
    let handoff = change(
        state,
        id,
        HandoffChange::Close {
            outcome: Outcome::Resolved,
            by: staff.id.clone(),
            note,
            tags,
        },
        ("resolved", &reason),
        now,
    )
    .await?;
    state
        .store
        .change_state(
            &handoff.conversation_id,
            ConversationState::Resolved,
            Some(&format!("resolved by {}", staff.name)),
            now,
        )
        .await?;
    system_message(
        state,
        &handoff.conversation_id,
        format!(
            "{} marked this as resolved. How did we do? Rate this conversation from 1 to 5; you can also write here again any time.",
            staff.name
        ),
        now,
    )
    .await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// A supervisor gives the handoff straight to an agent (their capacity still applies).
pub async fn reassign(
    state: &AppState,
    staff: &Staff,
    id: &str,
    agent_id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    if !supervises(staff) {
        return Err(ApiError::forbidden(
            "only a supervisor (admin) can reassign",
        ));
    }
    let agent = state
        .store
        .agent(agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {agent_id} not found")))?;
    let reason = format!("{} gave it to {}", staff.name, agent.name);
    let handoff = change(
        state,
        id,
        HandoffChange::Reassign {
            agent_id: agent_id.to_string(),
            by: staff.id.clone(),
            reason: reason.clone(),
        },
        ("reassigned", &reason),
        now,
    )
    .await?;
    state
        .store
        .change_state(
            &handoff.conversation_id,
            ConversationState::Human,
            Some(&reason),
            now,
        )
        .await?;
    system_message(
        state,
        &handoff.conversation_id,
        format!("{} joined the conversation.", agent.name),
        now,
    )
    .await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The customer rates the conversation after a person resolved it.
pub async fn rate(
    state: &AppState,
    conversation_id: &str,
    score: u8,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff, ApiError> {
    let last = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Closed],
            conversation_id: Some(conversation_id.to_string()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|h| h.outcome == Some(Outcome::Resolved))
        .max_by_key(|h| h.closed_at)
        .ok_or_else(|| ApiError::conflict("only a conversation a person resolved can be rated"))?;
    let handoff = change(
        state,
        &last.id,
        HandoffChange::Rate {
            score,
            comment: comment.clone(),
        },
        ("rated", &format!("the customer rated it {score} of 5")),
        now,
    )
    .await?;
    state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::Rating {
                    score,
                    comment: handoff.csat.as_ref().and_then(|c| c.comment.clone()),
                },
            },
        )
        .await?;
    metrics::histogram!("baton_csat_score").record(f64::from(score));
    Ok(handoff)
}

/// Sets an agent's presence (and heartbeat); coming online drains the queue.
pub async fn set_presence(
    state: &AppState,
    staff: &Staff,
    presence: Option<routing::Presence>,
    now: DateTime<Utc>,
) -> Result<Agent, ApiError> {
    let agent = state
        .store
        .touch_agent(&staff.id, presence, now)
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    if presence == Some(routing::Presence::Online) {
        state.dispatcher.kick();
    }
    Ok(agent)
}

/// Sets how many conversations the agent takes at once (their teams stay); more room drains
/// the queue to them at once.
pub async fn set_capacity(
    state: &AppState,
    staff: &Staff,
    capacity: u32,
    now: DateTime<Utc>,
) -> Result<Agent, ApiError> {
    let agent = state
        .store
        .agent(&staff.id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    let agent = state
        .store
        .set_agent_profile(&staff.id, &agent.teams, capacity, now)
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    state.dispatcher.kick();
    Ok(agent)
}

/// A disabled agent will not come back: they go offline, their offers go to the next agent
/// and their conversations back to the queue at once (as after the offline grace period),
/// with the customer told. Returns how many handoffs they gave up.
pub async fn withdraw_agent(
    state: &AppState,
    agent_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    state
        .store
        .touch_agent(agent_id, Some(routing::Presence::Offline), now)
        .await?;
    let held = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Offered, HandoffStatus::Assigned],
            agent_id: Some(agent_id.to_string()),
            ..Default::default()
        })
        .await?;
    let reason = "the agent's account was disabled";
    for handoff in &held {
        if handoff.status == HandoffStatus::Assigned {
            release(state, &handoff.id, reason, now).await?;
        } else {
            let change = HandoffChange::ExpireOffer {
                reason: reason.to_string(),
            };
            apply(state, &handoff.id, change, "offer_expired", reason, now).await?;
        }
    }
    state.dispatcher.kick();
    Ok(held.len())
}
