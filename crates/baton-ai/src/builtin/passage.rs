//! Picking the part of an article that answers the question: the few sentences, or the list
//! of steps, that share the most (rare) words with it, so a reply is a passage and not a wall
//! of text. Nothing is rewritten: the passage is the article's own text.
//!
//! The article is cut into units (headings, paragraphs, lists). Question words are weighted
//! by how rare they are across the article's units, so "invoice" in an invoicing article
//! counts less than "PDF". A paragraph yields windows of up to `max_sentences` sentences; a
//! list yields the whole list with the sentence introducing it ("To export your data:").

use std::collections::{HashMap, HashSet};

/// How long a passage may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Most sentences in a prose passage.
    pub max_sentences: usize,
    /// Most characters in a prose passage; a list of steps may take twice as many.
    pub max_chars: usize,
}

/// The chosen passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Passage {
    /// The article's own text.
    pub text: String,
    /// How many distinct question words the passage contains.
    pub matched: usize,
    /// How many distinct content words the question has.
    pub question_terms: usize,
    /// Whether this is the whole article (it was short enough).
    pub whole: bool,
}

/// Most list items served; longer procedures are cut and the link covers the rest.
const MAX_LIST_ITEMS: usize = 12;

/// The passage of `body` that best answers `question`.
pub(crate) fn best_passage(question: &str, title: &str, body: &str, limits: Limits) -> Passage {
    let units = parse_units(body);
    let question_terms: HashSet<String> = terms(question).into_iter().collect();
    let rendered_whole = render_units(&units);
    let candidates = candidates(&units, limits);

    // Rarity of each word across the article's units (the title counts as one), so words
    // every paragraph shares do not decide.
    let mut document_frequency: HashMap<&str, usize> = HashMap::new();
    let title_terms: HashSet<String> = terms(title).into_iter().collect();
    let unit_terms: Vec<HashSet<String>> = units
        .iter()
        .map(|u| terms(&u.text()).into_iter().collect())
        .collect();
    for set in unit_terms.iter().chain(std::iter::once(&title_terms)) {
        for term in set {
            *document_frequency.entry(term.as_str()).or_default() += 1;
        }
    }
    let documents = (unit_terms.len() + 1) as f64;
    let weight = |term: &str| -> f64 {
        let df = document_frequency.get(term).copied().unwrap_or(0).max(1) as f64;
        (1.0 + documents / df).ln()
    };

    let how_to = question.to_lowercase().split_whitespace().any(|w| {
        matches!(
            w.trim_matches(|c: char| !c.is_alphanumeric()),
            "how" | "steps" | "step" | "setup" | "configure" | "enable" | "set"
        )
    });

    let mut best: Option<(f64, usize, &Candidate)> = None;
    for candidate in &candidates {
        let text_terms: HashSet<String> = terms(&candidate.text).into_iter().collect();
        let heading_terms: HashSet<String> = candidate
            .heading
            .as_deref()
            .map(|h| terms(h).into_iter().collect())
            .unwrap_or_default();
        let mut score = 0.0;
        let mut matched = 0;
        for term in &question_terms {
            if text_terms.contains(term) {
                score += weight(term);
                matched += 1;
            } else if heading_terms.contains(term) {
                // The section heading says what the passage is about, but the words are not
                // in the passage itself: worth less.
                score += 0.3 * weight(term);
            }
        }
        if score > 0.0 {
            // Prefer windows that start on a matching sentence, and steps for how-to questions.
            score += 0.01 * candidate.lead_matches(&question_terms) as f64;
            if candidate.is_list && how_to {
                score += 0.5;
            }
        }
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, matched, candidate));
        }
    }

    let body_chars = rendered_whole.chars().count();
    if body_chars <= limits.max_chars {
        let matched = question_terms
            .iter()
            .filter(|t| unit_terms.iter().any(|u| u.contains(*t)))
            .count();
        return Passage {
            text: rendered_whole,
            matched,
            question_terms: question_terms.len(),
            whole: true,
        };
    }
    match best {
        Some((score, matched, candidate)) if score > 0.0 => Passage {
            text: candidate.text.clone(),
            matched,
            question_terms: question_terms.len(),
            whole: false,
        },
        // Nothing in the body shares a word with the question (it matched on the title or
        // the example questions): the article's opening is the best summary it has.
        _ => Passage {
            text: candidates
                .first()
                .map(|c| c.text.clone())
                .unwrap_or_else(|| truncate_chars(&rendered_whole, limits.max_chars)),
            matched: 0,
            question_terms: question_terms.len(),
            whole: false,
        },
    }
}

