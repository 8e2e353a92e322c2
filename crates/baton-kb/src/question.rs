//! Does a customer's turn ask for something? Greetings, thanks, acknowledgements and
//! small talk ask nothing, and get no confidence judgement; questions, requests and problem
//! statements ("my invoice is wrong", "I can't log in") do.
//!
//! The turn is cut into clauses at punctuation and at "but"; it asks something when any
//! clause does. A clause asks something when it names a need or a problem, carries a word
//! outside the small vocabulary of social talk, or is a question that is not a pleasantry
//! ("how are you?"). Social talk is recognised by vocabulary rather than by whole phrases, so
//! "thanks a lot, that fixed it, have a great weekend!" needs no entry of its own.

/// Whether `text` asks for something (a question, a request or a problem to solve).
///
/// ```
/// use baton_kb::asks_something;
///
/// assert!(!asks_something("Thanks so much, that worked!"));
/// assert!(asks_something("my invoice is wrong"));
/// assert!(asks_something("hi, I can't log in"));
/// ```
pub fn asks_something(text: &str) -> bool {
    clauses(text).iter().any(Clause::asks_something)
}

/// One clause: its words (lower case, contractions expanded) and whether it ended with `?`.
#[derive(Debug)]
struct Clause {
    words: Vec<String>,
    question_mark: bool,
}

fn clauses(text: &str) -> Vec<Clause> {
    let text = text
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'");
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if matches!(c, '.' | '!' | '?' | ';' | ',' | ':' | '\n' | '(' | ')') {
            push_clause(&mut out, &current, c == '?');
            current.clear();
        } else {
            current.push(c);
        }
    }
    push_clause(&mut out, &current, false);
    out
}

fn push_clause(out: &mut Vec<Clause>, text: &str, question_mark: bool) {
    let mut words: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let raw = raw.trim_matches('\'');
        if raw.is_empty() {
            continue;
        }
        // "but" starts a new clause: "thanks, but it still fails".
        if raw == "but" {
            if !words.is_empty() {
                out.push(Clause {
                    words: std::mem::take(&mut words),
                    question_mark: false,
                });
            }
            continue;
        }
        expand(raw, &mut words);
    }
    if words.is_empty() {
        // A lone "?" still closes the clause before it as a question.
        if question_mark && let Some(last) = out.last_mut() {
            last.question_mark = true;
        }
        return;
    }
    out.push(Clause {
        words,
        question_mark,
    });
}

/// Expands contractions ("doesn't" → "does not", "i'm" → "i am") and common spellings
/// without the apostrophe ("dont", "cant", "im").
fn expand(word: &str, out: &mut Vec<String>) {
    let plain: &[&str] = match word {
        "can't" | "cant" | "cannot" => &["can", "not"],
        "won't" | "wont" => &["will", "not"],
        "shan't" => &["shall", "not"],
        "ain't" | "aint" => &["is", "not"],
        "im" => &["i", "am"],
        "ive" => &["i", "have"],
        "id" => &["i", "would"],
        "ill" => &["i", "will"],
        "youre" => &["you", "are"],
        "thats" => &["that", "is"],
        "whats" => &["what", "is"],
        "hows" => &["how", "is"],
        "theres" => &["there", "is"],
        "dont" => &["do", "not"],
        "doesnt" => &["does", "not"],
        "didnt" => &["did", "not"],
        "isnt" => &["is", "not"],
        "arent" => &["are", "not"],
        "wasnt" => &["was", "not"],
        "werent" => &["were", "not"],
        "havent" => &["have", "not"],
        "hasnt" => &["has", "not"],
        "couldnt" => &["could", "not"],
        "wouldnt" => &["would", "not"],
        "shouldnt" => &["should", "not"],
        _ => &[],
    };
    if !plain.is_empty() {
        out.extend(plain.iter().map(|w| (*w).to_string()));
        return;
    }
    if let Some(stem) = word.strip_suffix("n't") {
        out.push(stem.to_string());
        out.push("not".into());
        return;
    }
    for (suffix, expansion) in [
        ("'m", "am"),
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'s", "is"),
    ] {
        if let Some(stem) = word.strip_suffix(suffix) {
            out.push(stem.to_string());
            out.push(expansion.to_string());
            return;
        }
    }
    out.push(word.to_string());
}

