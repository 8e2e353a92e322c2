//! Reading customer and AI messages sentence by sentence: which sentence states the
//! customer's need, which says what they already tried, which AI sentence is an instruction.
//!
//! Extractive and rule-based on purpose: the brief quotes the customer's own words, so an
//! agent can trust it, and it needs no model.

use std::sync::LazyLock;

use crate::signals::HumanRequestDetector;
use crate::signals::text::{fold, is_stopword, words};

static HUMAN_REQUEST: LazyLock<HumanRequestDetector> = LazyLock::new(HumanRequestDetector::new);

/// Splits a message into sentences: at `.`, `!`, `?` followed by a space or the end, and
/// at line breaks. Dots inside numbers, amounts and identifiers (`$1,200.00`, `v2.3`) do not
/// split.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = match c {
            '\n' => Some(i + 1),
            '.' | '!' | '?' => {
                // Swallow a run of terminators ("?!", "...").
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = chars.peek() {
                    if matches!(n, '.' | '!' | '?') {
                        end = j + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                match chars.peek() {
                    None => Some(end),
                    Some(&(_, n)) if n.is_whitespace() => Some(end),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(end) = boundary {
            push_trimmed(&text[start..end], &mut out);
            start = end;
        }
    }
    push_trimmed(&text[start..], &mut out);
    out
}

fn push_trimmed<'a>(piece: &'a str, out: &mut Vec<&'a str>) {
    let piece = piece.trim();
    if piece.chars().any(char::is_alphanumeric) {
        out.push(piece);
    }
}

/// The sentence without a greeting in front ("Hi there, I was charged twice" → "I was
/// charged twice"), so it can be quoted or said back.
pub fn strip_greeting(sentence: &str) -> &str {
    let mut rest = sentence.trim();
    // After "hi"/"hello"/"good morning", the people greeted ("there", "team") go too.
    let mut greeted = false;
    loop {
        let word_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '\''))
            .unwrap_or(rest.len());
        let word = fold(&rest[..word_end]);
        let next_word = fold(
            rest[word_end..]
                .trim_start()
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or(""),
        );
        let strip = match word.as_str() {
            "hi" | "hello" | "hey" | "dear" | "greetings" | "morning" | "afternoon" | "evening" => {
                greeted = true;
                true
            }
            "good" => matches!(next_word.as_str(), "morning" | "afternoon" | "evening"),
            "ok" | "okay" | "so" | "um" => true,
            "there" | "team" | "all" | "guys" | "folks" | "everyone" | "support" => greeted,
            _ => false,
        };
        if !strip || word_end == rest.len() {
            return rest;
        }
        rest = rest[word_end..].trim_start_matches([',', '!', '.', ':', '-', ' ']);
    }
}

/// Words that carry no information about the issue, beyond the usual stopwords.
fn is_filler(w: &str) -> bool {
    is_stopword(w)
        || matches!(
            w,
            "thanks"
                | "thank"
                | "thx"
                | "ok"
                | "okay"
                | "yes"
                | "yeah"
                | "no"
                | "nope"
                | "good"
                | "morning"
                | "afternoon"
                | "evening"
                | "there"
                | "guys"
                | "team"
                | "help"
                | "asap"
                | "urgent"
                | "urgently"
                | "now"
                | "right"
                | "really"
                | "very"
                | "much"
                | "lot"
                | "sure"
                | "great"
                | "cool"
                | "hmm"
                | "um"
                | "well"
                | "anyone"
                | "someone"
                | "somebody"
                | "need"
                | "want"
                | "get"
                | "me"
                | "us"
                | "not"
                | "it"
                | "all"
                | "any"
                | "some"
                | "about"
                | "if"
                | "but"
                | "then"
                | "than"
                | "who"
                | "why"
                | "when"
                | "where"
                | "which"
                | "by"
                | "from"
                | "as"
                | "up"
                | "out"
                | "one"
                | "they"
                | "them"
                | "their"
                | "he"
                | "she"
                | "his"
                | "her"
                | "yours"
                | "mine"
                | "ours"
        )
}

