//! An agent's live WebSocket: offers with their brief, queue changes, and the events of the
//! conversations the agent owns.
//!
//! Frames are JSON text:
//! - `{"type": "hello", "agent", "queue"}` first: who the agent is and their queue, the open
//!   handoffs (queued, offered, assigned) of their teams and their own, in queue order, each
//!   with `waiting_secs`, `position` and a `preview` of the customer's last message;
//! - `{"type": "offer", "handoff", "brief", "brief_text"}` when a handoff is offered to them;
//! - `{"type": "handoff", "handoff", "step", "reason"}` for every change to a handoff of
//!   their teams, their own ones included, whoever made it (the queue view follows these; a
//!   `closed` one leaves the queue);
//! - `{"type": "handoff_left", "handoff_id", "conversation_id", "step", "reason"}` when a
//!   change takes a handoff off their queue while it stays open (a transfer to a team they
//!   are not in);
//! - `{"type": "preview", "conversation_id", "preview": {"text", "at"}}` when the customer of
//!   a handoff on their queue writes;
//! - `{"type": "alert", "kind": "waited_too_long", "handoff", "reason"}` for supervisors, when
//!   a handoff waited past its team's wait target and its priority rose;
//! - `{"type": "presence", "agent"}` when Baton changed the agent's presence (they let
//!   several offers lapse in a row and were set away; `agent.presence_reason` says so);
//! - `{"type": "event", "conversation_id", "event"}` for each event of a conversation they
//!   hold (staff-only events included);
//! - `{"type": "notice", "conversation_id", "notice"}` for transient notices of a conversation
//!   they hold: the customer typing (`{"type": "typing", "role": "customer"}`) and queue moves.
//!
//! The client may send `{"type": "watch", "conversation_id"}` to follow one more conversation
//! it is looking at without holding it (a queued handoff it previews, or for a supervisor
//! someone else's conversation): its events and notices come as for a held one. Agents may
//! watch conversations whose handoffs are in their teams (or that they hold or held), admins
//! any. The answer is `{"type": "watching", "conversation_id"}` — from then on nothing is
//! missed, so the client reads what came before it once more — or `{"type": "watch_refused",
//! "conversation_id", "message"}`. `{"type": "watch", "conversation_id": null}` stops.
//!
//! The stream learns of changes from the event bus (every process's, on PostgreSQL) through
//! the staff-only `handoff` events, so it needs nothing else to stay current. While it is open
//! it keeps the agent's heartbeat fresh; when it closes, the presence timeout and the offline
//! grace period apply. When the agent's account is disabled or their key replaced, the stream
//! closes with code [`ACCESS_REVOKED`]: at once on this process, and within a heartbeat on
//! others (each heartbeat checks the key again).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use baton_core::handoff::{Handoff, HandoffStatus, Step};
use baton_core::routing::Presence;
use baton_core::{Event, EventBody, Staff, StaffRole};
use baton_store::{EventNotice, HandoffFilter};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::handoffs::queue::{MessagePreview, Viewer, queue_for};
use crate::state::AppState;

/// The close code of a stream whose agent lost access (account disabled or key replaced):
/// the console signs out instead of reconnecting.
pub const ACCESS_REVOKED: u16 = 4401;

/// Tells this process's agent streams whose access was withdrawn. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Revocations {
    sender: broadcast::Sender<String>,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            sender: broadcast::channel(64).0,
        }
    }
}

impl Revocations {
    /// Closes every stream of this staff member on this process.
    pub fn revoke(&self, staff_id: &str) {
        // No stream open: nobody to tell.
        let _ = self.sender.send(staff_id.to_string());
    }

    fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}