impl Clause {
    fn asks_something(&self) -> bool {
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        let words = strip_social_phrases(&words);
        if words.is_empty() {
            return false;
        }
        if is_pleasantry_question(&words) {
            return false;
        }
        // A lone "what?", "sorry?" or "huh?" asks to repeat, not for an answer.
        if words.len() == 1 && REPAIRS.contains(&words[0]) {
            return false;
        }
        if words.iter().any(|w| NEEDS.contains(w)) {
            return true;
        }
        let negated = words.iter().any(|w| NEGATIONS.contains(w));
        if negated && words.iter().any(|w| OUTCOMES.contains(w)) {
            // "it doesn't work", "that didn't help": the problem is still there.
            return true;
        }
        if words
            .iter()
            .any(|w| !SOCIAL.contains(w) && !FUNCTION.contains(w))
        {
            return true;
        }
        // Only social and function words left: a question still asks ("how do I do that?",
        // "can you do it?", "what is this?").
        let opens_like_a_question = words.len() > 1
            && (words[0] == "what"
                || (AUXILIARIES.contains(&words[0]) && SUBJECTS.contains(&words[1])));
        let interrogative = words.iter().any(|w| WH.contains(w))
            || opens_like_a_question
            || (self.question_mark && AUXILIARIES.contains(&words[0]));
        interrogative && !words.iter().all(|w| SOCIAL.contains(w))
    }
}

/// Drops set phrases that would otherwise look like a problem ("no problem", "never mind").
fn strip_social_phrases<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    'outer: while i < words.len() {
        for phrase in SOCIAL_PHRASES {
            let n = phrase.len();
            if i + n <= words.len() && words[i..i + n] == **phrase {
                i += n;
                continue 'outer;
            }
        }
        out.push(words[i]);
        i += 1;
    }
    out
}

/// "how are you (doing today)?", "what's up", "are you there?": questions that are greetings.
fn is_pleasantry_question(words: &[&str]) -> bool {
    let start = words
        .iter()
        .position(|w| !SOCIAL.contains(w) || WH.contains(w) || AUXILIARIES.contains(w))
        .unwrap_or(words.len());
    let rest = &words[start..];
    PLEASANTRY_QUESTIONS.iter().any(|phrase| {
        rest.len() >= phrase.len()
            && rest[..phrase.len()] == **phrase
            && rest[phrase.len()..]
                .iter()
                .all(|w| SOCIAL.contains(w) || FUNCTION.contains(w))
    })
}

/// Words that state a need or a problem whatever surrounds them.
const NEEDS: &[&str] = &[
    "help",
    "need",
    "needs",
    "needed",
    "want",
    "wanted",
    "wants",
    "like",
    "trying",
    "tried",
    "problem",
    "problems",
    "issue",
    "issues",
    "error",
    "errors",
    "wrong",
    "broken",
    "bug",
    "bugs",
    "fail",
    "fails",
    "failed",
    "failing",
    "failure",
    "crash",
    "crashes",
    "crashed",
    "stuck",
    "locked",
    "lost",
    "missing",
    "charged",
    "overcharged",
    "refund",
    "cancel",
    "unable",
    "how",
    "why",
    "where",
    "when",
    "which",
    "who",
    "whom",
    "whose",
    "question",
    "questions",
    "explain",
    "tell",
    "show",
    "possible",
];

/// Words that turn an outcome into a problem when present with an outcome word.
const NEGATIONS: &[&str] = &["not", "never", "nothing"];

/// Outcomes: fine alone ("it works now"), a problem when negated ("it doesn't work").
const OUTCOMES: &[&str] = &[
    "work", "works", "worked", "working", "help", "helps", "helped", "helping", "fix", "fixed",
    "fixes", "solve", "solved", "resolved", "sorted", "load", "loads", "loading", "open", "opens",
    "change", "changed", "arrive", "arrived", "receive", "received", "happen", "happened", "go",
    "goes", "went", "through", "answer", "answered", "clear", "get", "got", "getting", "see",
    "find", "access", "connect", "sync", "save", "send", "sent", "show", "shows", "showing",
    "appear", "appears", "update", "updated", "run", "runs", "running",
];