/// Words that say the sentence states a problem or an ask.
fn is_need_cue(w: &str) -> bool {
    matches!(
        w,
        "need"
            | "want"
            | "trying"
            | "can't"
            | "cant"
            | "cannot"
            | "unable"
            | "won't"
            | "wont"
            | "doesn't"
            | "doesnt"
            | "isn't"
            | "isnt"
            | "didn't"
            | "didnt"
            | "error"
            | "wrong"
            | "charged"
            | "billed"
            | "refund"
            | "cancel"
            | "broken"
            | "failing"
            | "fails"
            | "failed"
            | "missing"
            | "how"
            | "why"
            | "stuck"
            | "locked"
    )
}

/// How much a customer sentence says about the issue; `None` for sentences that say
/// nothing about it (greetings, thanks, "get me a human", "this is ridiculous").
pub fn informativeness(sentence: &str) -> Option<f64> {
    let folded = fold(sentence);
    let ws: Vec<&str> = words(&folded).collect();
    let request = HUMAN_REQUEST.detect(sentence);
    // Words of the request itself do not count as content ("I need a real person").
    let request_words: Vec<&str> = request
        .evidence
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    let content = ws
        .iter()
        .filter(|w| !is_filler(w) && !request_words.contains(w))
        .count();
    let needed = if request.detected { 4 } else { 2 };
    if content < needed {
        return None;
    }
    let mut score = content.min(12) as f64;
    if ws.iter().any(|w| is_need_cue(w)) {
        score += 2.0;
    }
    if sentence.contains('?') {
        score += 1.0;
    }
    if ws.iter().any(|w| w.chars().any(|c| c.is_ascii_digit())) {
        // Numbers, identifiers, amounts: what an agent looks up first.
        score += 1.5;
    }
    if request.detected {
        score -= 2.0;
    }
    Some(score)
}

/// The words of a text, folded ("INV-2041" → "inv-2041"), for comparing what two sentences
/// name.
pub fn fold_words(text: &str) -> Vec<String> {
    let folded = fold(text);
    words(&folded).map(str::to_string).collect()
}

/// Whether a customer sentence asks for a person ("can I talk to someone").
pub fn asks_for_a_person(sentence: &str) -> bool {
    HUMAN_REQUEST.detect(sentence).detected
}

/// Verbs a customer uses to say what they already did ("cleared", "reset", "reinstalled").
const ATTEMPT_VERBS: &[&str] = &[
    "tried",
    "cleared",
    "reset",
    "restarted",
    "rebooted",
    "reinstalled",
    "uninstalled",
    "updated",
    "upgraded",
    "downgraded",
    "logged",
    "signed",
    "re-entered",
    "reentered",
    "retyped",
    "changed",
    "disabled",
    "enabled",
    "turned",
    "checked",
    "double-checked",
    "followed",
    "switched",
    "removed",
    "deleted",
    "refreshed",
    "reloaded",
    "contacted",
    "emailed",
    "called",
    "resent",
    "re-sent",
    "reuploaded",
    "re-uploaded",
    "regenerated",
    "reconnected",
    "re-added",
    "verified",
    "confirmed",
    "done",
    "did",
    "paid",
    "used",
    "installed",
];

/// Whether a customer sentence says what they already tried ("I already cleared the cache",
/// "tried resetting twice", "I've restarted the app"). Negated statements ("I haven't tried
/// that") and questions do not count.
pub fn is_attempt(sentence: &str) -> bool {
    if sentence.trim_end().ends_with('?') {
        return false;
    }
    let folded = fold(sentence);
    let ws: Vec<&str> = words(&folded).collect();
    for (i, w) in ws.iter().enumerate() {
        if !ATTEMPT_VERBS.contains(w) {
            continue;
        }
        let before = &ws[i.saturating_sub(3)..i];
        // "I haven't tried that" is not an attempt; "tried it, still not working" is.
        let negated = before.iter().any(|b| {
            matches!(
                *b,
                "haven't" | "havent" | "hasn't" | "hasnt" | "didn't" | "didnt" | "not" | "never"
            )
        });
        if negated {
            continue;
        }
        if *w == "tried" {
            return true;
        }
        // "I cleared", "we've reset", "I already restarted", "I have also checked".
        let subject = before.iter().any(|b| {
            matches!(
                *b,
                "i" | "we" | "i've" | "ive" | "we've" | "weve" | "i'd" | "we'd"
            )
        });
        let already = before.iter().any(|b| matches!(*b, "already" | "also"));
        if subject || already {
            // "did"/"done" alone are attempts only with "already" or "that/it" after them
            // ("I already did that"), not "I did get an email".
            if matches!(*w, "did" | "done" | "used" | "paid") && !already {
                let next = ws.get(i + 1).copied();
                if !matches!(next, Some("that" | "this" | "it" | "everything" | "all")) {
                    continue;
                }
            }
            return true;
        }
    }
    false
}

