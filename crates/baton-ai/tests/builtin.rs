//! The built-in responder on a real knowledge-base retrieval and on hand-made ones: it answers
//! with a cited passage, asks when two articles are too close, and admits when it has none.

mod common;

use baton_ai::{
    ArticleLinks, BuiltinConfig, BuiltinResponder, NO_ANSWER_TEXT, ReplyKind, Request,
    ResponderConfig, Retrieved, build_responder,
};
use common::{candidate, password_retrieval, retrieve, support_articles, support_index};

/// The reply text without its citation line.
fn passage(text: &str) -> &str {
    text.split("\n\nSource: ").next().unwrap_or(text)
}

#[test]
fn a_clear_question_is_answered_from_the_best_article_with_a_citation() {
    let index = support_index();
    let retrieved = retrieve(&index, "I forgot my password");
    let responder = BuiltinResponder::default();

    let reply = responder.reply(&Request::new("I forgot my password", &retrieved));

    assert_eq!(reply.kind, ReplyKind::Answer, "{}", reply.reasoning);
    assert_eq!(reply.articles_used[0].id, "reset-password");
    assert_eq!(reply.confidence, retrieved.confidence);
    assert!(
        reply
            .text
            .ends_with("Source: Reset a forgotten password (/kb/reset-password)")
    );
    assert!(
        reply
            .reasoning
            .starts_with("answered from \"reset-password\"")
    );
    assert_eq!(reply.needs_human, None);
    assert_eq!(reply.ai_error, None);
    assert_eq!(reply.model, None);
}

#[test]
fn the_answer_is_the_relevant_passage_not_the_whole_article() {
    let index = support_index();
    let question = "how do I export my data as CSV?";
    let retrieved = retrieve(&index, question);
    let responder = BuiltinResponder::default();

    let reply = responder.reply(&Request::new(question, &retrieved));

    assert_eq!(reply.kind, ReplyKind::Answer, "{}", reply.reasoning);
    assert_eq!(reply.articles_used[0].id, "export-data");
    let text = passage(&reply.text);
    assert!(
        text.starts_with("To export your data:\n1. Open Settings → Data."),
        "{text}"
    );
    assert!(text.contains("3. We email you a download link"));
    assert!(!text.contains("grace period"), "{text}");
}

#[test]
fn answers_never_contain_words_the_article_does_not() {
    let articles = support_articles();
    let index = support_index();
    let responder = BuiltinResponder::default();
    for question in [
        "can I restore a deleted workspace?",
        "password reset email never arrived",
        "where are invoices",
        "429 too many requests",
    ] {
        let retrieved = retrieve(&index, question);
        let reply = responder.reply(&Request::new(question, &retrieved));
        if reply.kind != ReplyKind::Answer {
            continue;
        }
        let used = &reply.articles_used[0].id;
        let article = articles.iter().find(|a| &a.id == used);
        let body = article.map(|a| a.body.as_str()).unwrap_or_default();
        for line in passage(&reply.text).lines() {
            for sentence in line.split(". ") {
                let sentence = sentence.trim_end_matches('.');
                assert!(body.contains(sentence), "{sentence:?} is not in {used}");
            }
        }
    }
}

#[test]
fn two_close_articles_get_a_clarifying_question_offering_both() {
    let retrieved = Retrieved {
        candidates: vec![
            candidate(
                "download-invoice",
                "Download an invoice",
                "Billing → Invoices.",
                6.0,
            ),
            candidate(
                "update-billing",
                "Update billing details?",
                "Billing → Details.",
                5.8,
            ),
            candidate(
                "enable-2fa",
                "Turn on two-factor authentication",
                "Profile.",
                2.0,
            ),
        ],
        confidence: Some(0.55),
    };
    let responder = BuiltinResponder::default();

    let reply = responder.reply(&Request::new(
        "billing question about my invoice",
        &retrieved,
    ));

    let ReplyKind::Clarify { options } = &reply.kind else {
        panic!("expected a clarifying question, got {reply:?}");
    };
    let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["download-invoice", "update-billing"]);
    assert_eq!(options[0].url.as_deref(), Some("/kb/download-invoice"));
    assert_eq!(
        reply.text,
        "I found two articles that could help. Which one is closer to your question: \"Download an invoice\" or \"Update billing details\"?"
    );
    assert_eq!(reply.confidence, Some(0.55));
}