/// Interrogative words.
const WH: &[&str] = &[
    "how", "why", "where", "when", "which", "who", "whom", "whose",
];

/// Verbs that open a yes/no question.
const AUXILIARIES: &[&str] = &[
    "can", "could", "would", "will", "shall", "should", "may", "might", "must", "do", "does",
    "did", "is", "are", "am", "was", "were", "have", "has", "had",
];

/// Subjects that follow the verb in a yes/no question ("are you ...", "do I ...").
const SUBJECTS: &[&str] = &[
    "i", "you", "u", "we", "it", "there", "this", "that", "they", "he", "she", "my", "your", "our",
    "the", "anyone", "someone",
];

/// Single words asking to repeat.
const REPAIRS: &[&str] = &["what", "huh", "sorry", "pardon", "eh", "hm", "hmm"];

/// Questions that are greetings, matched at the start of a clause after any greeting words.
const PLEASANTRY_QUESTIONS: &[&[&str]] = &[
    &["how", "are", "you"],
    &["how", "are", "ya"],
    &["how", "r", "u"],
    &["how", "are", "things"],
    &["how", "is", "it", "going"],
    &["how", "is", "it", "hanging"],
    &["how", "goes", "it"],
    &["how", "is", "everything"],
    &["how", "is", "life"],
    &["how", "is", "your", "day"],
    &["how", "was", "your", "day"],
    &["how", "have", "you", "been"],
    &["how", "do", "you", "do"],
    &["how", "do", "you", "feel"],
    &["what", "is", "up"],
    &["what", "up"],
    &["sup"],
    &["what", "is", "new"],
    &["what", "is", "going", "on"],
    &["what", "is", "happening"],
    &["are", "you", "there"],
    &["you", "there"],
    &["is", "anyone", "there"],
    &["anyone", "there"],
    &["anybody", "there"],
    &["is", "anybody", "there"],
    &["is", "somebody", "there"],
    &["is", "someone", "there"],
    &["are", "you", "ok"],
    &["are", "you", "okay"],
    &["are", "you", "well"],
    &["are", "you", "doing"],
    &["are", "you", "feeling"],
    &["are", "things", "going"],
    &["is", "everything", "ok"],
    &["is", "everything", "okay"],
    &["is", "everything", "going"],
    &["have", "you", "been"],
];

/// Set phrases of social talk containing words that elsewhere signal a need or a problem.
const SOCIAL_PHRASES: &[&[&str]] = &[
    &["no", "problem"],
    &["not", "a", "problem"],
    &["no", "problems"],
    &["no", "issue"],
    &["no", "issues"],
    &["no", "worries"],
    &["no", "need"],
    &["never", "mind"],
    &["nothing", "else"],
    &["not", "at", "all"],
    &["thanks", "for", "the", "help"],
    &["thanks", "for", "your", "help"],
    &["thank", "you", "for", "your", "help"],
    &["thank", "you", "for", "the", "help"],
    &["thank", "you", "for", "helping"],
    &["thanks", "for", "helping"],
    &["for", "your", "help"],
    &["for", "the", "help"],
    &["your", "help"],
    &["the", "help"],
    &["no", "way"],
    &["do", "like", "that"],
    &["get", "in", "touch"],
    &["catch", "up"],
    &["big", "help"],
    &["great", "help"],
    &["the", "answer"],
    &["your", "answer"],
    &["that", "answer"],
    &["good", "answer"],
    &["great", "answer"],
    &["answered", "my", "question"],
    &["answering", "my", "question"],
    &["my", "question"],
    &["that", "is", "all", "i", "need"],
    &["that", "is", "all", "i", "needed"],
    &["all", "i", "need"],
    &["all", "i", "needed"],
    &["what", "i", "need"],
    &["what", "i", "needed"],
    &["what", "i", "want"],
    &["what", "i", "wanted"],
    &["i", "would", "like", "to", "thank"],
    &["i", "want", "to", "thank"],
    &["i", "need", "to", "thank"],
    &["i", "need", "to", "go"],
    &["i", "have", "to", "go"],
    &["need", "to", "go"],
    &["have", "to", "go"],
    &["got", "to", "go"],
    &["gotta", "go"],
    &["i", "do", "not", "know"],
    &["do", "not", "know"],
    &["i", "would", "like", "that"],
    &["would", "like", "that"],
    &["do", "not", "like", "that"],
    &["i", "like", "that"],
    &["i", "like", "it"],
    &["not", "sure"],
    &["not", "really"],
    &["not", "bad"],
    &["not", "true"],
    &["not", "right"],
    &["not", "correct"],
    &["not", "the", "case"],
    &["not", "yet"],
    &["will", "not", "be", "needed"],
    &["i", "will", "try"],
    &["will", "try"],
    &["let", "me", "try"],
    &["try", "that"],
    &["try", "it"],
];