/// The clause of an attempt sentence that says what was done: "Tried resetting it twice,
/// still not working" → "Tried resetting it twice".
pub fn attempt_clause(sentence: &str) -> &str {
    let sentence = sentence.trim();
    let mut start = 0;
    for (i, c) in sentence.char_indices() {
        let boundary = matches!(c, ',' | ';')
            || sentence[i..].starts_with(" but ")
            || sentence[i..].starts_with(" and now ");
        if boundary {
            let end = i;
            let clause = &sentence[start..end];
            if is_attempt(clause) {
                return clause.trim();
            }
            start = end + 1;
        }
    }
    sentence
}

/// Verbs an instruction starts with ("Go to Billing", "Click Export", "Try clearing").
const IMPERATIVES: &[&str] = &[
    "go",
    "click",
    "open",
    "select",
    "choose",
    "try",
    "clear",
    "reset",
    "check",
    "make",
    "enter",
    "navigate",
    "sign",
    "log",
    "visit",
    "use",
    "contact",
    "update",
    "restart",
    "ask",
    "download",
    "turn",
    "enable",
    "disable",
    "add",
    "remove",
    "delete",
    "confirm",
    "verify",
    "wait",
    "refresh",
    "reload",
    "copy",
    "paste",
    "follow",
    "set",
    "change",
    "switch",
    "install",
    "request",
    "send",
    "email",
    "type",
    "press",
    "tap",
    "scroll",
    "find",
    "head",
    "reinstall",
    "upload",
    "export",
    "import",
    "create",
    "generate",
    "connect",
    "disconnect",
    "reconnect",
    "re-enter",
    "edit",
    "review",
    "look",
    "call",
    "submit",
    "save",
    "apply",
    "cancel",
    "toggle",
];

/// Whether an AI sentence tells the customer to do something.
pub fn is_instruction(sentence: &str) -> bool {
    let folded = fold(sentence);
    let ws: Vec<&str> = words(&folded).collect();
    let mut rest: &[&str] = &ws;
    // Numbered steps and politeness before the verb: "1. Go to", "Please open", "First, click".
    while let Some((first, tail)) = rest.split_first() {
        if first.chars().all(|c| c.is_ascii_digit())
            || matches!(
                *first,
                "please" | "first" | "then" | "next" | "just" | "simply" | "now" | "step"
            )
        {
            rest = tail;
        } else {
            break;
        }
    }
    if rest.first().is_some_and(|w| IMPERATIVES.contains(w)) {
        return true;
    }
    // "To export invoices, go to Billing": the verb after the purpose clause.
    if let Some((_, after)) = folded.split_once(',') {
        let next = words(after).next();
        if ws.first() == Some(&"to") && next.is_some_and(|w| IMPERATIVES.contains(&w)) {
            return true;
        }
    }
    let joined = format!(" {} ", ws.join(" "));
    [
        " you can ",
        " you'll need to ",
        " you need to ",
        " you should ",
        " you may need to ",
        " you might want to ",
        " i recommend ",
        " i suggest ",
    ]
    .iter()
    .any(|p| joined.contains(p))
}

/// Who a rewritten sentence speaks to or about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Person {
    /// Said back to the customer: "you were charged twice".
    Second,
    /// Said about the customer, in a note for the agent: "they were charged twice".
    Third,
}

/// First-person words and their rewrite, for each [`Person`]. `am` and `was` change only
/// after "I"/"we" (see [`swap_person`]).
const PERSON_SWAPS: &[(&[&str], &str, &str)] = &[
    (&["i", "we"], "you", "they"),
    (&["me", "us"], "you", "them"),
    (&["my", "our"], "your", "their"),
    (&["mine", "ours"], "yours", "theirs"),
    (&["myself", "ourselves"], "yourself", "themselves"),
    (&["i'm", "im", "we're"], "you're", "they're"),
    (&["i've", "ive", "we've"], "you've", "they've"),
    (&["i'll", "we'll"], "you'll", "they'll"),
    (&["i'd", "we'd"], "you'd", "they'd"),
];

