//! The suggested opening line: the agent's first message, which shows the customer they were
//! heard — by name, with the issue in their own words and what they already tried — and
//! that they will not have to start over. Deterministic: built from the brief, no model.

use super::sentences::{attempt_clause, shorten, to_second_person};
use super::{Brief, Reaction};
use crate::signals::text::{fold, words};

/// The longest quote of the customer's issue in the opening line, in characters.
const ISSUE_MAX_CHARS: usize = 140;

/// The opening line for `brief`; `need` is the customer's most informative sentence.
pub(super) fn opening_line(brief: &Brief, need: Option<&str>) -> String {
    let greeting = match first_name(brief.customer.name.as_deref()) {
        Some(name) => format!("Hi {name}, thanks for waiting."),
        None => "Hi there, thanks for waiting.".to_string(),
    };
    let heard = match need {
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
    let tried = already_tried(brief)
        .map(|t| format!(", and that {t}"))
        .unwrap_or_default();
    let body = format!("{heard}{tried}");
    // A quote that ends its own sentence ("…workspace?”) needs no full stop after it.
    let ends_sentence = body.ends_with('\u{201d}')
        && body
            .trim_end_matches('\u{201d}')
            .ends_with(['?', '!', '.', '…']);
    let stop = if ends_sentence { "" } else { "." };
    format!(
        "{greeting} {body}{stop} I'm taking it from here, so you won't need to repeat anything."
    )
}

/// What was already tried, said back to the customer: their own attempt ("you already
/// cleared the cache"), else an AI suggestion that did not help.
fn already_tried(brief: &Brief) -> Option<String> {
    let own = brief.actions.customer.iter().find_map(|a| {
        let folded = fold(&a.text);
        let ws: Vec<&str> = words(&folded).collect();
        // "I already did that" says nothing the customer would recognise as heard.
        if ws.len() < 4 && ws.iter().any(|w| matches!(*w, "did" | "done" | "that")) {
            return None;
        }
        let restated = to_second_person(attempt_clause(&a.text))?;
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
    });
    own.or_else(|| {
        brief
            .actions
            .ai_suggestions
            .iter()
            .find(|s| s.reaction == Reaction::Negative)
            .map(|s| match &s.article {
                Some(article) => format!(
                    "the steps in \u{201c}{}\u{201d} didn't solve it",
                    shorten(&article.title, 60)
                ),
                None => "the steps our assistant suggested didn't solve it".to_string(),
            })
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
