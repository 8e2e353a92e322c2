//! Shared fixtures: the hand-written support knowledge base.
#![allow(dead_code)]

use std::path::PathBuf;

use baton_kb::{Article, IndexOptions, KbIndex, import_path};

/// The 30-article support knowledge base the default calibration was fitted on.
pub fn support_articles() -> Vec<Article> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("calibration/support-kb.jsonl");
    import_path(path).expect("the support knowledge base imports")
}

/// An index of [`support_articles`].
pub fn support_index() -> KbIndex {
    KbIndex::build(&support_articles(), IndexOptions::default()).expect("the index builds")
}

/// A small, deterministic embedder for tests: every word of a fixed lexicon votes for its
/// concept ("money", "back" and "refund" all mean refund), other words are ignored, and the
/// vector is the normalised count per concept. Enough to tell whether retrieval uses meaning
/// that shares no word with the question.
#[derive(Debug, Default)]
pub struct LexiconEmbedder {
    /// Texts embedded so far, in order.
    pub seen: std::sync::Mutex<Vec<String>>,
}

/// The concepts of [`LexiconEmbedder`], one dimension each.
const LEXICON: &[(&str, &[&str])] = &[
    (
        "refund",
        &[
            "refund",
            "refunds",
            "money",
            "back",
            "reimburse",
            "reimbursed",
        ],
    ),
    (
        "password",
        &["password", "login", "sign", "credentials", "locked"],
    ),
    (
        "invoice",
        &["invoice", "invoices", "bill", "receipt", "billing"],
    ),
    (
        "delivery",
        &[
            "delivery", "shipping", "parcel", "package", "arrive", "arrived",
        ],
    ),
    ("account", &["account", "profile", "delete", "close"]),
];

impl LexiconEmbedder {
    /// The vector of one text.
    pub fn vector(text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; LEXICON.len()];
        for word in text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            for (i, (_, words)) in LEXICON.iter().enumerate() {
                if words.contains(&word) {
                    v[i] += 1.0;
                }
            }
        }
        baton_kb::normalise(&mut v);
        v
    }
}

impl baton_kb::Embedder for LexiconEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, baton_kb::EmbeddingError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.extend(texts.iter().map(|t| t.to_string()));
        }
        Ok(texts.iter().map(|t| Self::vector(t)).collect())
    }

    fn describe(&self) -> String {
        "lexicon".into()
    }
}