/// Greetings, thanks, acknowledgements, agreement, uncertainty, farewells and praise.
const SOCIAL: &[&str] = &[
    // greetings and address
    "hi",
    "hello",
    "hey",
    "heya",
    "hiya",
    "howdy",
    "yo",
    "hola",
    "bonjour",
    "aloha",
    "ahoy",
    "hoy",
    "greetings",
    "salutations",
    "morning",
    "afternoon",
    "evening",
    "night",
    "day",
    "there",
    "team",
    "guys",
    "folks",
    "everyone",
    "everybody",
    "all",
    "friend",
    "buddy",
    "mate",
    "dear",
    "sir",
    "madam",
    "ai",
    "bot",
    "welcome",
    "doing",
    "today",
    "tonight",
    "feeling",
    "going",
    "treating",
    "things",
    "everything",
    "life",
    "been",
    "fine",
    "well",
    "alright",
    "okay",
    "ok",
    "k",
    "kk",
    "okey",
    "okie",
    "again",
    "soon",
    "around",
    "out",
    "back",
    "nice",
    "meet",
    "see",
    "seeing",
    "wake",
    "up",
    // thanks and praise
    "thanks",
    "thank",
    "thx",
    "thanx",
    "ty",
    "tysm",
    "tyvm",
    "cheers",
    "gracias",
    "merci",
    "danke",
    "beaucoup",
    "appreciate",
    "appreciated",
    "appreciates",
    "grateful",
    "thankful",
    "gratitude",
    "obliged",
    "kind",
    "kindly",
    "kindness",
    "much",
    "lot",
    "lots",
    "ton",
    "tons",
    "million",
    "great",
    "good",
    "cool",
    "awesome",
    "perfect",
    "excellent",
    "wonderful",
    "fantastic",
    "amazing",
    "brilliant",
    "lovely",
    "superb",
    "super",
    "sweet",
    "neat",
    "best",
    "better",
    "rock",
    "rocks",
    "star",
    "legend",
    "job",
    "helpful",
    "useful",
    "thoughtful",
    "patient",
    "quick",
    "fast",
    "prompt",
    "response",
    "reply",
    "info",
    "information",
    "assistance",
    "support",
    "effort",
    "efforts",
    "time",
    "love",
    "loved",
    "like",
    "happy",
    "glad",
    "pleased",
    "pleasure",
    "fun",
    "enjoyed",
    "enjoyable",
    "pleasant",
    "easy",
    "big",
    "huge",
    "real",
    "true",
    "truly",
    "indeed",
    // acknowledgement and agreement
    "yes",
    "yeah",
    "yep",
    "yup",
    "ya",
    "yea",
    "yeap",
    "aye",
    "uh",
    "huh",
    "uhhuh",
    "mhm",
    "sure",
    "certainly",
    "absolutely",
    "definitely",
    "exactly",
    "right",
    "correct",
    "correctly",
    "accurate",
    "agreed",
    "agree",
    "affirmative",
    "positive",
    "confirm",
    "confirmed",
    "fact",
    "noted",
    "understood",
    "understand",
    "understanding",
    "see",
    "got",
    "gotcha",
    "get",
    "makes",
    "sense",
    "sounds",
    "seems",
    "done",
    "set",
    "ready",
    "fair",
    "enough",
    "course",
    "deal",
    "will",
    "do",
    "go",
    "ahead",
    "please",
    "pls",
    "plz",
    // disagreement and uncertainty
    "no",
    "nope",
    "nah",
    "naw",
    "nay",
    "negative",
    "false",
    "untrue",
    "incorrect",
    "inaccurate",
    "disagree",
    "maybe",
    "perhaps",
    "possibly",
    "probably",
    "either",
    "both",
    "guess",
    "think",
    "believe",
    "suppose",
    "know",
    "unsure",
    "uncertain",
    "certain",
    "idea",
    "clue",
    "depends",
    "decide",
    "whatever",
    "nevermind",
    "nvm",
    "mind",
    "matter",
    "worry",
    "worries",
    "np",
    "pass",
    "letting",
    "peace",
    "dunno",
    "many",
    "say",
    "saying",
    "said",
    "answering",
    "providing",
    "giving",
    "cooperation",
    "assistant",
    "catch",
    "converse",
    "conversing",
    "until",
    "next",
    "outta",
    "run",
    "glad",
    "gone",
    "off",
    // closing
    "bye",
    "goodbye",
    "byebye",
    "cya",
    "later",
    "farewell",
    "adios",
    "ciao",
    "sayonara",
    "take",
    "care",
    "easy",
    "weekend",
    "talk",
    "talking",
    "chat",
    "chatting",
    "chatted",
    "conversation",
    "speak",
    "speaking",
    "spoke",
    "leave",
    "leaving",
    "now",
    "for",
    // reactions and fillers
    "oh",
    "ah",
    "ahh",
    "aha",
    "oops",
    "wow",
    "whoa",
    "yay",
    "hooray",
    "lol",
    "haha",
    "hahaha",
    "hehe",
    "lmao",
    "omg",
    "hmm",
    "hm",
    "um",
    "umm",
    "uh",
    "er",
    "erm",
    "well",
    "so",
    "anyway",
    "anyways",
    "alright",
    "sorry",
    "pardon",
    "excuse",
    "really",
    "very",
    "totally",
    "completely",
    "quite",
    "pretty",
    "just",
    "still",
    "already",
    "also",
    "too",
    "as",
    "that",
    "this",
    "it",
    "one",
    "works",
    "worked",
    "working",
    "fixed",
    "solved",
    "resolved",
    "sorted",
    "helps",
    "helped",
];

