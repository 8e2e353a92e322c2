//! Baton's knowledge base: articles, importing them from Markdown, JSON Lines and CSV
//! sources, retrieving them for a customer's question, and a calibrated confidence that the
//! best article answers it.
//!
//! ```
//! use baton_kb::{Article, IndexOptions, KbIndex};
//!
//! let articles = vec![
//!     Article::new("reset-password", "Reset your password", "Use the \"Forgot password\" link.")
//!         .with_questions(["I forgot my password", "how do I change my password"]),
//!     Article::new("download-invoice", "Download an invoice", "Billing → Invoices → Download.")
//!         .with_questions(["where can I find my invoices", "get a PDF of my bill"]),
//! ];
//! let index = KbIndex::build(&articles, IndexOptions::default()).unwrap();
//! let found = index.retrieve("i forgot my pasword", 3).unwrap();
//! assert_eq!(found.hits[0].id, "reset-password");
//! assert!(found.confidence.unwrap() > 0.0);
//! ```
//!
//! Dense retrieval is optional: attach an [`Embedder`] ([`OpenAiEmbeddings`] for an
//! OpenAI-compatible endpoint, or `LocalEmbeddings` with the `local-embeddings` feature) with
//! [`KbIndex::build_with_embedder`], and embedding similarity joins the ranking and the
//! confidence.

mod article;
mod calibrate;
mod confidence;
mod embedding;
mod import;
mod index;
mod language;
mod question;
mod ranking;
mod similarity;

pub use article::Article;
pub use calibrate::{FitOptions, fit_labeled, fit_on_kb, fit_on_kb_with};
pub use confidence::{Calibration, ConfidenceCoefficients, ConfidenceFeatures, FitSummary};
#[cfg(feature = "local-embeddings")]
pub use embedding::LocalEmbeddings;
pub use embedding::{
    CachedEmbedder, Embedder, EmbeddingError, OpenAiEmbeddings, OpenAiOptions, normalise,
};
pub use import::{
    ImportError, Location, SourceFormat, import_csv, import_jsonl, import_markdown_dir,
    import_path, parse_csv, parse_jsonl, parse_markdown, slug,
};
pub use index::{Hit, IndexError, IndexOptions, KbIndex, Retrieval};
pub use language::Language;
pub use question::asks_something;
pub use ranking::{Features, RankingWeights};
