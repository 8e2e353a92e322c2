//! The extractive summary: one or two sentences that state what the customer needs ("Disputes
//! a charge: charged $1,200.00 twice for invoice INV-2024-0012 on March 2."), built from the
//! issue type, the entities and the customer's most informative sentences said about them —
//! not the customer's messages strung together.

use super::entities::{Entity, EntityKind};
use super::phrases::request_phrase;
use super::sentences::{asks_how, capitalise, fold_words, note_form, shorten, to_third_person};

/// The longest summary, in characters.
const SUMMARY_MAX_CHARS: usize = 320;

/// The longest quote of the customer in the summary, in characters.
const QUOTE_MAX_CHARS: usize = 160;

/// When the customer never said what they need.
pub(super) const NOT_STATED: &str = "The customer asked for a person without describing the issue.";

/// The summary. `need` is the customer's main ask (one or two sentences), `more` another
/// sentence that adds a detail (used when the ask is one sentence), `issue` the issue type's
/// label.
pub(super) fn request_summary(
    need: &[&str],
    more: Option<&str>,
    issue: Option<&str>,
    entities: &[Entity],
) -> String {
    let Some((first, rest)) = need.split_first() else {
        return NOT_STATED.to_string();
    };
    let said = need.join(" ");
    // The invoice or order the request is about, when the sentence does not name it.
    let anchor = entities
        .iter()
        .find(|e| matches!(e.kind, EntityKind::Invoice | EntityKind::Order))
        .filter(|e| !mentions(&said, e))
        .map(|e| format!(" for {} {}", e.kind.label(), e.value))
        .unwrap_or_default();
    let mut parts = vec![lead(first, issue.and_then(request_phrase), &anchor)];
    // One or two sentences: the ask's own second sentence, else the further detail when it
    // names something the first does not.
    let more = more.filter(|m| names_more(m, &parts[0]));
    if let Some(second) = rest.first().or(more.as_ref()) {
        parts.push(detail(second));
    }
    shorten(&parts.join(" "), SUMMARY_MAX_CHARS)
}

/// Whether `sentence` names a number or identifier that `said` does not.
fn names_more(sentence: &str, said: &str) -> bool {
    let said = fold_words(said);
    fold_words(sentence)
        .iter()
        .any(|w| w.chars().any(|c| c.is_ascii_digit()) && !said.contains(w))
}

fn mentions(text: &str, entity: &Entity) -> bool {
    let text = text.to_lowercase();
    text.contains(&entity.text.to_lowercase()) || text.contains(&entity.value.to_lowercase())
}

fn quote(sentence: &str) -> String {
    format!(
        "\u{201c}{}\u{201d}",
        shorten(sentence.trim(), QUOTE_MAX_CHARS)
    )
}

/// Ends a sentence with a full stop unless it ends in a quote or a terminator already.
fn stop(mut text: String) -> String {
    if !text.ends_with(['.', '!', '?', '\u{201d}', '…']) {
        text.push('.');
    }
    text
}

/// What the customer does, from their own first-person request: "they want a refund" →
/// "Wants a refund".
fn as_request(statement: &str) -> Option<String> {
    [
        ("they want ", "Wants "),
        ("they need ", "Needs "),
        ("they'd like ", "Would like "),
        ("they would like ", "Would like "),
    ]
    .iter()
    .find_map(|(from, to)| {
        statement
            .strip_prefix(from)
            .map(|rest| format!("{to}{rest}"))
    })
}

/// The first sentence: the request, led by the issue type's phrase when the customer's words
/// do not already say what they want.
fn lead(sentence: &str, phrase: Option<&str>, anchor: &str) -> String {
    let topic = phrase.map(|p| format!("{}{anchor}", capitalise(p)));
    if let Some(how) = asks_how(sentence) {
        return stop(format!("Asks {how}"));
    }
    if sentence.trim_end().ends_with('?') {
        return match topic {
            Some(topic) => format!("{topic}: {}", quote(sentence)),
            None => format!("Asks: {}", quote(sentence)),
        };
    }
    match (to_third_person(sentence), topic) {
        (Some(statement), topic) => match (as_request(&statement), topic) {
            (Some(request), _) => stop(request),
            (None, Some(topic)) => stop(format!("{topic}: {}", note_form(&statement))),
            (None, None) => stop(capitalise(&statement)),
        },
        (None, Some(topic)) => format!("{topic}: {}", quote(sentence)),
        (None, None) => format!("Says: {}", quote(sentence)),
    }
}

/// A further sentence, said about the customer.
fn detail(sentence: &str) -> String {
    if let Some(how) = asks_how(sentence) {
        return stop(format!("Asks {how}"));
    }
    if sentence.trim_end().ends_with('?') {
        return format!("Asks: {}", quote(sentence));
    }
    match to_third_person(sentence) {
        Some(statement) => stop(as_request(&statement).unwrap_or_else(|| capitalise(&statement))),
        None => format!("Says: {}", quote(sentence)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice(value: &str) -> Entity {
        Entity {
            kind: EntityKind::Invoice,
            value: value.into(),
            text: value.into(),
            seq: 1,
        }
    }

    #[test]
    fn the_issue_type_leads_and_the_customer_says_what_happened() {
        assert_eq!(
            request_summary(
                &["I was charged twice on 3 March."],
                None,
                Some("billing_dispute"),
                &[invoice("INV-2041")]
            ),
            "Disputes a charge for invoice INV-2041: charged twice on 3 March."
        );
    }

    #[test]
    fn a_request_in_their_own_words_needs_no_topic() {
        assert_eq!(
            request_summary(
                &["I want a refund for INV-2041, we were charged twice."],
                None,
                Some("refund"),
                &[invoice("INV-2041")]
            ),
            "Wants a refund for INV-2041, they were charged twice."
        );
    }

    #[test]
    fn questions_are_asked_and_statements_are_restated() {
        assert_eq!(
            request_summary(
                &["How do I move my invoices to another workspace?"],
                None,
                Some("how_to"),
                &[]
            ),
            "Asks how to move their invoices to another workspace."
        );
        assert_eq!(
            request_summary(
                &[
                    "Our team can't log in with SSO since this morning.",
                    "We get ERR_SSO_401 on the login page."
                ],
                None,
                None,
                &[]
            ),
            "Their team can't log in with SSO since this morning. They get ERR_SSO_401 on the \
             login page."
        );
        assert_eq!(
            request_summary(&["You charged me twice!"], None, None, &[]),
            "Says: \u{201c}You charged me twice!\u{201d}"
        );
        assert_eq!(request_summary(&[], None, Some("refund"), &[]), NOT_STATED);
    }
}