/// Serves one agent's stream until they leave, the connection fails, their access is
/// withdrawn or the server stops. `key_hash` is the hash of the key they connected with,
/// checked again on every heartbeat.
pub async fn run(mut socket: WebSocket, state: Arc<AppState>, staff: Staff, key_hash: String) {
    let mut notices = state.store.bus().subscribe_all();
    let mut transient = state.notices.subscribe();
    let mut revoked = state.revocations.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut ping = tokio::time::interval(Duration::from_secs(state.config.server.stream_ping_secs));
    ping.tick().await;
    // A heartbeat well within the presence timeout.
    let beat_every = Duration::from_millis((state.config.handoff.presence_timeout_ms / 3).max(50));
    let mut beat = tokio::time::interval(beat_every);

    let Ok(mut view) = View::load(&state, &staff).await else {
        return;
    };
    if send(&mut socket, &view.hello(&state, &staff).await)
        .await
        .is_err()
    {
        return;
    }
    metrics::gauge!("baton_agent_streams_open").increment(1);
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let result = match notice {
                    Ok(notice) => view.deliver(&mut socket, &state, &notice).await,
                    // Too slow to follow every notice: start again from the store.
                    Err(RecvError::Lagged(_)) => match View::load(&state, &staff).await {
                        Ok(mut fresh) => {
                            fresh.watching = view.watching.take();
                            view = fresh;
                            send(&mut socket, &view.hello(&state, &staff).await).await
                        }
                        Err(()) => Err(()),
                    },
                    Err(RecvError::Closed) => Err(()),
                };
                if result.is_err() {
                    break;
                }
            }
            addressed = transient.recv() => match addressed {
                Ok(addressed) if view.follows(&addressed.conversation_id) && addressed.notice.for_staff() => {
                    let frame = json!({"type": "notice", "conversation_id": addressed.conversation_id, "notice": addressed.notice});
                    if send(&mut socket, &frame).await.is_err() {
                        break;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(Message::Text(text))) => {
                    if view.request(&mut socket, &state, &staff, text.as_str()).await.is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
            },
            gone = revoked.recv() => match gone {
                Ok(id) if id == staff.id => {
                    close_revoked(&mut socket).await;
                    break;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            _ = beat.tick() => {
                // Another process may have disabled the account or replaced the key.
                match state.store.staff_by_key_hash(&key_hash).await {
                    Ok(Some(current)) if current.id == staff.id && !current.disabled => {}
                    Ok(_) => {
                        close_revoked(&mut socket).await;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, agent = %staff.id, "cannot check the agent's key");
                    }
                }
                if let Err(error) = state.store.touch_agent(&staff.id, None, state.now()).await {
                    tracing::warn!(%error, agent = %staff.id, "cannot record the agent's heartbeat");
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = shutdown.changed() => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: axum::extract::ws::close_code::AWAY,
                        reason: Utf8Bytes::from_static("server shutting down"),
                    })))
                    .await;
                break;
            }
        }
    }
    metrics::gauge!("baton_agent_streams_open").decrement(1);
}

async fn close_revoked(socket: &mut WebSocket) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: ACCESS_REVOKED,
            reason: Utf8Bytes::from_static(
                "access revoked: the account was disabled or its key replaced",
            ),
        })))
        .await;
}

/// What the stream knows of the agent's world.
struct View {
    staff_id: String,
    /// Whose queue this is: the agent's teams, or every team for supervisors.
    viewer: Viewer,
    /// Conversations the agent holds (offered or assigned): their events are forwarded.
    mine: HashSet<String>,
    /// The conversations whose open handoff is on the agent's queue (a conversation has one
    /// open handoff at most): a change that takes one off it (a transfer to another team) is
    /// sent too, and so are previews of what their customers write.
    shown: HashSet<String>,
    /// The agent's presence as last sent: when Baton changes it (missed offers), they are
    /// told why.
    presence: Option<Presence>,
    /// The conversation the agent is looking at without holding it, if they asked to watch.
    watching: Option<String>,
}

impl View {
    async fn load(state: &AppState, staff: &Staff) -> Result<View, ()> {
        let agent = state.store.agent(&staff.id).await.map_err(|_| ())?;
        let held = state
            .store
            .handoffs(&HandoffFilter {
                statuses: vec![HandoffStatus::Offered, HandoffStatus::Assigned],
                agent_id: Some(staff.id.clone()),
                ..Default::default()
            })
            .await
            .map_err(|_| ())?;
        Ok(View {
            staff_id: staff.id.clone(),
            viewer: Viewer {
                staff_id: staff.id.clone(),
                teams: agent.as_ref().map(|a| a.teams.clone()).unwrap_or_default(),
                everything: staff.role == StaffRole::Admin,
            },
            mine: held.into_iter().map(|h| h.conversation_id).collect(),
            shown: HashSet::new(),
            presence: agent.map(|a| a.presence),
            watching: None,
        })
    }

    /// Whether the conversation's events and notices go to this stream.
    fn follows(&self, conversation_id: &str) -> bool {
        self.mine.contains(conversation_id) || self.watching.as_deref() == Some(conversation_id)
    }

