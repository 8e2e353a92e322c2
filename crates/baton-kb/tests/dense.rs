//! Dense retrieval fused with the lexical ranking: what an embedder adds, and that without one
//! nothing changes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baton_kb::{
    Article, CachedEmbedder, Embedder, EmbeddingError, FitOptions, IndexError, IndexOptions,
    KbIndex, fit_labeled, fit_on_kb_with,
};
use common::{LexiconEmbedder, support_articles};

fn shop_articles() -> Vec<Article> {
    vec![
        Article::new(
            "refund",
            "Request a refund",
            "Open Orders and choose Return.",
        )
        .with_questions(["how do I get a refund", "refund for my order"]),
        Article::new(
            "password",
            "Reset your password",
            "Use the Forgot password link.",
        )
        .with_questions(["I forgot my password", "how do I change my password"]),
        Article::new("invoice", "Download an invoice", "Billing, then Invoices.")
            .with_questions(["where are my invoices", "get a PDF of my invoice"]),
        Article::new(
            "delivery",
            "Track a delivery",
            "Orders shows the tracking link.",
        )
        .with_questions(["where is my parcel", "when will my package arrive"]),
    ]
}

fn lexicon() -> Arc<dyn Embedder> {
    Arc::new(LexiconEmbedder::default())
}

#[test]
fn dense_retrieval_finds_an_article_that_shares_no_word_with_the_question() {
    let question = "money back please";
    let lexical = KbIndex::build(&shop_articles(), IndexOptions::default()).unwrap();
    let found = lexical.retrieve(question, 3).unwrap();
    assert!(found.hits.iter().all(|h| h.id != "refund"), "{found:?}");

    let dense =
        KbIndex::build_with_embedder(&shop_articles(), IndexOptions::default(), lexicon()).unwrap();
    let found = dense.retrieve(question, 3).unwrap();
    assert_eq!(found.hits[0].id, "refund", "{found:?}");
    let features = found.features.unwrap();
    assert!(features.dense.unwrap() > 0.9, "{features:?}");
}

#[test]
fn without_a_question_embedding_the_dense_index_ranks_as_the_lexical_one() {
    let lexical = KbIndex::build(&support_articles(), IndexOptions::default()).unwrap();
    let dense =
        KbIndex::build_with_embedder(&support_articles(), IndexOptions::default(), lexicon())
            .unwrap();
    let calibration = lexical.calibration().clone();
    for question in [
        "how do I reset my password",
        "where is my invoice",
        "can I get my money back",
        "what is the weather in Paris",
    ] {
        let a = lexical.retrieve(question, 5).unwrap();
        let b = dense
            .retrieve_with(question, 5, &calibration, None)
            .unwrap();
        assert_eq!(a, b, "{question}");
        assert_eq!(a.features.unwrap().dense, None);
    }
}

#[test]
fn a_dense_similarity_raises_the_confidence_only_when_the_question_is_embedded() {
    let index =
        KbIndex::build_with_embedder(&shop_articles(), IndexOptions::default(), lexicon()).unwrap();
    let mut calibration = index.calibration().clone();
    calibration.confidence.dense = 3.0;
    let question = "how do I get a refund";
    let vector = index.embed_query(question).unwrap().unwrap();
    let without = index
        .retrieve_with(question, 1, &calibration, None)
        .unwrap();
    let with = index
        .retrieve_with(question, 1, &calibration, Some(&vector))
        .unwrap();
    assert_eq!(with.hits[0].id, "refund");
    assert!(with.confidence > without.confidence, "{with:?} {without:?}");
}

/// An embedder that fails while `down` is set.
#[derive(Debug, Default)]
struct Flaky {
    down: AtomicBool,
}

impl Embedder for Flaky {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(EmbeddingError::Connection {
                url: "http://embeddings.invalid/v1/embeddings".into(),
                message: "connection refused".into(),
            });
        }
        Ok(texts.iter().map(|t| LexiconEmbedder::vector(t)).collect())
    }

    fn describe(&self) -> String {
        "flaky".into()
    }
}