/// Rewrites a customer's first-person sentence for `person`. `None` when the sentence
/// addresses the company ("you charged me") or asks something, where rewriting would change
/// its meaning.
fn swap_person(sentence: &str, person: Person) -> Option<String> {
    let trimmed = sentence
        .trim()
        .trim_end_matches(['.', '!', ' '])
        .trim_start_matches(['-', '*', ' ']);
    if trimmed.is_empty() || trimmed.ends_with('?') {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut previous_was_i = false;
    for token in trimmed.split_whitespace() {
        // Keep punctuation around the word ("me," "(my").
        let start = token.find(|c: char| c.is_alphanumeric()).unwrap_or(0);
        let end = token
            .rfind(|c: char| c.is_alphanumeric())
            .map_or(token.len(), |i| {
                i + token[i..].chars().next().map_or(1, char::len_utf8)
            });
        let (lead, core, tail) = (&token[..start], &token[start..end], &token[end..]);
        let lower = fold(core);
        if matches!(
            lower.as_str(),
            "you" | "your" | "yours" | "you're" | "you've"
        ) {
            return None;
        }
        let swapped = match lower.as_str() {
            "am" if previous_was_i => Some("are"),
            "was" if previous_was_i => Some("were"),
            word => PERSON_SWAPS
                .iter()
                .find(|(from, _, _)| from.contains(&word))
                .map(|(_, second, third)| match person {
                    Person::Second => *second,
                    Person::Third => *third,
                }),
        };
        previous_was_i = matches!(lower.as_str(), "i" | "we");
        out.push(match swapped {
            Some(s) => format!("{lead}{s}{tail}"),
            None => token.to_string(),
        });
    }
    let mut text = out.join(" ");
    // "I" opened the sentence: the rewrite goes mid-sentence, so lower-case it.
    for capital in ["You", "They"] {
        if let Some(rest) = text.strip_prefix(capital)
            && !rest.starts_with(char::is_alphanumeric)
        {
            text = format!("{}{rest}", capital.to_lowercase());
        }
    }
    Some(text)
}

/// Second-person rewrite of a customer's first-person sentence, so the agent can say it back:
/// "I was charged twice" → "you were charged twice". `None` when the sentence addresses the
/// company ("you charged me") or asks something, where rewriting would change its meaning.
pub fn to_second_person(sentence: &str) -> Option<String> {
    swap_person(sentence, Person::Second)
}

/// Third-person rewrite of a customer's first-person sentence, for a note about them: "I was
/// charged twice for my invoice" → "they were charged twice for their invoice". `None` as
/// for [`to_second_person`].
pub fn to_third_person(sentence: &str) -> Option<String> {
    swap_person(sentence, Person::Third)
}

/// A third-person statement as a note, without "they were" in front of what happened to
/// them: "they were charged twice on 3 March" → "charged twice on 3 March". Anything else is
/// returned as it is.
pub fn note_form(statement: &str) -> &str {
    for subject in [
        "they were ",
        "they've been ",
        "they have been ",
        "they got ",
    ] {
        if let Some(rest) = statement.strip_prefix(subject) {
            let next = rest.split_whitespace().next().unwrap_or("");
            // A past participle ("charged", "billed", "locked"), not "they were at home".
            if next.len() > 3 && next.ends_with("ed") {
                return rest;
            }
        }
    }
    statement
}

/// A customer's "how do I …?" question as what they ask, for a note about them: "How do I
/// move my invoices to another workspace?" → "how to move their invoices to another
/// workspace". `None` for other sentences.
pub fn asks_how(sentence: &str) -> Option<String> {
    let trimmed = sentence.trim().trim_end_matches(['?', '!', '.', ' ']);
    let tokens: Vec<&str> = trimmed.split_whitespace().collect();
    let folded: Vec<String> = tokens.iter().take(3).map(|t| fold(t)).collect();
    let lead = match folded.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [
            "how",
            "do" | "can" | "should" | "would" | "could" | "does",
            "i" | "we" | "one",
            ..,
        ] => 3,
        ["how", "to", ..] => 2,
        _ => return None,
    };
    if tokens.len() <= lead {
        return None;
    }
    let rest = to_third_person(&tokens[lead..].join(" "))?;
    Some(format!("how to {rest}"))
}

