//! What each issue type means, in the support team's words: the phrase the brief uses when it
//! says why a conversation came to a person ("disputes a charge") and what the customer
//! needs ("Disputes a charge for invoice INV-2041: …"). Data, kept apart from the code that
//! reads it; labels of operators' own taxonomies that are not here are shown as words.

/// Issue type (the built-in taxonomy's labels) → what the customer does, without a subject.
const ISSUE_PHRASES: &[(&str, &str)] = &[
    ("billing_question", "has a billing question"),
    ("billing_dispute", "disputes a charge"),
    ("refund", "wants a refund"),
    ("cancellation", "wants to cancel"),
    ("contract_renewal", "asks about their contract or renewal"),
    ("pricing", "asks about pricing"),
    ("account_access", "cannot get into their account"),
    ("data_privacy", "makes a privacy request"),
    ("legal_compliance", "asks about a legal matter"),
    ("technical_bug", "reports something broken"),
    ("integration", "has a problem with an integration"),
    ("how_to", "asks how to do something"),
    ("feature_request", "asks for a feature"),
    ("outage", "reports an outage"),
];

/// Issue types too general to say anything about the request on their own: the customer's
/// own words say more.
const VAGUE: &[&str] = &["how_to", "other"];

/// The phrase for an issue type ("disputes a charge"), when Baton knows one.
pub fn issue_phrase(label: &str) -> Option<&'static str> {
    ISSUE_PHRASES
        .iter()
        .find(|(name, _)| *name == label)
        .map(|(_, phrase)| *phrase)
}

/// The phrase for an issue type when it is specific enough to lead a summary.
pub fn request_phrase(label: &str) -> Option<&'static str> {
    if VAGUE.contains(&label) {
        return None;
    }
    issue_phrase(label)
}

/// A label as words, for labels without a phrase: `login_sso` → "login sso".
pub fn label_words(label: &str) -> String {
    label.replace(['_', '-'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Taxonomy;

    #[test]
    fn every_built_in_issue_type_has_a_phrase() {
        for t in Taxonomy::builtin().types {
            if t.name == crate::signals::taxonomy::OTHER {
                continue;
            }
            assert!(issue_phrase(&t.name).is_some(), "{} has no phrase", t.name);
        }
        assert_eq!(issue_phrase("billing_dispute"), Some("disputes a charge"));
        assert_eq!(request_phrase("how_to"), None);
        assert_eq!(issue_phrase("login_sso"), None);
        assert_eq!(label_words("login_sso"), "login sso");
    }
}