#[test]
fn above_clarify_below_a_confident_top_article_is_answered_even_when_the_runner_up_is_close() {
    let retrieved = Retrieved {
        candidates: vec![
            candidate(
                "download-invoice",
                "Download an invoice",
                "Billing → Invoices.",
                6.0,
            ),
            candidate(
                "update-billing",
                "Update billing details",
                "Billing → Details.",
                5.8,
            ),
        ],
        confidence: Some(0.95),
    };
    let responder = BuiltinResponder::new(
        BuiltinConfig {
            clarify_below: 0.9,
            ..BuiltinConfig::default()
        },
        ArticleLinks::default(),
    );
    let reply = responder.reply(&Request::new("download my invoice", &retrieved));
    assert_eq!(reply.kind, ReplyKind::Answer);
    let asks = BuiltinResponder::default().reply(&Request::new("download my invoice", &retrieved));
    assert!(
        matches!(asks.kind, ReplyKind::Clarify { .. }),
        "by default close scores always ask"
    );
}

#[test]
fn the_clarify_margin_is_configurable() {
    let retrieved = password_retrieval(0.6); // scores 9 and 4
    let request = Request::new("password or 2fa?", &retrieved);
    assert_eq!(
        BuiltinResponder::default().reply(&request).kind,
        ReplyKind::Answer
    );
    let wide = BuiltinResponder::new(
        BuiltinConfig {
            clarify_margin: 0.6,
            ..BuiltinConfig::default()
        },
        ArticleLinks::default(),
    );
    assert!(matches!(
        wide.reply(&request).kind,
        ReplyKind::Clarify { .. }
    ));
}

#[test]
fn below_the_confidence_floor_it_says_it_has_no_answer() {
    let retrieved = password_retrieval(0.1);
    let reply =
        BuiltinResponder::default().reply(&Request::new("what is your SOC 2 status?", &retrieved));

    assert_eq!(reply.kind, ReplyKind::NoAnswer);
    assert_eq!(reply.text, NO_ANSWER_TEXT);
    assert!(reply.articles_used.is_empty());
    assert_eq!(reply.confidence, Some(0.1));
    assert_eq!(
        reply.needs_human, None,
        "escalating is the policy's decision"
    );
    assert!(
        reply.reasoning.contains("below the answer floor 0.30"),
        "{}",
        reply.reasoning
    );
}

#[test]
fn an_unrelated_question_on_the_real_knowledge_base_gets_no_answer() {
    let index = support_index();
    let question = "do you sponsor open source conferences in Lisbon?";
    let retrieved = retrieve(&index, question);
    let reply = BuiltinResponder::default().reply(&Request::new(question, &retrieved));
    assert_eq!(reply.kind, ReplyKind::NoAnswer, "{reply:?}");
}

#[test]
fn without_a_knowledge_base_it_says_it_has_no_answer() {
    let retrieved = Retrieved::empty();
    let reply =
        BuiltinResponder::default().reply(&Request::new("how do I export data?", &retrieved));
    assert_eq!(reply.kind, ReplyKind::NoAnswer);
    assert_eq!(reply.confidence, None);
}

#[test]
fn thanks_and_greetings_are_acknowledged_without_an_article() {
    let retrieved = password_retrieval(0.9);
    let responder = BuiltinResponder::default();
    let thanks = responder.reply(&Request::new("thanks, that worked!", &retrieved));
    assert_eq!(thanks.kind, ReplyKind::NoAnswer);
    assert!(thanks.text.starts_with("You're welcome"));
    assert!(thanks.articles_used.is_empty());
    let hello = responder.reply(&Request::new("hello", &retrieved));
    assert!(hello.text.starts_with("Hello"));
}

#[test]
fn links_follow_the_configured_template_and_base() {
    let config = ResponderConfig {
        article_link: "/help/articles/{id}".into(),
        public_url: Some("https://support.example.com/".into()),
        ..ResponderConfig::default()
    };
    let responder = BuiltinResponder::new(config.builtin, config.links());
    let retrieved = password_retrieval(0.9);
    let reply = responder.reply(&Request::new("I forgot my password", &retrieved));
    assert_eq!(
        reply.articles_used[0].url.as_deref(),
        Some("https://support.example.com/help/articles/reset-password")
    );
    assert!(
        reply
            .text
            .ends_with("(https://support.example.com/help/articles/reset-password)")
    );

    let no_links = BuiltinResponder::new(BuiltinConfig::default(), ArticleLinks::none());
    let reply = no_links.reply(&Request::new("I forgot my password", &retrieved));
    assert!(reply.text.ends_with("Source: Reset a forgotten password"));
}

#[tokio::test]
async fn the_default_configuration_builds_the_builtin_responder() {
    let responder = match build_responder(&ResponderConfig::default()) {
        Ok(responder) => responder,
        Err(error) => panic!("{error}"),
    };
    let retrieved = password_retrieval(0.9);
    let reply = responder
        .respond(&Request::new("I forgot my password", &retrieved))
        .await;
    assert_eq!(responder.name(), "builtin");
    assert_eq!(reply.kind, ReplyKind::Answer);
}
