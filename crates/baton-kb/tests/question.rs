//! "Does this turn ask something?" on realistic support-chat phrasing.

use baton_kb::asks_something;

fn assert_asks_nothing(texts: &[&str]) {
    let wrong: Vec<&&str> = texts.iter().filter(|t| asks_something(t)).collect();
    assert!(wrong.is_empty(), "these should ask nothing: {wrong:?}");
}

fn assert_asks(texts: &[&str]) {
    let wrong: Vec<&&str> = texts.iter().filter(|t| !asks_something(t)).collect();
    assert!(wrong.is_empty(), "these should ask something: {wrong:?}");
}

#[test]
fn greeting_asks_nothing() {
    assert_asks_nothing(&[
        "hi",
        "Hello!",
        "hey there",
        "Good morning team",
        "hi, how are you today?",
        "Hello? Anyone there?",
        "are you there?",
        "hey, what's up",
        "yo",
    ]);
}

#[test]
fn thanks_and_acknowledgements_ask_nothing() {
    assert_asks_nothing(&[
        "thanks",
        "Thank you so much!!",
        "thx",
        "ok",
        "OK great",
        "great",
        "perfect, thanks",
        "got it",
        "Cool, that makes sense.",
        "sounds good 👍",
        "that worked, thank you!",
        "Thanks a lot, that fixed it. Have a great weekend!",
        "awesome, appreciate the quick reply",
        "no problem",
        "no worries, all good now",
        "you've been a big help",
        "thanks for your help, bye",
        "ok I'll try that",
        "yes please",
        "nope, that's all I needed",
        "👍",
        "...",
    ]);
}

#[test]
fn questions_ask_something() {
    assert_asks(&[
        "How do I reset my password?",
        "where can I download my invoices",
        "can I add more seats to my plan?",
        "is there an API rate limit",
        "what's the difference between the pro and enterprise plans",
        "do you support SAML single sign-on?",
        "why was I charged twice",
        "how?",
        "can you do that?",
    ]);
}

#[test]
fn requests_ask_something() {
    assert_asks(&[
        "please cancel my subscription",
        "I want to export all my data",
        "I'd like a refund",
        "I need to change the billing email",
        "send me a copy of the March invoice",
        "upgrade us to the annual plan",
        "refund",
        "invoice",
    ]);
}

#[test]
fn problem_statements_ask_something() {
    assert_asks(&[
        "my invoice is wrong",
        "I can't log in",
        "i cant log in",
        "it doesn't work",
        "that didn't help",
        "the export keeps timing out",
        "we were charged twice this month",
        "2FA codes are not arriving",
        "the dashboard is blank since this morning",
        "SSO login fails with an error",
        "nothing happens when I click save",
    ]);
}

#[test]
fn a_greeting_or_thanks_before_a_question_still_asks() {
    assert_asks(&[
        "hi, I can't log in",
        "Hello! How do I add a teammate?",
        "thanks, but it still fails",
        "ok, and how do I rotate my API key?",
        "great, one more thing: where are the webhooks settings?",
        "thanks! also my invoice shows the wrong VAT number",
    ]);
}
