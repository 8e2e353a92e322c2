//! Shared fixtures: the hand-written support knowledge base.

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
