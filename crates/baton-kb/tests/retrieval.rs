//! Retrieval: the right article for a customer's wording, and an index that follows edits.

mod common;

use baton_kb::{Article, IndexOptions, KbIndex, Language};
use common::support_index;

fn top(index: &KbIndex, query: &str) -> String {
    index
        .search(query, 1)
        .unwrap()
        .first()
        .map(|h| h.id.clone())
        .unwrap_or_default()
}

#[test]
fn finds_the_article_for_a_rewording_of_an_example_question() {
    let index = support_index();
    assert_eq!(
        top(&index, "I forgot the password to my account"),
        "reset-password"
    );
    assert_eq!(
        top(&index, "how can I download last month's invoice"),
        "download-invoice"
    );
    assert_eq!(
        top(&index, "we're getting HTTP 429 too many requests"),
        "rate-limits"
    );
    assert_eq!(top(&index, "how to set up SAML SSO with Okta"), "sso-saml");
}

#[test]
fn tolerates_typos() {
    let index = support_index();
    assert_eq!(top(&index, "i forgot my pasword"), "reset-password");
    assert_eq!(top(&index, "cancle my subscripton"), "cancel-subscription");
}

#[test]
fn hits_are_ordered_and_limited_to_k() {
    let index = support_index();
    let hits = index.search("change my credit card", 3).unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].id, "payment-method");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(hits[0].title, "Update your payment method");
}

#[test]
fn an_edited_article_is_found_by_its_new_wording_without_a_rebuild() {
    let mut index = support_index();
    let query = "does it run on a chromebook";
    assert_ne!(top(&index, query), "mobile-app");
    let mut mobile = index.article("mobile-app").unwrap().clone();
    mobile.title = "Mobile and Chromebook apps".into();
    mobile.questions.push("is there a chromebook app".into());
    index.upsert(mobile).unwrap();
    assert_eq!(top(&index, query), "mobile-app");
    assert_eq!(
        index.len(),
        30,
        "an edit replaces the article, it does not add one"
    );
    let title = &index.article("mobile-app").unwrap().title;
    assert_eq!(title, "Mobile and Chromebook apps");
}

#[test]
fn a_retired_article_is_no_longer_found() {
    let mut index = support_index();
    assert_eq!(top(&index, "I was charged twice"), "double-charge");
    assert!(index.retire("double-charge").unwrap());
    assert!(
        !index.retire("double-charge").unwrap(),
        "retiring twice is a no-op"
    );
    let hits = index.search("I was charged twice", 30).unwrap();
    assert!(hits.iter().all(|h| h.id != "double-charge"));
    assert!(index.article("double-charge").is_none());
}

#[test]
fn a_new_article_is_found_at_once() {
    let mut index = support_index();
    index
        .upsert(
            Article::new(
                "audit-log",
                "Audit log",
                "Enterprise → Settings → Audit log.",
            )
            .with_questions(["who changed this setting", "see the audit trail"]),
        )
        .unwrap();
    assert_eq!(top(&index, "where is the audit trail"), "audit-log");
}

#[test]
fn many_edits_keep_results_consistent_with_a_fresh_build() {
    let mut index = support_index();
    let mut articles = common::support_articles();
    // Enough edits to trigger a reweighting of every article.
    for article in articles.iter_mut().take(25) {
        article
            .questions
            .push(format!("question about {}", article.title));
        index.upsert(article.clone()).unwrap();
    }
    let fresh = KbIndex::build(&articles, IndexOptions::default()).unwrap();
    for query in ["I was charged twice", "invite a colleague", "export as csv"] {
        assert_eq!(top(&index, query), top(&fresh, query), "{query}");
    }
}

#[test]
fn an_empty_index_finds_nothing_and_judges_nothing() {
    let index = KbIndex::new(IndexOptions::default()).unwrap();
    let found = index.retrieve("how do I reset my password", 5).unwrap();
    assert!(found.hits.is_empty());
    assert_eq!(found.confidence, None);
}

#[test]
fn a_query_of_punctuation_finds_nothing() {
    let index = support_index();
    assert!(index.search("?!", 5).unwrap().is_empty());
}

#[test]
fn the_language_sets_stemming_and_stop_words() {
    let articles = vec![
        Article::new(
            "facture",
            "Télécharger vos factures",
            "Facturation → Factures.",
        )
        .with_questions(["où trouver mes factures", "télécharger une facture en PDF"]),
        Article::new(
            "mot-de-passe",
            "Réinitialiser le mot de passe",
            "Lien « Mot de passe oublié ».",
        )
        .with_questions(["j'ai oublié mon mot de passe"]),
    ];
    let options = IndexOptions {
        language: Language::French,
        ..IndexOptions::default()
    };
    let index = KbIndex::build(&articles, options).unwrap();
    assert_eq!(top(&index, "je voudrais télécharger la facture"), "facture");
    assert_eq!(Language::from_name("French"), Some(Language::French));
    assert_eq!(Language::default(), Language::English);
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<KbIndex>();
}
