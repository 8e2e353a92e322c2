//! Confidence: a calibrated probability that the top article answers the question.

mod common;

use baton_kb::{Calibration, IndexOptions, KbIndex, fit_labeled, fit_on_kb};
use common::{support_articles, support_index};

fn confidence(index: &KbIndex, query: &str) -> f64 {
    index.retrieve(query, 1).unwrap().confidence.unwrap()
}

#[test]
fn confident_on_a_paraphrase_of_an_example_question() {
    let index = support_index();
    for query in [
        "how do I reset my password?",
        "I was charged twice this month",
        "how can I export all my data",
    ] {
        assert!(
            confidence(&index, query) > 0.6,
            "{query}: {}",
            confidence(&index, query)
        );
    }
}

#[test]
fn not_confident_on_a_question_the_knowledge_base_does_not_cover() {
    let index = support_index();
    for query in [
        "what's the weather in Paris tomorrow",
        "recommend a good pizza place nearby",
        "who won the football game last night",
    ] {
        assert!(
            confidence(&index, query) < 0.3,
            "{query}: {}",
            confidence(&index, query)
        );
    }
}

#[test]
fn covered_questions_score_above_uncovered_ones() {
    let index = support_index();
    let covered = confidence(&index, "where do I find my invoices");
    let near_miss = confidence(&index, "do you have a dark mode for the editor");
    assert!(covered > near_miss, "{covered} vs {near_miss}");
}

#[test]
fn confidence_is_a_probability() {
    let index = support_index();
    for query in [
        "",
        "ok",
        "password",
        "x y z",
        "invoice invoice invoice invoice",
    ] {
        let c = index.retrieve(query, 3).unwrap().confidence.unwrap();
        assert!((0.0..=1.0).contains(&c), "{query}: {c}");
    }
}

#[test]
fn calibration_round_trips_through_json() {
    let calibration = Calibration::default();
    let json = serde_json::to_string(&calibration).unwrap();
    let back: Calibration = serde_json::from_str(&json).unwrap();
    assert_eq!(back, calibration);
}

#[test]
fn fitting_on_the_knowledge_base_ranks_held_out_questions_above_unrelated_ones() {
    let articles = support_articles();
    let fitted = fit_on_kb(&articles, IndexOptions::default()).unwrap();
    assert_eq!(fitted.fitted.method, "knowledge_base");
    assert!(
        fitted.fitted.positives > 20 && fitted.fitted.negatives > 20,
        "{:?}",
        fitted.fitted
    );
    let mut index = KbIndex::build(&articles, IndexOptions::default()).unwrap();
    index.set_calibration(fitted);
    let covered = confidence(&index, "how do I reset my password");
    let unrelated = confidence(&index, "what's the weather in Paris tomorrow");
    assert!(covered > 0.5 && unrelated < 0.3, "{covered} vs {unrelated}");
}

#[test]
fn a_knowledge_base_too_small_to_fit_keeps_the_default() {
    let one = &support_articles()[..1];
    assert_eq!(
        fit_on_kb(one, IndexOptions::default()).unwrap(),
        Calibration::default()
    );
}

#[test]
fn labelled_questions_refit_the_calibration() {
    let index = support_index();
    let labeled: Vec<(String, Option<String>)> = [
        ("forgot my password again", Some("reset-password")),
        ("where's the invoice for April", Some("download-invoice")),
        ("need to add 3 more seats", Some("add-seats")),
        ("my card got declined", Some("failed-payment")),
        ("can I pay with paypal", None),
        ("do you have a dark mode", None),
        ("what's your office address", None),
        ("is there a student discount", None),
        ("article that was retired", Some("no-such-article")),
    ]
    .into_iter()
    .map(|(t, id)| (t.to_string(), id.map(str::to_string)))
    .collect();
    let refit = fit_labeled(&index, &labeled).unwrap();
    assert_eq!(refit.fitted.method, "labeled");
    assert_eq!(
        refit.fitted.positives + refit.fitted.negatives,
        labeled.len()
    );
    assert_ne!(refit.confidence, index.calibration().confidence);
}
