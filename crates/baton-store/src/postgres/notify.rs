//! Cross-process notices over PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! Appends do not `NOTIFY` inside their own transaction: PostgreSQL serializes the commits of
//! all notifying transactions of a database, fsync included, which would cap every process
//! together at one commit per disk flush. Instead each committed event is handed to an
//! announcer task that sends one `NOTIFY` for all the events committed meanwhile, on a
//! connection that does not wait for the flush (a lost notice only delays a subscriber until
//! the next one). A relay task listens and republishes other processes' notices on the
//! local bus, without the event.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{EventBus, EventNotice, Result};

/// The channel. A payload is a header line `origin:schema` followed by one line
/// `conversation_id:seq` per event: `origin` names the store that wrote the events (so it
/// skips its own) and `schema` keeps installations sharing a database apart.
const CHANNEL: &str = "baton_events";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// Committed events waiting for the announcer; past this, notices are dropped (with a
/// warning): subscribers catch up on the next one.
const QUEUE_CAPACITY: usize = 65_536;
/// Events gathered into one round of notifications at most.
const MAX_ROUND: usize = 4096;
/// Waits between attempts to get the listener back after it failed.
const RELAY_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// Announces this store's events to other processes and relays theirs to the bus.
pub(super) struct Notifier {
    queue: mpsc::Sender<(String, i64)>,
    background: Mutex<Option<Background>>,
}

struct Background {
    /// Firing (or dropping) them stops the tasks; the announcer sends what is queued first.
    stop_relay: oneshot::Sender<()>,
    stop_announcer: oneshot::Sender<()>,
    relay: JoinHandle<()>,
    announcer: JoinHandle<()>,
    pools: [PgPool; 2],
}

impl Notifier {
    /// Starts listening (before returning, so that no later notice is missed) and
    /// announcing. Each task gets its own connection so queries never starve it.
    pub async fn start(options: &PgConnectOptions, bus: EventBus, schema: String) -> Result<Self> {
        let single = || {
            PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
        };
        let listener_pool = single().connect_with(options.clone()).await?;
        let announcer_pool = single()
            .connect_with(options.clone().options([("synchronous_commit", "off")]))
            .await?;
        let listener = connect_listener(&listener_pool).await?;

        let origin = uuid::Uuid::new_v4().simple().to_string();
        let header = format!("{origin}:{schema}");
        let (stop_relay, relay_stopped) = oneshot::channel();
        let relay = tokio::spawn(relay(
            listener,
            listener_pool.clone(),
            bus,
            origin,
            schema,
            relay_stopped,
        ));
        let (queue, queued) = mpsc::channel(QUEUE_CAPACITY);
        let (stop_announcer, announcer_stopped) = oneshot::channel();
        let announcer = tokio::spawn(announce(
            announcer_pool.clone(),
            header,
            queued,
            announcer_stopped,
        ));
        Ok(Notifier {
            queue,
            background: Mutex::new(Some(Background {
                stop_relay,
                stop_announcer,
                relay,
                announcer,
                pools: [listener_pool, announcer_pool],
            })),
        })
    }

    /// Tells other processes about a committed event.
    pub fn announce(&self, conversation_id: &str, seq: i64) {
        match self.queue.try_send((conversation_id.to_string(), seq)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    conversation_id,
                    seq,
                    "too many events waiting to be announced; dropping a notice"
                );
            }
        }
    }

    /// Sends what is queued, stops both tasks and closes their connections.
    pub async fn stop(&self) {
        let background = self
            .background
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(background) = background else {
            return;
        };
        let _ = background.stop_announcer.send(());
        let _ = background.stop_relay.send(());
        for (task, name) in [
            (background.announcer, "announcer"),
            (background.relay, "relay"),
        ] {
            if let Err(error) = task.await {
                tracing::warn!(%error, "the PostgreSQL event {name} failed");
            }
        }
        for pool in background.pools {
            pool.close().await;
        }
    }
}