#[test]
fn a_failing_embedder_is_an_error_and_leaves_the_index_as_it_was() {
    let flaky = Arc::new(Flaky::default());
    let mut index =
        KbIndex::build_with_embedder(&shop_articles(), IndexOptions::default(), flaky.clone())
            .unwrap();
    flaky.down.store(true, Ordering::SeqCst);
    let err = index
        .upsert(Article::new(
            "new",
            "Close your account",
            "Settings, then Close.",
        ))
        .unwrap_err();
    assert!(matches!(err, IndexError::Embedding(_)), "{err}");
    assert!(err.to_string().contains("embeddings.invalid"), "{err}");
    assert_eq!(index.len(), 4);
    assert!(index.article("new").is_none());
    assert!(matches!(
        index.retrieve("refund please", 3),
        Err(IndexError::Embedding(_))
    ));
    // Lexical retrieval still answers.
    let found = index
        .retrieve_with("refund please", 3, index.calibration(), None)
        .unwrap();
    assert_eq!(found.hits[0].id, "refund");
}

#[test]
fn the_cache_embeds_each_text_once() {
    let inner = Arc::new(LexiconEmbedder::default());
    let cached = CachedEmbedder::new(inner.clone(), 1000);
    let first = cached.embed(&["refund", "password", "refund"]).unwrap();
    let second = cached.embed(&["password", "invoice"]).unwrap();
    assert_eq!(first[0], first[2]);
    assert_eq!(first[1], second[0]);
    assert_eq!(second[1], LexiconEmbedder::vector("invoice"));
    assert_eq!(
        *inner.seen.lock().unwrap(),
        ["refund", "password", "invoice"]
    );
    assert_eq!(cached.len(), 3);
}

#[test]
fn fitting_with_embeddings_fits_the_dense_weights() {
    let articles = support_articles();
    let prior = baton_kb::Calibration::default();
    let fit = FitOptions {
        embedder: Some(lexicon()),
        ..FitOptions::default()
    };
    let fitted = fit_on_kb_with(&articles, IndexOptions::default(), &fit).unwrap();
    assert_ne!(fitted.ranking.dense_max, prior.ranking.dense_max);
    assert_ne!(fitted.confidence.dense, prior.confidence.dense);

    // Holding the lexical numbers moves only the dense ones.
    let held = FitOptions {
        hold_lexical: true,
        ..fit
    };
    let fitted = fit_on_kb_with(&articles, IndexOptions::default(), &held).unwrap();
    assert!((fitted.ranking.word_max - prior.ranking.word_max).abs() < 1e-6);
    assert!((fitted.confidence.intercept - prior.confidence.intercept).abs() < 1e-6);
    assert_ne!(fitted.ranking.dense_max, prior.ranking.dense_max);

    // Without an embedder the dense weights stay at the prior's.
    let lexical =
        fit_on_kb_with(&articles, IndexOptions::default(), &FitOptions::default()).unwrap();
    assert_eq!(lexical.ranking.dense_max, prior.ranking.dense_max);
    assert_eq!(lexical.confidence.dense, prior.confidence.dense);
}

#[test]
fn fitting_on_labelled_questions_uses_the_index_embedder() {
    let index =
        KbIndex::build_with_embedder(&shop_articles(), IndexOptions::default(), lexicon()).unwrap();
    let labeled: Vec<(String, Option<String>)> = [
        ("I want my money back", Some("refund")),
        ("reimburse me", Some("refund")),
        ("my login is locked", Some("password")),
        ("bill for March", Some("invoice")),
        ("package never arrived", Some("delivery")),
        ("what is the weather", None),
        ("tell me a joke", None),
    ]
    .into_iter()
    .map(|(q, a)| (q.to_string(), a.map(str::to_string)))
    .collect();
    let fitted = fit_labeled(&index, &labeled).unwrap();
    assert_ne!(
        fitted.confidence.dense,
        index.calibration().confidence.dense
    );
    assert_eq!(fitted.fitted.method, "labeled");
}
