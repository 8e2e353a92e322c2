//! The event bus: tells the streams of this process that a conversation has new events.
//!
//! A notice is published only after its event is committed, so a subscriber that reads the
//! store after a notice always finds the event. Notices are hints, not the record: a slow
//! subscriber may lag (the channel drops its oldest notices), notices from several writers
//! may arrive out of order, and a notice from another process carries no event. Subscribers
//! therefore remember the last `seq` they delivered, skip notices at or below it, and read
//! the store after it whenever a notice has no event or leaves a gap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use baton_core::Event;
use baton_core::handoff::Handoff;
use tokio::sync::broadcast;

/// How many notices a conversation's channel holds for a slow subscriber before it lags.
const CONVERSATION_CAPACITY: usize = 256;
/// How many notices the all-conversations channel holds for a slow subscriber.
const GLOBAL_CAPACITY: usize = 4096;
/// Conversation channels are swept for ones without receivers when the map grows past this.
const MIN_SWEEP_SIZE: usize = 64;

/// One committed event of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct EventNotice {
    pub conversation_id: String,
    pub seq: i64,
    /// The event itself when it was appended by this process; `None` when the notice came
    /// from another process sharing the database (read the store after your last `seq`).
    pub event: Option<Event>,
    /// For a `handoff` event appended by this process: the handoff as the change it records
    /// left it, so that subscribers need not read it back.
    pub handoff: Option<Handoff>,
}

/// Fans committed events out to the subscribers of this process. Cheap to clone: clones
/// share the same channels.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    global: broadcast::Sender<Arc<EventNotice>>,
    conversations: Mutex<Conversations>,
}

struct Conversations {
    senders: HashMap<String, broadcast::Sender<Arc<EventNotice>>>,
    /// The map size at which the next sweep runs; doubles with the live size so sweeping
    /// costs amortised O(1) per subscription.
    sweep_at: usize,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            inner: Arc::new(Inner {
                global: broadcast::channel(GLOBAL_CAPACITY).0,
                conversations: Mutex::new(Conversations {
                    senders: HashMap::new(),
                    sweep_at: MIN_SWEEP_SIZE,
                }),
            }),
        }
    }
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("conversations", &self.conversations().senders.len())
            .field("global_receivers", &self.inner.global.receiver_count())
            .finish()
    }
}

impl EventBus {
    /// A new bus without subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Receives the notices of one conversation from now on.
    pub fn subscribe(&self, conversation_id: &str) -> broadcast::Receiver<Arc<EventNotice>> {
        let mut conversations = self.conversations();
        if let Some(sender) = conversations.senders.get(conversation_id) {
            return sender.subscribe();
        }
        if conversations.senders.len() >= conversations.sweep_at {
            // Subscribers that went away without a notice ever arriving would otherwise
            // leave their channel behind forever.
            conversations
                .senders
                .retain(|_, sender| sender.receiver_count() > 0);
            conversations.sweep_at = (conversations.senders.len() * 2).max(MIN_SWEEP_SIZE);
        }
        let (sender, receiver) = broadcast::channel(CONVERSATION_CAPACITY);
        conversations
            .senders
            .insert(conversation_id.to_string(), sender);
        receiver
    }

    /// Receives the notices of every conversation from now on (for workers such as
    /// routing and webhooks).
    pub fn subscribe_all(&self) -> broadcast::Receiver<Arc<EventNotice>> {
        self.inner.global.subscribe()
    }

    /// Delivers a notice to the conversation's subscribers and to the global ones. Call it
    /// only once the event is committed.
    pub fn publish(&self, notice: EventNotice) {
        let notice = Arc::new(notice);
        {
            let mut conversations = self.conversations();
            let abandoned = match conversations.senders.get(&notice.conversation_id) {
                // Sending fails only when every receiver is gone.
                Some(sender) => sender.send(Arc::clone(&notice)).is_err(),
                None => false,
            };
            if abandoned {
                conversations.senders.remove(&notice.conversation_id);
            }
        }
        // No global subscriber is not an error.
        let _ = self.inner.global.send(notice);
    }

    /// How many conversations currently have a channel (for metrics and tests).
    pub fn conversation_channels(&self) -> usize {
        self.conversations().senders.len()
    }

    fn conversations(&self) -> MutexGuard<'_, Conversations> {
        // The map stays consistent even if a holder panicked: every mutation is one call.
        self.inner
            .conversations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(conversation_id: &str, seq: i64) -> EventNotice {
        EventNotice {
            conversation_id: conversation_id.to_string(),
            seq,
            event: None,
            handoff: None,
        }
    }

    #[tokio::test]
    async fn subscriber_receives_only_its_conversation() {
        let bus = EventBus::new();
        let mut a = bus.subscribe("a");
        let mut all = bus.subscribe_all();
        bus.publish(notice("b", 1));
        bus.publish(notice("a", 1));
        assert_eq!(a.recv().await.unwrap().conversation_id, "a");
        assert_eq!(all.recv().await.unwrap().conversation_id, "b");
        assert_eq!(all.recv().await.unwrap().conversation_id, "a");
    }

    #[tokio::test]
    async fn channel_is_dropped_once_its_last_subscriber_left() {
        let bus = EventBus::new();
        let first = bus.subscribe("a");
        let second = bus.subscribe("a");
        assert_eq!(bus.conversation_channels(), 1);
        drop(first);
        bus.publish(notice("a", 1));
        assert_eq!(bus.conversation_channels(), 1);
        drop(second);
        bus.publish(notice("a", 2));
        assert_eq!(bus.conversation_channels(), 0);
    }

    #[tokio::test]
    async fn abandoned_channels_are_swept_on_subscribe() {
        let bus = EventBus::new();
        for i in 0..1000 {
            drop(bus.subscribe(&format!("c{i}")));
        }
        assert!(bus.conversation_channels() <= MIN_SWEEP_SIZE);
    }
}