/// The same text with its first letter in capitals ("charged twice" → "Charged twice").
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Cuts `text` to at most `max` characters at a word boundary, with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    let cut = cut.trim_end_matches([',', ';', ':', ' ']);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_terminators_not_inside_amounts() {
        assert_eq!(
            split("Hi! I was charged $1,200.00 on v2.3... Why?? Please fix\nthanks"),
            vec![
                "Hi!",
                "I was charged $1,200.00 on v2.3...",
                "Why??",
                "Please fix",
                "thanks"
            ]
        );
    }

    #[test]
    fn greetings_in_front_are_dropped() {
        assert_eq!(
            strip_greeting("Hi there, I was charged twice"),
            "I was charged twice"
        );
        assert_eq!(strip_greeting("Good morning team! SSO fails"), "SSO fails");
        assert_eq!(strip_greeting("No invoices show up"), "No invoices show up");
        assert_eq!(strip_greeting("Hello"), "Hello");
        assert_eq!(
            strip_greeting("Support told me to wait"),
            "Support told me to wait"
        );
    }

    #[test]
    fn greetings_and_requests_for_a_person_say_nothing_about_the_issue() {
        assert_eq!(informativeness("Hi there, good morning!"), None);
        assert_eq!(informativeness("I want to talk to a human now."), None);
        assert_eq!(informativeness("thanks"), None);
        let ask = informativeness("I was charged twice for invoice INV-2024-0012").unwrap();
        let vague = informativeness("The billing page looks odd").unwrap();
        assert!(ask > vague);
    }

    #[test]
    fn what_the_customer_tried() {
        assert!(is_attempt("I already cleared the cache"));
        assert!(is_attempt("tried resetting twice"));
        assert!(is_attempt("We've reinstalled the desktop app."));
        assert!(is_attempt("I already did that"));
        assert!(!is_attempt("I haven't tried that yet"));
        assert!(is_attempt("Tried it twice, still not working"));
        assert!(!is_attempt("Should I clear the cache?"));
        assert!(!is_attempt("I did get an email from you"));
        assert!(!is_attempt("The export is broken"));
    }

    #[test]
    fn the_clause_that_says_what_was_done() {
        assert_eq!(
            attempt_clause("Tried resetting it twice, still not working and now HTTP 500"),
            "Tried resetting it twice"
        );
        assert_eq!(
            attempt_clause("Ok, I already cleared the cache but nothing changed."),
            "I already cleared the cache"
        );
        assert_eq!(attempt_clause("I already did that."), "I already did that.");
    }

    #[test]
    fn instructions_in_ai_answers() {
        assert!(is_instruction("Go to Billing → Invoices and click Export."));
        assert!(is_instruction("1. Open Settings > Security"));
        assert!(is_instruction("To reset SSO, sign out of every tab first."));
        assert!(is_instruction(
            "You can download a copy from the Invoices page."
        ));
        assert!(!is_instruction("Sorry to hear that."));
        assert!(!is_instruction(
            "Invoices are issued on the first of the month."
        ));
    }

    #[test]
    fn first_person_becomes_second_person() {
        assert_eq!(
            to_second_person("I was charged twice for my March invoice.").as_deref(),
            Some("you were charged twice for your March invoice")
        );
        assert_eq!(
            to_second_person("We can't log in with SSO since Monday").as_deref(),
            Some("you can't log in with SSO since Monday")
        );
        assert_eq!(to_second_person("You charged me twice"), None);
        assert_eq!(to_second_person("How do I export invoices?"), None);
    }

    #[test]
    fn first_person_becomes_third_person_for_a_note() {
        assert_eq!(
            to_third_person("I was charged twice for my March invoice.").as_deref(),
            Some("they were charged twice for their March invoice")
        );
        assert_eq!(
            to_third_person("Our team can't log in with SSO").as_deref(),
            Some("their team can't log in with SSO")
        );
        assert_eq!(to_third_person("You charged me twice"), None);
        assert_eq!(
            note_form("they were charged twice on 3 March"),
            "charged twice on 3 March"
        );
        assert_eq!(note_form("they were at home"), "they were at home");
        assert_eq!(
            asks_how("How do I move my invoices to another workspace?").as_deref(),
            Some("how to move their invoices to another workspace")
        );
        assert_eq!(asks_how("How much is the Pro plan?"), None);
        assert_eq!(asks_how("How do I contact you?"), None);
        assert_eq!(capitalise("charged twice"), "Charged twice");
    }

    #[test]
    fn shortening_cuts_at_a_word() {
        assert_eq!(shorten("one two three four", 12), "one two…");
        assert_eq!(shorten("short", 12), "short");
    }
}