/// A block of the article.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unit {
    Heading(String),
    Paragraph(String),
    /// List items, each with its marker (`1.`, `-`).
    List(Vec<String>),
}

impl Unit {
    fn text(&self) -> String {
        match self {
            Unit::Heading(t) | Unit::Paragraph(t) => t.clone(),
            Unit::List(items) => items.join("\n"),
        }
    }
}

/// Splits Markdown-ish text into headings, paragraphs and lists.
fn parse_units(body: &str) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let mut blank_since_item = false;

    fn flush_paragraph(units: &mut Vec<Unit>, paragraph: &mut Vec<&str>) {
        if !paragraph.is_empty() {
            units.push(Unit::Paragraph(paragraph.join(" ")));
            paragraph.clear();
        }
    }
    fn flush_list(units: &mut Vec<Unit>, list: &mut Vec<String>) {
        if !list.is_empty() {
            units.push(Unit::List(std::mem::take(list)));
        }
    }

    for line in body.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush_paragraph(&mut units, &mut paragraph);
            // A blank line between items keeps the list open ("loose" Markdown lists).
            blank_since_item = !list.is_empty();
            continue;
        }
        if let Some(heading) = heading_text(trimmed) {
            flush_paragraph(&mut units, &mut paragraph);
            flush_list(&mut units, &mut list);
            units.push(Unit::Heading(heading.to_string()));
        } else if is_list_item(trimmed) {
            flush_paragraph(&mut units, &mut paragraph);
            list.push(trimmed.to_string());
            blank_since_item = false;
        } else if !list.is_empty() && !blank_since_item && line.starts_with(char::is_whitespace) {
            // An indented line continues the previous item.
            if let Some(last) = list.last_mut() {
                last.push(' ');
                last.push_str(trimmed);
            }
        } else {
            flush_list(&mut units, &mut list);
            paragraph.push(trimmed);
        }
    }
    flush_paragraph(&mut units, &mut paragraph);
    flush_list(&mut units, &mut list);
    units
}

fn heading_text(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    (rest.len() < line.len() && line.len() - rest.len() <= 6 && rest.starts_with(' '))
        .then(|| rest.trim())
}

