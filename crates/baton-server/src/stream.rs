//! Live event streams over WebSocket: replay from `after`, then go live, with no gap and no
//! duplicate.
//!
//! The stream keeps a cursor: the highest `seq` it has accounted for, whether or not the
//! reader may see that event. Notices from the bus that continue the cursor are sent as they
//! are; anything else (a notice from another process, a lagging receiver, a jump) is filled in
//! from the store. Subscribing before the replay means nothing committed meanwhile is missed.
//! Transient notices (typing, queue position; [`crate::notices`]) are sent as they come,
//! without `seq`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use baton_core::{Event, Visibility};
use baton_store::EventNotice;
use tokio::sync::broadcast::error::RecvError;

use crate::notices::Notice;
use crate::state::AppState;

/// Events read from the store per page while catching up.
const PAGE: u32 = 500;

/// Who is reading, and so which events they may see.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    Customer,
    Staff,
}

impl Reader {
    fn may_see(self, event: &Event) -> bool {
        match self {
            Reader::Customer => event.visibility() == Visibility::Customer,
            Reader::Staff => true,
        }
    }

    fn may_hear(self, notice: &Notice) -> bool {
        match self {
            Reader::Customer => notice.for_customer(),
            Reader::Staff => notice.for_staff(),
        }
    }
}

/// Serves one WebSocket until the client leaves, the connection fails or the server stops.
pub async fn run(
    mut socket: WebSocket,
    state: Arc<AppState>,
    conversation_id: String,
    after: i64,
    reader: Reader,
) {
    let mut notices = state.store.bus().subscribe(&conversation_id);
    let mut transient = state.notices.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut cursor = after;
    let mut ping = tokio::time::interval(Duration::from_secs(state.config.server.stream_ping_secs));
    ping.tick().await;

    if catch_up(&mut socket, &state, &conversation_id, &mut cursor, reader)
        .await
        .is_err()
    {
        return;
    }
    // A customer waiting for a person sees where they stand at once, not at the next move.
    if let Some(notice) = state.dispatcher.standing(&conversation_id) {
        let frame = Notice::Queue {
            text: notice.text(state.now()),
            notice,
        };
        if reader.may_hear(&frame)
            && let Ok(text) = serde_json::to_string(&frame)
            && socket.send(Message::Text(text.into())).await.is_err()
        {
            return;
        }
    }
    metrics::gauge!("baton_streams_open").increment(1);
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let result = match notice {
                    Ok(notice) => deliver(&mut socket, &state, &conversation_id, &mut cursor, reader, &notice).await,
                    Err(RecvError::Lagged(_)) => catch_up(&mut socket, &state, &conversation_id, &mut cursor, reader).await,
                    Err(RecvError::Closed) => Err(()),
                };
                if result.is_err() {
                    break;
                }
            }
            addressed = transient.recv() => match addressed {
                Ok(addressed) if addressed.conversation_id == conversation_id && reader.may_hear(&addressed.notice) => {
                    let Ok(text) = serde_json::to_string(&addressed.notice) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                // Skipped or unrelated notices are harmless; the channel outlives every stream.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
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
    metrics::gauge!("baton_streams_open").decrement(1);
}

async fn deliver(
    socket: &mut WebSocket,
    state: &AppState,
    conversation_id: &str,
    cursor: &mut i64,
    reader: Reader,
    notice: &EventNotice,
) -> Result<(), ()> {
    if notice.seq <= *cursor {
        return Ok(());
    }
    match &notice.event {
        Some(event) if notice.seq == *cursor + 1 => {
            *cursor = notice.seq;
            if reader.may_see(event) {
                send(socket, event).await?;
            }
            Ok(())
        }
        _ => catch_up(socket, state, conversation_id, cursor, reader).await,
    }
}

/// Sends every stored event after the cursor.
async fn catch_up(
    socket: &mut WebSocket,
    state: &AppState,
    conversation_id: &str,
    cursor: &mut i64,
    reader: Reader,
) -> Result<(), ()> {
    loop {
        let events = match state
            .store
            .events_after(conversation_id, *cursor, PAGE, None)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, conversation_id, "stream could not read the timeline");
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: axum::extract::ws::close_code::AGAIN,
                        reason: Utf8Bytes::from_static("storage unavailable; reconnect"),
                    })))
                    .await;
                return Err(());
            }
        };
        let full_page = events.len() as u32 == PAGE;
        for event in &events {
            *cursor = event.seq;
            if reader.may_see(event) {
                send(socket, event).await?;
            }
        }
        if !full_page {
            return Ok(());
        }
    }
}

async fn send(socket: &mut WebSocket, event: &Event) -> Result<(), ()> {
    let text = serde_json::to_string(event).map_err(|_| ())?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| ())
}