/// Pronouns, auxiliaries, determiners, prepositions, conjunctions and other glue words.
const FUNCTION: &[&str] = &[
    "i",
    "me",
    "my",
    "mine",
    "myself",
    "we",
    "us",
    "our",
    "ours",
    "you",
    "your",
    "yours",
    "u",
    "ur",
    "he",
    "him",
    "his",
    "she",
    "her",
    "they",
    "them",
    "their",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "a",
    "an",
    "the",
    "is",
    "am",
    "are",
    "was",
    "were",
    "be",
    "being",
    "been",
    "do",
    "does",
    "did",
    "doing",
    "have",
    "has",
    "had",
    "having",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "to",
    "of",
    "in",
    "on",
    "at",
    "by",
    "with",
    "from",
    "about",
    "as",
    "into",
    "onto",
    "over",
    "under",
    "and",
    "or",
    "nor",
    "if",
    "then",
    "than",
    "so",
    "because",
    "while",
    "what",
    "there",
    "here",
    "some",
    "any",
    "all",
    "no",
    "not",
    "very",
    "too",
    "just",
    "also",
    "again",
    "really",
    "actually",
    "even",
    "ever",
    "never",
    "once",
    "such",
    "same",
    "other",
    "another",
    "own",
    "off",
    "up",
    "down",
    "out",
    "now",
    "soon",
    "yet",
    "anything",
    "something",
    "nothing",
    "everything",
    "anyone",
    "someone",
    "somebody",
    "anybody",
    "let",
    "lets",
    "gonna",
    "gotta",
    "wanna",
    "must",
    "o",
    "s",
    "t",
    "d",
    "ll",
    "re",
    "ve",
    "m",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractions_are_expanded() {
        let c = clauses("I can't log in, it doesn’t work");
        assert_eq!(c[0].words, ["i", "can", "not", "log", "in"]);
        assert_eq!(c[1].words, ["it", "does", "not", "work"]);
    }

    #[test]
    fn but_starts_a_new_clause() {
        let c = clauses("thanks but it still fails");
        assert_eq!(c.len(), 2);
    }
}