fn is_list_item(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix(['-', '*', '+', '•']) {
        return rest.starts_with(' ');
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && digits <= 3
        && line[digits..].starts_with(['.', ')'])
        && line[digits + 1..].starts_with(' ')
}

/// The whole article as served: headings as plain lines, blocks separated by blank lines.
fn render_units(units: &[Unit]) -> String {
    units
        .iter()
        .map(Unit::text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A passage that could be served.
#[derive(Debug)]
struct Candidate {
    text: String,
    /// The heading of the section it is in.
    heading: Option<String>,
    /// The first sentence (prose) or the intro and first item (list), for tie-breaks.
    lead: String,
    is_list: bool,
}

impl Candidate {
    fn lead_matches(&self, question: &HashSet<String>) -> usize {
        terms(&self.lead)
            .into_iter()
            .collect::<HashSet<_>>()
            .intersection(question)
            .count()
    }
}

fn candidates(units: &[Unit], limits: Limits) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut heading: Option<&str> = None;
    for (index, unit) in units.iter().enumerate() {
        match unit {
            Unit::Heading(h) => heading = Some(h),
            Unit::Paragraph(text) => {
                let sentences = sentences(text);
                for start in 0..sentences.len() {
                    let window = window(&sentences[start..], limits);
                    out.push(Candidate {
                        text: window,
                        heading: heading.map(str::to_string),
                        lead: sentences[start].to_string(),
                        is_list: false,
                    });
                }
            }
            Unit::List(items) => {
                // The sentence introducing the list ("To rotate a key:") belongs with it.
                let intro = index
                    .checked_sub(1)
                    .and_then(|i| units.get(i))
                    .and_then(|u| match u {
                        Unit::Paragraph(p) if p.trim_end().ends_with(':') => {
                            sentences(p).last().map(|s| s.to_string())
                        }
                        _ => None,
                    });
                let mut text = intro.clone().map(|i| i + "\n").unwrap_or_default();
                let budget = limits.max_chars.saturating_mul(2);
                let mut served = 0;
                for item in items.iter().take(MAX_LIST_ITEMS) {
                    if served > 0 && text.chars().count() + item.chars().count() > budget {
                        break;
                    }
                    text.push_str(item);
                    text.push('\n');
                    served += 1;
                }
                if served < items.len() {
                    text.push('…');
                }
                out.push(Candidate {
                    text: text.trim_end().to_string(),
                    heading: heading.map(str::to_string),
                    lead: format!(
                        "{} {}",
                        intro.unwrap_or_default(),
                        items.first().map(String::as_str).unwrap_or_default()
                    ),
                    is_list: true,
                });
            }
        }
    }
    out
}

/// Up to `max_sentences` sentences from the start of `sentences`, within `max_chars` (the
/// first sentence always, cut if it alone is too long).
fn window(sentences: &[&str], limits: Limits) -> String {
    let mut text = String::new();
    for (taken, sentence) in sentences.iter().enumerate() {
        if taken >= limits.max_sentences.max(1) {
            break;
        }
        let extra = sentence.chars().count() + usize::from(taken > 0);
        if taken > 0 && text.chars().count() + extra > limits.max_chars {
            break;
        }
        if taken > 0 {
            text.push(' ');
        }
        text.push_str(sentence);
    }
    truncate_chars(&text, limits.max_chars)
}

/// `text` cut at a word boundary to at most `max_chars` characters, with an ellipsis.
fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(at) if at > cut.len() / 2 => &cut[..at],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "no", "approx", "incl", "fig", "st",
];

/// Splits prose into sentences at `.`, `!` or `?` followed by a space and a capital letter,
/// digit or opening mark, except after common abbreviations and single initials.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        // Closing quotes or brackets after the mark stay with the sentence.
        let mut end = i + 1;
        while chars
            .get(end)
            .is_some_and(|(_, c)| matches!(c, '"' | '\'' | ')' | '”' | '’' | '*' | '_'))
        {
            end += 1;
        }
        let Some(&(_, space)) = chars.get(end) else {
            continue;
        };
        if !space.is_whitespace() {
            continue;
        }
        let next = chars[end..].iter().find(|(_, c)| !c.is_whitespace());
        let starts_sentence = next.is_some_and(|(_, n)| {
            n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '“' | '(' | '*' | '[')
        });
        if !starts_sentence {
            continue;
        }
        if c == '.' {
            let word: String = text[start..at]
                .rsplit(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            let single_initial = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
            if ABBREVIATIONS.contains(&word.as_str()) || single_initial {
                continue;
            }
        }
        let split_at = chars.get(end).map_or(text.len(), |(b, _)| *b);
        let sentence = text[start..split_at].trim();
        if !sentence.is_empty() {
            out.push(sentence);
        }
        start = split_at;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Words that say nothing about what the customer needs.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "get", "got",
    "had", "has", "have", "hello", "hey", "hi", "how", "i", "if", "im", "in", "into", "is", "it",
    "its", "just", "let", "me", "my", "need", "of", "on", "or", "our", "please", "should", "so",
    "some", "still", "than", "thanks", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "to", "too", "up", "us", "want", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "why", "will", "with", "would", "you", "your",
];

/// Content words of `text`, lower-cased and lightly stemmed.
pub(crate) fn terms(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .map(|w| w.strip_suffix("'s").unwrap_or(w))
        .filter(|w| w.chars().count() > 1 && !STOP_WORDS.contains(w))
        .filter(|w| !w.contains('\'')) // contractions ("can't", "don't") are function words
        .map(stem)
        .collect()
}

