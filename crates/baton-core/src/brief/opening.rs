//! The suggested opening line: the agent's first message, which shows the customer they were
//! heard — by name, with their actual problem in their own words and what was already tried
//! on it — and that they will not have to start over. Deterministic: built from the brief, no
//! model.
//!
//! What was tried is only what concerns the problem: the customer's own attempts since they
//! described it, and an article the AI served for it that the customer said did not help —
//! never an article served for a greeting or for an earlier question that was settled.

use super::sentences::{attempt_clause, shorten, to_second_person};
use super::{AiSuggestion, Brief, CustomerAttempt, Reaction};
use crate::signals::text::{fold, words};

/// The longest quote of the customer's issue in the opening line, in characters.
const ISSUE_MAX_CHARS: usize = 140;

/// What the opening line is about, as the brief's builder found it.
pub(super) struct Focus<'a> {
    /// The customer's most informative sentence about their problem.
    pub need: Option<&'a str>,
    /// The `seq` of the customer message that states the problem.
    pub since: Option<i64>,
    /// The AI answers (their `seq`) that were about the problem.
    pub answers: Vec<i64>,
}

/// The opening line for `brief`.
pub(super) fn opening_line(brief: &Brief, focus: &Focus<'_>) -> String {
    let greeting = match first_name(brief.customer.name.as_deref()) {
        Some(name) => format!("Hi {name}, thanks for waiting."),
        None => "Hi there, thanks for waiting.".to_string(),
    };
    let heard = match focus.need {
        Some(sentence) => match to_second_person(sentence) {
            Some(restated) => format!(
                "I can see {}",
                lower_first_word(&shorten(&restated, ISSUE_MAX_CHARS))
            ),
            None => format!(
                "I've read your message: \u{201c}{}\u{201d}",
                shorten(sentence.trim(), ISSUE_MAX_CHARS)
            ),
        },
        None => "I've read your conversation with our assistant".to_string(),
    };
    let own = own_attempt(brief, focus);
    let article = article_that_did_not_help(brief, focus);
    let body = match (&own, &article) {
        (Some(own), Some(article)) => format!(
            "{}{article} didn't solve it either",
            end_sentence(&format!("{heard}, and that {own}"))
        ),
        (Some(own), None) => format!("{heard}, and that {own}"),
        (None, Some(article)) => format!(
            "{heard}, and that {} didn't solve it",
            lower_first_word(article)
        ),
        (None, None) => heard,
    };
    format!(
        "{greeting} {}I'm taking it from here, so you won't need to repeat anything.",
        end_sentence(&body)
    )
}

/// The sentence with its full stop and a space after it. A quote that ends its own sentence
/// ("…workspace?”) needs no full stop after it.
fn end_sentence(body: &str) -> String {
    let ends_sentence = body.ends_with('\u{201d}')
        && body
            .trim_end_matches('\u{201d}')
            .ends_with(['?', '!', '.', '…']);
    let stop = if ends_sentence { "" } else { "." };
    format!("{body}{stop} ")
}

/// What the customer says they already did about the problem, said back to them ("you
/// already cleared the cache").
fn own_attempt(brief: &Brief, focus: &Focus<'_>) -> Option<String> {
    let since = focus.since?;
    brief
        .actions
        .customer
        .iter()
        .filter(|a| a.message_seq >= since)
        .find_map(said_back)
}

fn said_back(attempt: &CustomerAttempt) -> Option<String> {
    let folded = fold(&attempt.text);
    let ws: Vec<&str> = words(&folded).collect();
    // "I already did that" says nothing the customer would recognise as heard.
    if ws.len() < 4 && ws.iter().any(|w| matches!(*w, "did" | "done" | "that")) {
        return None;
    }
    let restated = to_second_person(attempt_clause(&attempt.text))?;
    let restated = lower_first_word(&restated);
    let starts_with_you = restated
        .split_whitespace()
        .next()
        .is_some_and(|w| w.starts_with("you"));
    Some(if starts_with_you {
        shorten(&restated, 100)
    } else {
        shorten(&format!("you {restated}"), 100)
    })
}

/// "The steps in “Duplicate charges”": an answer the AI gave about the problem that the
/// customer said did not help, by the article it cited.
fn article_that_did_not_help(brief: &Brief, focus: &Focus<'_>) -> Option<String> {
    let about_the_problem = |s: &&AiSuggestion| focus.answers.contains(&s.message_seq);
    brief
        .actions
        .ai_suggestions
        .iter()
        .filter(about_the_problem)
        .find(|s| s.reaction == Reaction::Negative)
        .map(|s| match &s.article {
            Some(article) => format!(
                "The steps in \u{201c}{}\u{201d}",
                shorten(&article.title, 60)
            ),
            None => "The steps our assistant suggested".to_string(),
        })
}

/// The customer's first name, when the name looks like one.
fn first_name(name: Option<&str>) -> Option<&str> {
    let first = name?.split_whitespace().next()?;
    let plausible = !first.contains('@')
        && first.chars().any(char::is_alphabetic)
        && first
            .chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.');
    plausible.then_some(first)
}

/// Lower-cases a capitalised first word ("The export" → "the export") but keeps acronyms
/// and identifiers ("SSO", "INV-2024") as written.
fn lower_first_word(text: &str) -> String {
    let Some(first) = text.split_whitespace().next() else {
        return text.to_string();
    };
    let mut chars = first.chars();
    let capitalised = chars.next().is_some_and(char::is_uppercase)
        && chars.clone().count() > 0
        && chars.all(|c| c.is_lowercase() || !c.is_alphabetic());
    if !capitalised {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for c in text.chars() {
        if !done && c.is_uppercase() {
            out.extend(c.to_lowercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_names_that_look_like_names() {
        assert_eq!(first_name(Some("Dana Reyes")), Some("Dana"));
        assert_eq!(first_name(Some("dana@acme.io")), None);
        assert_eq!(first_name(Some("  ")), None);
        assert_eq!(first_name(None), None);
    }

    #[test]
    fn only_a_capitalised_first_word_is_lowered() {
        assert_eq!(lower_first_word("The export fails"), "the export fails");
        assert_eq!(lower_first_word("SSO fails"), "SSO fails");
        assert_eq!(lower_first_word("you were charged"), "you were charged");
    }
}