async fn connect_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // The relay stops on its own signal; the pool closing must not look like a failure.
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends queued events, as few `NOTIFY`s as fit them, until stopped; then sends the rest.
async fn announce(
    pool: PgPool,
    header: String,
    mut queue: mpsc::Receiver<(String, i64)>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut events = Vec::with_capacity(MAX_ROUND);
    let mut stopping = false;
    loop {
        tokio::select! {
            received = queue.recv_many(&mut events, MAX_ROUND) => {
                // 0 only once the queue is closed and empty.
                if received == 0 {
                    return;
                }
            }
            _ = &mut stop, if !stopping => {
                // Refuse new events, then drain what is queued through the other branch.
                stopping = true;
                queue.close();
                continue;
            }
        }
        for payload in payloads(&header, &events) {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&pool)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "could not announce events to other processes");
            }
        }
        events.clear();
    }
}

/// The payloads announcing `events`, each under PostgreSQL's size limit.
fn payloads(header: &str, events: &[(String, i64)]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut payload = String::new();
    for (conversation_id, seq) in events {
        let line = format!("\n{conversation_id}:{seq}");
        if !payload.is_empty() && payload.len() + line.len() > MAX_PAYLOAD {
            payloads.push(std::mem::take(&mut payload));
        }
        if payload.is_empty() {
            payload.push_str(header);
        }
        payload.push_str(&line);
    }
    if !payload.is_empty() {
        payloads.push(payload);
    }
    payloads
}

/// The notices of a payload; none for our own, other schemas' and garbage.
fn parse(payload: &str, origin: &str, schema: &str) -> Vec<EventNotice> {
    let mut lines = payload.lines();
    let Some((from, from_schema)) = lines.next().and_then(|header| header.split_once(':')) else {
        return Vec::new();
    };
    if from == origin || from_schema != schema {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let (conversation_id, seq) = line.rsplit_once(':')?;
            Some(EventNotice {
                conversation_id: conversation_id.to_string(),
                seq: seq.parse().ok()?,
                event: None,
                handoff: None,
            })
        })
        .collect()
}

/// Relays other processes' notices to the bus until `stop` fires or its sender is dropped,
/// reconnecting after failures. Notices sent while the listener is down are lost; the next
/// one tells subscribers to catch up from the store.
async fn relay(
    listener: PgListener,
    pool: PgPool,
    bus: EventBus,
    origin: String,
    schema: String,
    mut stop: oneshot::Receiver<()>,
) {
    let (first_backoff, max_backoff) = RELAY_BACKOFF;
    let mut backoff = first_backoff;
    let mut ready = Some(listener);
    loop {
        let connected = match ready.take() {
            Some(listener) => Ok(listener),
            None => connect_listener(&pool).await,
        };
        match connected {
            Ok(mut listener) => loop {
                let received = tokio::select! {
                    _ = &mut stop => return,
                    received = listener.recv() => received,
                };
                match received {
                    Ok(notification) => {
                        backoff = first_backoff;
                        for notice in parse(notification.payload(), &origin, &schema) {
                            bus.publish(notice);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "lost the PostgreSQL event listener; reconnecting");
                        // Dropping the listener hands its connection back for the next try.
                        break;
                    }
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for PostgreSQL events; retrying");
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_of_other_stores_in_the_same_schema_are_relayed() {
        let events = vec![("c1".to_string(), 41), ("c2".to_string(), 7)];
        let [payload] = payloads("other:public", &events).try_into().unwrap();
        let notices = parse(&payload, "me", "public");
        let read: Vec<_> = notices
            .iter()
            .map(|n| (n.conversation_id.clone(), n.seq, n.event.is_none()))
            .collect();
        assert_eq!(read, vec![("c1".into(), 41, true), ("c2".into(), 7, true)]);

        assert!(parse(&payload, "other", "public").is_empty());
        assert!(parse(&payload, "me", "elsewhere").is_empty());
        assert!(parse("garbage", "me", "public").is_empty());
        assert_eq!(parse("other:public\nc1:x\nc2:3", "me", "public").len(), 1);
    }

    #[test]
    fn many_events_are_split_under_the_payload_limit() {
        let events: Vec<_> = (0..1000)
            .map(|seq| (uuid::Uuid::now_v7().to_string(), seq))
            .collect();
        let payloads = payloads("origin:schema", &events);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let relayed: usize = payloads
            .iter()
            .map(|p| parse(p, "me", "schema").len())
            .sum();
        assert_eq!(relayed, 1000);
    }
}