/// A light English stemmer: enough to match "invoices" with "invoice" and "resetting" with
/// "reset"; both sides go through it, so consistency matters more than linguistics.
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    let len = w.chars().count();
    if !w.is_ascii() || len <= 3 {
        return w;
    }
    if len > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if len > 5 && w.ends_with("ing") {
        w.truncate(w.len() - 3);
        undouble(&mut w);
    } else if len > 4 && w.ends_with("ed") {
        w.truncate(w.len() - 2);
        undouble(&mut w);
    } else if len > 4
        && (w.ends_with("sses") || w.ends_with("xes") || w.ends_with("ches") || w.ends_with("shes"))
    {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.truncate(w.len() - 1);
    }
    if w.len() > 4 && w.ends_with('e') {
        w.truncate(w.len() - 1);
    }
    w
}

/// "resett" → "reset", "stopp" → "stop" (but "install", "access" keep their pairs).
fn undouble(word: &mut String) {
    let bytes = word.as_bytes();
    if let [.., a, b] = bytes
        && a == b
        && !matches!(a, b'l' | b's' | b'z')
        && !matches!(a, b'a' | b'e' | b'i' | b'o' | b'u')
    {
        word.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_sentences: 3,
        max_chars: 320,
    };

    const EXPORT: &str = "Baton keeps your data for as long as your workspace exists. \
Owners can export everything at any time, and exports are kept for seven days.

## Export your data

To export your data:

1. Open Settings → Data.
2. Choose Export and pick CSV or JSON.
3. We email you a download link when the export is ready.

## Deleting your workspace

Deleting a workspace removes all conversations after a 30-day grace period. \
During the grace period an owner can restore it from the billing page. \
After that the data cannot be recovered. Invoices stay available to the billing contact.";

    #[test]
    fn how_to_questions_get_the_steps_with_their_intro() {
        let passage = best_passage(
            "how do I export my data as CSV?",
            "Your data",
            EXPORT,
            LIMITS,
        );
        assert_eq!(
            passage.text,
            "To export your data:\n1. Open Settings → Data.\n2. Choose Export and pick CSV or JSON.\n3. We email you a download link when the export is ready."
        );
        assert!(!passage.whole);
    }

    #[test]
    fn prose_questions_get_the_matching_sentences_only() {
        let passage = best_passage(
            "can I restore a deleted workspace during the grace period?",
            "Your data",
            EXPORT,
            LIMITS,
        );
        assert!(
            passage.text.starts_with("Deleting a workspace removes"),
            "{}",
            passage.text
        );
        assert!(passage.text.contains("restore it from the billing page"));
        assert!(!passage.text.contains("Open Settings"));
        assert!(passage.text.chars().count() <= LIMITS.max_chars);
    }

    #[test]
    fn short_articles_are_served_whole() {
        let passage = best_passage(
            "reset password",
            "Reset your password",
            "Click \"Forgot password\" on the sign-in page. The link is valid for one hour.",
            LIMITS,
        );
        assert!(passage.whole);
        assert_eq!(
            passage.text,
            "Click \"Forgot password\" on the sign-in page. The link is valid for one hour."
        );
    }

    #[test]
    fn without_shared_words_the_opening_is_served() {
        let passage = best_passage("zzz qqq", "Your data", EXPORT, LIMITS);
        assert_eq!(passage.matched, 0);
        assert!(passage.text.starts_with("Baton keeps your data"));
    }

    #[test]
    fn sentences_split_at_sentence_ends_only() {
        assert_eq!(
            sentences("Use e.g. the API. It costs $1.50 per seat! Really? (Yes.) Done"),
            vec![
                "Use e.g. the API.",
                "It costs $1.50 per seat!",
                "Really?",
                "(Yes.)",
                "Done"
            ]
        );
    }

    #[test]
    fn stemming_matches_common_inflections() {
        assert_eq!(stem("invoices"), stem("invoice"));
        assert_eq!(stem("resetting"), stem("reset"));
        assert_eq!(stem("changed"), stem("change"));
        assert_eq!(stem("policies"), stem("policy"));
        assert_eq!(stem("access"), "access");
        assert_eq!(
            terms("How do I change my invoices' address?"),
            vec!["chang", "invoic", "address"]
        );
    }

    #[test]
    fn lists_are_recognised() {
        let units = parse_units("Intro:\n- one\n  continued\n- two\n\nAfter.");
        assert_eq!(
            units,
            vec![
                Unit::Paragraph("Intro:".into()),
                Unit::List(vec!["- one continued".into(), "- two".into()]),
                Unit::Paragraph("After.".into()),
            ]
        );
    }
}