    /// A frame from the client: `{"type": "watch", "conversation_id": ID | null}`. Anything
    /// else is ignored.
    async fn request(
        &mut self,
        socket: &mut WebSocket,
        state: &AppState,
        staff: &Staff,
        text: &str,
    ) -> Result<(), ()> {
        let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(());
        };
        if request["type"] != "watch" {
            return Ok(());
        }
        let Some(id) = request["conversation_id"].as_str() else {
            self.watching = None;
            return Ok(());
        };
        if self.may_view(state, staff, id).await {
            self.watching = Some(id.to_string());
            send(socket, &json!({"type": "watching", "conversation_id": id})).await
        } else {
            send(
                socket,
                &json!({"type": "watch_refused", "conversation_id": id,
                        "message": "this conversation is not in your teams"}),
            )
            .await
        }
    }

    /// Admins see every conversation; agents those with a handoff in their teams (or one
    /// without a team), or one they hold or held.
    async fn may_view(&self, state: &AppState, staff: &Staff, conversation_id: &str) -> bool {
        if self.viewer.everything || self.mine.contains(conversation_id) {
            return true;
        }
        let Ok(handoffs) = state
            .store
            .handoffs(&HandoffFilter {
                conversation_id: Some(conversation_id.to_string()),
                limit: 100,
                ..Default::default()
            })
            .await
        else {
            return false;
        };
        handoffs.iter().any(|h| {
            self.viewer.sees_team(h.team.as_deref())
                || h.holder() == Some(staff.id.as_str())
                || h.history
                    .iter()
                    .any(|step| step.agent_id.as_deref() == Some(staff.id.as_str()))
        })
    }

    /// The first frame: who the agent is and their queue (with previews).
    async fn hello(&mut self, state: &AppState, staff: &Staff) -> serde_json::Value {
        let agent = state.store.agent(&staff.id).await.ok().flatten();
        let queue = queue_for(state, &self.viewer, state.now())
            .await
            .unwrap_or_default();
        self.shown = queue
            .iter()
            .map(|e| e.handoff.conversation_id.clone())
            .collect();
        json!({"type": "hello", "agent": agent, "queue": queue})
    }

    async fn deliver(
        &mut self,
        socket: &mut WebSocket,
        state: &AppState,
        notice: &EventNotice,
    ) -> Result<(), ()> {
        let event = match &notice.event {
            Some(event) => event.clone(),
            // From another process: read it.
            None => match state
                .store
                .events_after(&notice.conversation_id, notice.seq - 1, 1, None)
                .await
            {
                Ok(mut events) if !events.is_empty() => events.remove(0),
                _ => return Ok(()),
            },
        };
        if let EventBody::Handoff {
            handoff_id,
            step,
            agent_id,
            reason,
            ..
        } = &event.body
        {
            // As the change left it when it happened here; read it otherwise.
            let handoff = match &notice.handoff {
                Some(handoff) => handoff.clone(),
                None => match state.store.handoff(handoff_id).await {
                    Ok(Some(handoff)) => handoff,
                    _ => return Ok(()),
                },
            };
            self.handoff_changed(socket, state, &handoff, *step, agent_id.as_deref(), reason)
                .await?;
        } else if self.shown.contains(&notice.conversation_id)
            && let Some(preview) = MessagePreview::of(&event)
        {
            send(
                socket,
                &json!({"type": "preview", "conversation_id": notice.conversation_id,
                        "preview": preview}),
            )
            .await?;
        }
        if self.follows(&notice.conversation_id) {
            send_event(socket, &notice.conversation_id, &event).await?;
        }
        Ok(())
    }

    /// A step of a handoff: the offer if it is for this agent, the change if the handoff is
    /// (or was) on their queue, an alert for supervisors when one waited too long, and the
    /// agent's own presence when Baton changed it.
    async fn handoff_changed(
        &mut self,
        socket: &mut WebSocket,
        state: &AppState,
        handoff: &Handoff,
        step: Step,
        agent_id: Option<&str>,
        reason: &str,
    ) -> Result<(), ()> {
        let for_me = agent_id == Some(self.staff_id.as_str());
        if handoff.holder() == Some(self.staff_id.as_str()) {
            self.mine.insert(handoff.conversation_id.clone());
        } else {
            self.mine.remove(&handoff.conversation_id);
        }
        if step == Step::Offered && for_me && handoff.status == HandoffStatus::Offered {
            // Offers go to online agents only.
            self.presence = Some(Presence::Online);
            let brief = state.dispatcher.brief(state, &handoff.id).await;
            let text = brief.as_deref().map(baton_core::render_text);
            send(
                socket,
                &json!({"type": "offer", "handoff": handoff, "brief": brief, "brief_text": text}),
            )
            .await?;
        }
        let was_shown = self.shown.contains(&handoff.conversation_id);
        if self.viewer.sees(handoff) || for_me || (was_shown && !handoff.status.is_open()) {
            if handoff.status.is_open() {
                self.shown.insert(handoff.conversation_id.clone());
            } else {
                self.shown.remove(&handoff.conversation_id);
            }
            send(
                socket,
                &json!({"type": "handoff", "handoff": handoff, "step": step, "reason": reason}),
            )
            .await?;
        } else if was_shown {
            self.shown.remove(&handoff.conversation_id);
            send(
                socket,
                &json!({"type": "handoff_left", "handoff_id": handoff.id,
                        "conversation_id": handoff.conversation_id, "step": step,
                        "reason": reason}),
            )
            .await?;
        }
        if step == Step::PriorityRaised && self.viewer.everything {
            send(
                socket,
                &json!({"type": "alert", "kind": "waited_too_long", "handoff": handoff,
                        "reason": reason}),
            )
            .await?;
        }
        if step == Step::OfferExpired && for_me {
            // Letting offers lapse in a row may have set the agent away: say so, and why.
            if let Ok(Some(agent)) = state.store.agent(&self.staff_id).await
                && agent.presence_reason.is_some()
                && Some(agent.presence) != self.presence
            {
                self.presence = Some(agent.presence);
                send(socket, &json!({"type": "presence", "agent": agent})).await?;
            }
        }
        Ok(())
    }
}

async fn send_event(
    socket: &mut WebSocket,
    conversation_id: &str,
    event: &Event,
) -> Result<(), ()> {
    send(
        socket,
        &json!({"type": "event", "conversation_id": conversation_id, "event": event}),
    )
    .await
}

async fn send(socket: &mut WebSocket, value: &serde_json::Value) -> Result<(), ()> {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .map_err(|_| ())
}
