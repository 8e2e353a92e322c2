//! Baton's responders: what writes the AI's reply once the policy has decided to answer.
//!
//! - [`BuiltinResponder`] (the default) answers from the best retrieved article with its most
//!   relevant passage and a citation, asks which article is meant when two are too close to
//!   call, and says honestly when it has no answer. No network, no model.
//! - [`LlmResponder`] asks an OpenAI-compatible chat model for a JSON answer grounded in the
//!   retrieved articles, checks it, and falls back to the built-in responder or reports an
//!   `ai_error` when the model cannot be used.
//!
//! Both implement [`Responder`] and are chosen by [`ResponderConfig`] through
//! [`build_responder`]. A reply's `confidence` is always the calibrated retrieval
//! confidence; a model can add a reason to hand over (`needs_human`) but never lower it.
//! [`redact`] removes personal data from customer text before it leaves the process.
//!
//! ```
//! use baton_ai::{BuiltinResponder, Candidate, ReplyKind, Request, Retrieved};
//!
//! let retrieved = Retrieved {
//!     candidates: vec![Candidate {
//!         id: "reset-password".into(),
//!         title: "Reset a forgotten password".into(),
//!         body: "Click \"Forgot password\" on the sign-in page. The link is valid for one hour.".into(),
//!         url: None,
//!         score: 9.1,
//!     }],
//!     confidence: Some(0.86),
//! };
//! let reply = BuiltinResponder::default().reply(&Request::new("I forgot my password", &retrieved));
//! assert_eq!(reply.kind, ReplyKind::Answer);
//! assert!(reply.text.contains("Source: Reset a forgotten password (/kb/reset-password)"));
//! assert_eq!(reply.confidence, Some(0.86));
//! ```

mod builtin;
mod citation;
mod config;
mod error;
mod llm;
pub mod redact;
mod reply;
mod responder;

pub use builtin::{BuiltinResponder, NO_ANSWER_TEXT};
pub use citation::{ArticleLinks, DEFAULT_TEMPLATE};
pub use config::{
    BuiltinConfig, LlmConfig, OnFailure, ResponderConfig, ResponderKind, build_responder,
};
pub use error::AiError;
pub use llm::{AI_ERROR_TEXT, HANDOFF_TEXT, LlmError, LlmResponder};
pub use reply::{ArticleRef, Reply, ReplyKind};
pub use responder::{Candidate, Request, Responder, Retrieved, Turn};
