//! Briefs built from realistic conversations: a billing dispute, an SSO error with a page
//! trail, an anonymous visitor who only wants a person.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::signals::{HumanRequest, IssueTypeSignal, Signals, TurnSignals};
use crate::{Action, ConversationState, TriggerKind};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A conversation timeline, built event by event with `seq` from 1.
struct Timeline {
    start: DateTime<Utc>,
    events: Vec<Event>,
}

impl Timeline {
    fn new(start: &str) -> Self {
        Timeline {
            start: t(start),
            events: Vec::new(),
        }
    }

    /// Appends an event `minute` minutes after the start; returns its `seq`.
    fn push(&mut self, minute: i64, body: EventBody) -> i64 {
        let seq = self.events.len() as i64 + 1;
        self.events.push(Event {
            seq,
            at: self.start + Duration::minutes(minute),
            body,
        });
        seq
    }

    fn message(&mut self, minute: i64, role: Role, text: &str, page: Option<&str>) -> i64 {
        self.push(
            minute,
            EventBody::Message {
                role,
                text: text.into(),
                client_msg_id: None,
                author: None,
                page: page.map(|url| PageContext {
                    url: Some(url.into()),
                    title: None,
                    referrer: None,
                }),
                articles: Vec::new(),
                choices: Vec::new(),
                handover: None,
            },
        )
    }

    fn customer(&mut self, minute: i64, text: &str, page: Option<&str>) -> i64 {
        self.message(minute, Role::Customer, text, page)
    }

    /// An AI answer citing `article`, with its `ai_reply`.
    fn ai(&mut self, minute: i64, text: &str, article: (&str, &str), confidence: f64) -> i64 {
        let seq = self.push(
            minute,
            EventBody::Message {
                role: Role::Ai,
                text: text.into(),
                client_msg_id: None,
                author: None,
                page: None,
                articles: vec![ArticleLink {
                    id: article.0.into(),
                    title: article.1.into(),
                    url: None,
                }],
                choices: Vec::new(),
                handover: None,
            },
        );
        self.push(
            minute,
            EventBody::AiReply {
                message_seq: seq,
                kind: "answer".into(),
                responder: "builtin".into(),
                confidence: Some(confidence),
                model_confidence: None,
                articles: vec![ScoredArticle {
                    id: article.0.into(),
                    title: article.1.into(),
                    score: 7.5,
                }],
                reasoning: "best article above the answer threshold".into(),
                needs_human: None,
                ai_error: None,
                model: None,
                latency_ms: 12,
            },
        );
        seq
    }

    fn decision(
        &mut self,
        minute: i64,
        message_seq: i64,
        decision: &Decision,
        signals: TurnSignals,
    ) {
        self.push(
            minute,
            EventBody::Decision {
                message_seq,
                decision: Box::new(decision.clone()),
                signals: Box::new(signals),
            },
        );
    }

    fn page(
        &mut self,
        minute: i64,
        kind: PageEventKind,
        url: &str,
        label: Option<&str>,
        detail: Option<&str>,
    ) {
        self.push(
            minute,
            EventBody::PageEvent {
                kind,
                url: Some(url.into()),
                label: label.map(Into::into),
                detail: detail.map(Into::into),
                occurred_at: Some(self.start + Duration::minutes(minute) - Duration::seconds(5)),
            },
        );
    }
}

fn answer() -> Decision {
    Decision {
        action: Action::Answer,
        triggers: Vec::new(),
        explanation: "The AI answers: no trigger fired.".into(),
        policy_version: "builtin".into(),
        kb_revision: Some(4),
        segments: Vec::new(),
    }
}

fn escalate(triggers: Vec<Trigger>, explanation: &str) -> Decision {
    Decision {
        action: Action::Escalate,
        triggers,
        explanation: explanation.into(),
        policy_version: "builtin".into(),
        kb_revision: Some(4),
        segments: vec!["enterprise".into()],
    }
}

fn trigger(
    kind: TriggerKind,
    rule: &str,
    value: f64,
    threshold: Option<f64>,
    evidence: &[&str],
) -> Trigger {
    Trigger {
        kind,
        rule: rule.into(),
        value,
        threshold,
        evidence: evidence.iter().map(|e| e.to_string()).collect(),
    }
}

fn signals(sentiment: f64, frustration: f64, issue: &str) -> TurnSignals {
    TurnSignals {
        signals: Signals {
            sentiment,
            frustration,
            issue_type: IssueTypeSignal {
                label: issue.into(),
                score: 0.81,
                ..IssueTypeSignal::default()
            },
            ..Signals::default()
        },
        question: true,
        confidence: Some(0.4),
        top_articles: Vec::new(),
    }
}

fn conversation(id: &str, start: &str, page: Option<&str>) -> Conversation {
    Conversation {
        id: id.into(),
        customer_id: "cus_1".into(),
        state: ConversationState::WaitingHuman,
        page: page.map(|url| PageContext {
            url: Some(url.into()),
            title: None,
            referrer: None,
        }),
        last_seq: 0,
        created_at: t(start),
        updated_at: t(start),
    }
}

fn customer(name: Option<&str>, external_id: Option<&str>, created_at: &str) -> Customer {
    Customer {
        id: "cus_1".into(),
        external_id: external_id.map(Into::into),
        name: name.map(Into::into),
        email: name.map(|n| {
            format!(
                "{}@acme.io",
                n.split(' ').next().unwrap_or("x").to_lowercase()
            )
        }),
        account_id: None,
        created_at: t(created_at),
    }
}

/// Dana at Acme (enterprise) was charged twice for one invoice; the AI's answer did not help
/// and she asks for a person.
struct BillingDispute {
    conversation: Conversation,
    customer: Customer,
    account: Account,
    timeline: Timeline,
    decision: Decision,
    signals: TurnSignals,
}

fn billing_dispute() -> BillingDispute {
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    tl.push(
        0,
        EventBody::ConversationStarted {
            page: Some(PageContext {
                url: Some("https://app.acme.io/billing".into()),
                title: Some("Billing".into()),
                referrer: None,
            }),
        },
    );
    tl.page(
        0,
        PageEventKind::PageView,
        "https://app.acme.io/billing/invoices",
        Some("Invoices"),
        None,
    );
    let first = tl.customer(
        1,
        "Hi there, I was charged $1,200.00 twice for invoice INV-2024-0012 on March 2. Can you check?",
        Some("https://app.acme.io/billing/invoices"),
    );
    tl.decision(1, first, &answer(), signals(-0.2, 0.1, "billing_question"));
    tl.ai(
        1,
        "Sorry about that! Go to Billing → Invoices and open the invoice to see each payment. Duplicate payments are refunded automatically within 5 days.",
        ("kb-duplicate-charges", "Duplicate charges and refunds"),
        0.62,
    );
    tl.page(
        2,
        PageEventKind::Click,
        "https://app.acme.io/billing/invoices/INV-2024-0012",
        Some("Payments"),
        None,
    );
    let second = tl.customer(
        3,
        "I already checked the invoice page, both payments of $1,200.00 are there. That didn't help.",
        Some("https://app.acme.io/billing/invoices/INV-2024-0012"),
    );
    tl.decision(3, second, &answer(), signals(-0.45, 0.4, "billing_dispute"));
    tl.ai(
        3,
        "Refunds for duplicate payments can take up to 5 business days. You can download a receipt from the invoice page.",
        ("kb-refund-timing", "When will I get my refund?"),
        0.41,
    );
    let third = tl.customer(
        4,
        "This is ridiculous. I want to talk to a real person now.",
        Some("https://app.acme.io/billing/invoices/INV-2024-0012"),
    );
    let decision = escalate(
        vec![
            trigger(
                TriggerKind::ExplicitRequest,
                "explicit_request",
                0.95,
                Some(0.6),
                &["talk to a real person"],
            ),
            trigger(
                TriggerKind::Policy,
                "always_human.billing_dispute",
                1.0,
                None,
                &["charged twice"],
            ),
        ],
        "The customer asked for a person, and billing disputes always go to a person.",
    );
    let mut escalating = signals(-0.72, 0.68, "billing_dispute");
    escalating.signals.human_request = HumanRequest {
        detected: true,
        score: 0.95,
        evidence: vec!["talk to a real person".into()],
        ..HumanRequest::default()
    };
    tl.decision(4, third, &decision, escalating.clone());

    let mut attrs = serde_json::Map::new();
    attrs.insert("plan".into(), "Scale".into());
    attrs.insert("seats".into(), 45.into());
    BillingDispute {
        conversation: conversation(
            "conv_billing",
            "2026-03-02T10:00:00Z",
            Some("https://app.acme.io/billing"),
        ),
        customer: customer(Some("Dana Reyes"), Some("u_881"), "2025-11-20T09:00:00Z"),
        account: Account {
            id: "acc_acme".into(),
            name: Some("Acme Corp".into()),
            tier: Some("enterprise".into()),
            signup_at: Some(t("2025-01-15T00:00:00Z")),
            owner: Some("Priya Shah".into()),
            attrs,
        },
        timeline: tl,
        decision,
        signals: escalating,
    }
}

impl BillingDispute {
    fn brief(&self, summary: Option<&str>) -> Brief {
        Brief::build(&BriefInput {
            conversation: &self.conversation,
            customer: &self.customer,
            account: Some(&self.account),
            events: &self.timeline.events,
            decision: &self.decision,
            signals: Some(&self.signals),
            summary,
            now: t("2026-03-02T10:05:00Z"),
        })
    }
}

#[test]
fn billing_dispute_brief_says_why_what_and_who() {
    let case = billing_dispute();
    let brief = case.brief(None);

    assert_eq!(brief.schema, "brief.v1");
    assert_eq!(brief.conversation_id, "conv_billing");
    // Why: both triggers, with their evidence, and the explanation.
    let kinds: Vec<TriggerKind> = brief.why.triggers.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        vec![TriggerKind::ExplicitRequest, TriggerKind::Policy]
    );
    assert_eq!(
        brief.why.triggers[0].evidence,
        vec!["talk to a real person"]
    );
    assert!(brief.why.explanation.contains("billing disputes"));
    assert_eq!(brief.why.message_seq, Some(12));

    // What the customer needs: the charge, in her words, not the request for a person.
    assert!(
        brief.needs.contains("charged $1,200.00 twice"),
        "{}",
        brief.needs
    );
    assert!(brief.needs.contains("INV-2024-0012"));
    assert!(!brief.needs.contains("real person"));
    assert!(!brief.needs.starts_with("Hi"));
    assert_eq!(brief.summary.source, SummarySource::Extractive);
    assert!(brief.summary.text.contains("INV-2024-0012"));
    assert_eq!(
        brief.issue_type.as_ref().map(|i| i.label.as_str()),
        Some("billing_dispute")
    );

    // Who: account, tier, plan from the account's attributes, owner, age from the signup.
    let account = brief.account.as_ref().unwrap();
    assert_eq!(account.tier.as_deref(), Some("enterprise"));
    assert_eq!(account.plan.as_deref(), Some("Scale"));
    assert_eq!(account.owner.as_deref(), Some("Priya Shah"));
    assert_eq!(account.attrs.get("seats"), Some(&serde_json::json!(45)));
    assert_eq!(brief.customer.age_days, Some(411));
    assert!(!brief.customer.anonymous);
}

#[test]
fn billing_dispute_entities_are_found_once_each() {
    let brief = billing_dispute().brief(None);
    let found: Vec<(EntityKind, &str)> = brief
        .entities
        .iter()
        .map(|e| (e.kind, e.value.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (EntityKind::Amount, "USD 1200.00"),
            (EntityKind::Invoice, "INV-2024-0012"),
            (EntityKind::Date, "--03-02"),
        ]
    );
    let invoice = &brief.entities[1];
    assert_eq!(invoice.text, "INV-2024-0012");
    assert_eq!(invoice.seq, 3, "first seen in the first customer message");
}

#[test]
fn billing_dispute_records_what_was_tried_and_how_it_landed() {
    let brief = billing_dispute().brief(None);

    let tried: Vec<&str> = brief
        .actions
        .customer
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    assert_eq!(
        tried,
        vec!["I already checked the invoice page, both payments of $1,200.00 are there."]
    );

    let suggestions = &brief.actions.ai_suggestions;
    assert_eq!(suggestions.len(), 2);
    assert_eq!(
        suggestions[0].instruction,
        "Go to Billing → Invoices and open the invoice to see each payment."
    );
    assert_eq!(
        suggestions[0].article.as_ref().map(|a| a.id.as_str()),
        Some("kb-duplicate-charges")
    );
    assert_eq!(suggestions[0].reaction, Reaction::Negative);
    assert_eq!(
        suggestions[0].reaction_sentiment,
        Some(-0.45),
        "from the stored decision"
    );
    assert_eq!(
        suggestions[1].instruction,
        "You can download a receipt from the invoice page."
    );
    assert_eq!(suggestions[1].reaction, Reaction::Negative);

    let confidences: Vec<Option<f64>> = brief.ai_attempts.iter().map(|a| a.confidence).collect();
    assert_eq!(confidences, vec![Some(0.62), Some(0.41)]);
    assert_eq!(brief.ai_attempts[0].kind, "answer");
    assert_eq!(
        brief.ai_attempts[0].considered[0].id,
        "kb-duplicate-charges"
    );

    let trend: Vec<(f64, SentimentSource)> = brief
        .sentiment_trend
        .iter()
        .map(|p| (p.sentiment, p.source))
        .collect();
    assert_eq!(
        trend,
        vec![
            (-0.2, SentimentSource::Decision),
            (-0.45, SentimentSource::Decision),
            (-0.72, SentimentSource::Decision),
        ]
    );
    assert_eq!(brief.sentiment_trend[2].frustration, Some(0.68));
}

#[test]
fn billing_dispute_page_trail_and_transcript() {
    let brief = billing_dispute().brief(None);
    assert_eq!(brief.pages.steps.len(), 2);
    assert_eq!(brief.pages.steps[1].kind, PageEventKind::Click);
    assert_eq!(
        brief.pages.steps[1].at,
        t("2026-03-02T10:01:55Z"),
        "browser time"
    );
    assert_eq!(brief.pages.message_pages.len(), 3);
    assert_eq!(
        brief.pages.current.as_ref().and_then(|p| p.url.as_deref()),
        Some("https://app.acme.io/billing/invoices/INV-2024-0012")
    );

    let roles: Vec<Role> = brief.transcript.iter().map(|l| l.role).collect();
    assert_eq!(
        roles,
        vec![
            Role::Customer,
            Role::Ai,
            Role::Customer,
            Role::Ai,
            Role::Customer
        ]
    );
    // Staff-only reasoning and decisions are not part of the transcript.
    assert!(
        brief
            .transcript
            .iter()
            .all(|l| !l.text.contains("answer threshold"))
    );
}

#[test]
fn opening_line_greets_by_name_and_names_the_issue() {
    let brief = billing_dispute().brief(None);
    let line = &brief.opening_line;
    assert!(line.starts_with("Hi Dana, thanks for waiting."), "{line}");
    assert!(
        line.contains("I can see you were charged $1,200.00 twice for invoice INV-2024-0012"),
        "{line}"
    );
    assert!(
        line.contains("you already checked the invoice page"),
        "{line}"
    );
    assert!(line.contains("taking it from here"));
    assert!(!line.to_lowercase().contains("how can i help"));
}

#[test]
fn rendering_reads_why_needs_who_tried_then_details() {
    let brief = billing_dispute().brief(None);
    let text = render_text(&brief);
    let position = |label: &str| {
        text.find(label)
            .unwrap_or_else(|| panic!("{label} missing:\n{text}"))
    };
    assert!(position("**Why:**") < position("**Needs:**"));
    assert!(position("**Needs:**") < position("**Who:**"));
    assert!(position("**Who:**") < position("**Tried:**"));
    assert!(position("**Tried:**") < position("Transcript"));
    // Why reads as sentences; the rules that fired are a detail further down.
    assert!(
        text.starts_with(
            "**Why:** asked for a person: \u{201c}I want to talk to a real person now.\u{201d}; \
             disputes a charge\n"
        ),
        "{text}"
    );
    assert!(text.contains("- Rules: explicit_request 0.95 ≥ 0.60 · always_human.billing_dispute"));
    assert!(text.contains(
        "- Summary: Disputes a charge: charged $1,200.00 twice for invoice INV-2024-0012 on March 2."
    ));
    assert!(text.contains("Dana Reyes <dana@acme.io> · Acme Corp · enterprise · plan Scale · owner Priya Shah · customer for 411 days"));
    assert!(text.contains("amount USD 1200.00 · invoice INV-2024-0012 · date March 2"));
    assert!(text.contains("did not help"));
    assert!(text.contains("-0.20 → -0.45 → -0.72"));
    // Five seconds: the head is five short lines.
    let head: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(head.len(), 5);
}

#[test]
fn a_language_model_summary_replaces_the_extractive_one() {
    let case = billing_dispute();
    let brief = case.brief(Some(
        "Customer was double-charged $1,200 on INV-2024-0012 and wants a refund.",
    ));
    assert_eq!(brief.summary.source, SummarySource::Llm);
    assert!(
        brief
            .summary
            .text
            .starts_with("Customer was double-charged")
    );
    assert!(render_text(&brief).contains("Summary: Customer was double-charged"));
    // An empty model summary is no summary.
    assert_eq!(
        case.brief(Some("  ")).summary.source,
        SummarySource::Extractive
    );
}

#[test]
fn the_brief_is_a_pure_function_of_its_input_and_round_trips_as_json() {
    let case = billing_dispute();
    let a = case.brief(None);
    let b = case.brief(None);
    assert_eq!(a, b);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["schema"], "brief.v1");
    assert_eq!(json["actions"]["ai_suggestions"][0]["reaction"], "negative");
    assert_eq!(json["entities"][0]["kind"], "amount");
    let back: Brief = serde_json::from_value(json).unwrap();
    assert_eq!(back, a);
}

/// Sam's team cannot sign in with SSO; the widget reported a dozen page events, among them
/// the error page. No stored decisions for the earlier turns.
fn sso_error() -> (Conversation, Customer, Account, Timeline, Decision) {
    let mut tl = Timeline::new("2026-03-02T08:00:00Z");
    for i in 0..10 {
        tl.page(
            i,
            PageEventKind::PageView,
            &format!("https://app.globex.io/docs/{i}"),
            None,
            None,
        );
    }
    tl.page(
        10,
        PageEventKind::PageView,
        "https://app.globex.io/login",
        Some("Sign in"),
        None,
    );
    tl.page(
        10,
        PageEventKind::Error,
        "https://app.globex.io/login/sso",
        Some("SSO sign-in failed"),
        Some("ERR_SSO_401: SAML assertion rejected"),
    );
    tl.customer(
        11,
        "Our team can't log in with SSO since this morning. We get ERR_SSO_401 on the login page.",
        Some("https://app.globex.io/login/sso"),
    );
    tl.ai(
        11,
        "SSO errors usually mean the identity provider certificate changed. To fix it, go to Settings → Security and re-upload your IdP certificate.",
        ("kb-sso-cert", "Fixing SSO sign-in errors"),
        0.55,
    );
    tl.page(
        13,
        PageEventKind::Action,
        "https://app.globex.io/settings/security",
        Some("Upload certificate"),
        None,
    );
    let last = tl.customer(
        14,
        "Tried resetting it twice, still not working and now the page shows HTTP 500!!",
        Some("https://app.globex.io/settings/security"),
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::Sentiment,
            "segments.pro.frustration",
            0.71,
            Some(0.6),
            &["still not working"],
        )],
        "Frustration 0.71 crossed the threshold 0.60 for pro accounts.",
    );
    tl.decision(14, last, &decision, signals(-0.6, 0.71, "login_sso"));
    let account = Account {
        id: "acc_globex".into(),
        name: Some("Globex".into()),
        tier: Some("pro".into()),
        signup_at: None,
        owner: None,
        attrs: serde_json::Map::new(),
    };
    (
        conversation("conv_sso", "2026-03-02T08:10:00Z", None),
        customer(Some("Sam Lee"), Some("u_42"), "2026-02-20T08:00:00Z"),
        account,
        tl,
        decision,
    )
}

#[test]
fn sso_error_brief_has_error_codes_and_the_page_trail() {
    let (conversation, customer, account, tl, decision) = sso_error();
    let brief = Brief::build(&BriefInput {
        conversation: &conversation,
        customer: &customer,
        account: Some(&account),
        events: &tl.events,
        decision: &decision,
        signals: None,
        summary: None,
        now: t("2026-03-02T08:15:00Z"),
    });

    let codes: Vec<(&str, i64)> = brief
        .entities
        .iter()
        .filter(|e| e.kind == EntityKind::ErrorCode)
        .map(|e| (e.value.as_str(), e.seq))
        .collect();
    // ERR_SSO_401 first appeared on the error page (seq 12), before the customer typed it.
    assert_eq!(codes, vec![("ERR_SSO_401", 12), ("HTTP 500", 17)]);

    // The last ten page events, the three before them counted.
    assert_eq!(brief.pages.steps.len(), PAGE_TRAIL_LEN);
    assert_eq!(brief.pages.earlier_steps, 3);
    let last = brief.pages.steps.last().unwrap();
    assert_eq!(last.kind, PageEventKind::Action);
    assert_eq!(last.label.as_deref(), Some("Upload certificate"));
    assert_eq!(
        brief.pages.current.as_ref().and_then(|p| p.url.as_deref()),
        Some("https://app.globex.io/settings/security"),
        "the page of the last message"
    );

    // No account signup: the customer's age comes from when they were first seen.
    assert_eq!(brief.customer.age_days, Some(10));
    assert_eq!(brief.account.as_ref().and_then(|a| a.plan.as_deref()), None);

    assert!(
        brief.needs.contains("can't log in with SSO"),
        "{}",
        brief.needs
    );
    assert!(
        brief.needs.contains("ERR_SSO_401"),
        "short first sentence gets the next: {}",
        brief.needs
    );
    assert_eq!(
        brief.issue_type.as_ref().map(|i| i.label.as_str()),
        Some("login_sso")
    );

    let tried: Vec<&str> = brief
        .actions
        .customer
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    assert_eq!(
        tried,
        vec!["Tried resetting it twice, still not working and now the page shows HTTP 500!!"]
    );
    let suggestion = &brief.actions.ai_suggestions[0];
    assert_eq!(
        suggestion.instruction,
        "To fix it, go to Settings → Security and re-upload your IdP certificate."
    );
    assert_eq!(suggestion.reaction, Reaction::Negative);

    // Earlier turns had no stored decision: their sentiment is computed.
    let sources: Vec<SentimentSource> = brief.sentiment_trend.iter().map(|p| p.source).collect();
    assert_eq!(
        sources,
        vec![SentimentSource::Computed, SentimentSource::Decision]
    );

    let line = &brief.opening_line;
    assert!(line.starts_with("Hi Sam, thanks for waiting."), "{line}");
    assert!(
        line.contains("I can see your team can't log in with SSO since this morning"),
        "{line}"
    );
    assert!(
        line.contains("and that you tried resetting it twice"),
        "{line}"
    );

    let text = render_text(&brief);
    assert!(
        text.contains(
            "**Why:** is getting frustrated (sentiment fell from slightly negative to very \
             negative): \u{201c}still not working\u{201d}"
        ),
        "{text}"
    );
    assert!(text.contains("- Rules: segments.pro.frustration 0.71 ≥ 0.60"));
    assert!(text.contains("(3 earlier)"));
    assert!(
        text.contains("08:09 /login → 08:09 error SSO sign-in failed"),
        "{text}"
    );
    assert!(text.contains("error SSO sign-in failed"));
}

#[test]
fn anonymous_visitor_who_only_asks_for_a_person() {
    let mut tl = Timeline::new("2026-03-02T22:00:00Z");
    tl.customer(0, "hello?", Some("https://acme.io/pricing"));
    let last = tl.customer(1, "human please", Some("https://acme.io/pricing"));
    let decision = escalate(
        vec![trigger(
            TriggerKind::ExplicitRequest,
            "explicit_request",
            0.9,
            Some(0.6),
            &["human please"],
        )],
        "The customer asked for a person.",
    );
    let conversation = conversation(
        "conv_anon",
        "2026-03-02T22:00:00Z",
        Some("https://acme.io/pricing"),
    );
    let visitor = customer(None, None, "2026-03-02T22:00:00Z");
    let brief = Brief::build(&BriefInput {
        conversation: &conversation,
        customer: &visitor,
        account: None,
        events: &tl.events,
        decision: &decision,
        signals: None,
        summary: None,
        now: t("2026-03-02T22:01:30Z"),
    });

    assert!(brief.customer.anonymous);
    assert_eq!(brief.customer.name, None);
    assert_eq!(brief.account, None);
    assert_eq!(brief.customer.age_days, Some(0));
    assert_eq!(
        brief.why.message_seq,
        Some(last),
        "the last customer message"
    );
    assert!(brief.needs.starts_with("Not stated"), "{}", brief.needs);
    assert!(brief.entities.is_empty());
    assert!(brief.actions.customer.is_empty() && brief.actions.ai_suggestions.is_empty());
    assert!(brief.ai_attempts.is_empty());
    assert_eq!(brief.issue_type, None);
    assert_eq!(brief.sentiment_trend.len(), 2);
    assert_eq!(
        brief.pages.current.as_ref().and_then(|p| p.url.as_deref()),
        Some("https://acme.io/pricing")
    );
    assert_eq!(
        brief.opening_line,
        "Hi there, thanks for waiting. I've read your conversation with our assistant. \
         I'm taking it from here, so you won't need to repeat anything."
    );
    let text = render_text(&brief);
    assert!(text.contains("**Who:** Unknown visitor · not signed in · first seen less than a day"));
    assert!(text.contains("**Tried:** nothing yet"));
}

#[test]
fn a_question_is_quoted_rather_than_rewritten() {
    let mut tl = Timeline::new("2026-03-02T12:00:00Z");
    let seq = tl.customer(
        0,
        "How do I move my invoices to another workspace? I need a person for this.",
        None,
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::ExplicitRequest,
            "explicit_request",
            0.8,
            Some(0.6),
            &["need a person"],
        )],
        "The customer asked for a person.",
    );
    let conversation = conversation("conv_q", "2026-03-02T12:00:00Z", None);
    let someone = customer(Some("Ana"), Some("u_7"), "2024-06-01T00:00:00Z");
    let brief = Brief::build(&BriefInput {
        conversation: &conversation,
        customer: &someone,
        account: None,
        events: &tl.events,
        decision: &decision,
        signals: None,
        summary: None,
        now: t("2026-03-02T12:01:00Z"),
    });
    assert_eq!(brief.why.message_seq, Some(seq));
    assert_eq!(
        brief.needs,
        "How do I move my invoices to another workspace?"
    );
    assert_eq!(
        brief.opening_line,
        "Hi Ana, thanks for waiting. I've read your message: \u{201c}How do I move my invoices to \
         another workspace?\u{201d} I'm taking it from here, so you won't need to repeat anything."
    );
}

/// Builds a brief for a timeline of the tests below, at ten minutes past its start.
fn brief_of(
    tl: &Timeline,
    decision: &Decision,
    signals: Option<&TurnSignals>,
    name: Option<&str>,
) -> Brief {
    let conversation = conversation("conv_t", "2026-03-02T10:00:00Z", None);
    let someone = customer(name, Some("u_9"), "2025-06-01T00:00:00Z");
    Brief::build(&BriefInput {
        conversation: &conversation,
        customer: &someone,
        account: None,
        events: &tl.events,
        decision,
        signals,
        summary: None,
        now: tl.start + Duration::minutes(10),
    })
}

fn sentences_of(brief: &Brief) -> Vec<&str> {
    brief
        .why
        .reasons
        .iter()
        .map(|r| r.sentence.as_str())
        .collect()
}

#[test]
fn why_reads_as_sentences_not_rule_ids() {
    let brief = billing_dispute().brief(None);
    assert_eq!(
        sentences_of(&brief),
        vec![
            "asked for a person: \u{201c}I want to talk to a real person now.\u{201d}",
            "disputes a charge",
        ]
    );
    // The rule ids stay, as detail, and the triggers are untouched.
    let rules: Vec<&str> = brief.why.reasons.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec!["explicit_request", "always_human.billing_dispute"]
    );
    assert_eq!(brief.why.reasons[1].kind, TriggerKind::Policy);
    assert_eq!(brief.why.triggers, billing_dispute().decision.triggers);
    let json = serde_json::to_value(&brief).unwrap();
    assert_eq!(json["why"]["reasons"][1]["sentence"], "disputes a charge");
    assert_eq!(json["why"]["reasons"][1]["kind"], "policy");
}

#[test]
fn every_trigger_kind_reads_as_a_sentence_in_support_words() {
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    tl.customer(
        0,
        "How do I reset my password? The reset email never arrives.",
        None,
    );
    tl.ai(
        0,
        "To reset your password, click Forgot password on the sign-in page and follow the email.",
        ("kb-reset", "Resetting your password"),
        0.61,
    );
    tl.customer(
        2,
        "I did, the email never arrives. How do I reset my password?",
        None,
    );
    tl.ai(
        2,
        "To reset your password, click Forgot password on the sign-in page and follow the email.",
        ("kb-reset", "Resetting your password"),
        0.58,
    );
    let last = tl.customer(
        4,
        "Again: the reset email never arrives! I want to cancel my subscription. Can I talk to someone?",
        None,
    );
    let decision = escalate(
        vec![
            trigger(
                TriggerKind::ExplicitRequest,
                "explicit_request",
                0.9,
                Some(0.6),
                &["talk to someone"],
            ),
            trigger(
                TriggerKind::Policy,
                "segments.enterprise.always_human.cancellation",
                0.77,
                Some(0.5),
                &["issue type cancellation (0.77)"],
            ),
            trigger(
                TriggerKind::Sentiment,
                "thresholds.frustration",
                0.7,
                Some(0.6),
                &["never arrives", "sentiment trend +0.00 → -0.30 → -0.65"],
            ),
            trigger(
                TriggerKind::Loop,
                "thresholds.loop",
                0.9,
                Some(0.6),
                &["AI served the same article 2 times (kb-reset)"],
            ),
            trigger(
                TriggerKind::AiError,
                "responder.on_failure",
                1.0,
                None,
                &["the model did not answer within 20 s"],
            ),
            trigger(
                TriggerKind::AgentRequest,
                "responder.needs_human",
                1.0,
                None,
                &["the customer wants to cancel a contract"],
            ),
        ],
        "Escalated.",
    );
    let mut escalating = signals(-0.65, 0.7, "cancellation");
    escalating.signals.looping.rephrase_similarity = 0.74;
    escalating.signals.sentiment_evidence = vec!["never arrives".into()];
    tl.decision(4, last, &decision, escalating.clone());
    let brief = brief_of(&tl, &decision, Some(&escalating), Some("Kim Ode"));

    let why = sentences_of(&brief);
    assert_eq!(
        why[0],
        "asked for a person: \u{201c}Can I talk to someone?\u{201d}"
    );
    assert_eq!(why[1], "wants to cancel");
    assert!(
        why[2].starts_with("is getting frustrated (sentiment fell from "),
        "{}",
        why[2]
    );
    assert!(
        why[2].ends_with("very negative): \u{201c}never arrives\u{201d}"),
        "{}",
        why[2]
    );
    assert_eq!(
        why[3],
        "the conversation was going in circles: the AI served \u{201c}Resetting your \
         password\u{201d} twice, and the customer asked again (\u{201c}Again: the reset email \
         never arrives!\u{201d})"
    );
    assert_eq!(
        why[4],
        "the AI could not answer: the model did not answer within 20 s"
    );
    assert_eq!(
        why[5],
        "the AI asked for a person: the customer wants to cancel a contract"
    );
    for sentence in why {
        assert!(!sentence.contains('_'), "a rule id in {sentence:?}");
        assert!(!sentence.contains(" ≥ "), "a threshold in {sentence:?}");
    }
}

#[test]
fn the_ai_not_being_sure_names_the_closest_article_and_the_question() {
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    let seq = tl.customer(
        0,
        "Hi! Can I pay invoice INV-88 in EUR instead of USD? Our finance team asks.",
        None,
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::Confidence,
            "thresholds.confidence",
            0.22,
            Some(0.45),
            &["best article: Currencies and exchange rates (kb-currencies)"],
        )],
        "Escalated: the AI is not confident.",
    );
    let mut read = signals(0.0, 0.0, "billing_question");
    read.confidence = Some(0.22);
    read.top_articles = vec![ScoredArticle {
        id: "kb-currencies".into(),
        title: "Currencies and exchange rates".into(),
        score: 3.1,
    }];
    tl.decision(0, seq, &decision, read.clone());
    let brief = brief_of(&tl, &decision, Some(&read), None);
    assert_eq!(
        sentences_of(&brief),
        vec![
            "the AI was not sure: the closest article, \u{201c}Currencies and exchange \
             rates\u{201d}, does not cover \u{201c}Can I pay invoice INV-88 in EUR instead of \
             USD?\u{201d}"
        ]
    );

    read.top_articles.clear();
    let brief = brief_of(&tl, &decision, Some(&read), None);
    assert_eq!(
        sentences_of(&brief),
        vec![
            "the AI was not sure: no article came close to \u{201c}Can I pay invoice INV-88 in \
             EUR instead of USD?\u{201d}"
        ]
    );
}

#[test]
fn summary_states_the_request() {
    // Not the customer's messages strung together: the dispute, what happened, the invoice.
    let brief = billing_dispute().brief(None);
    assert_eq!(
        brief.summary.text,
        "Disputes a charge: charged $1,200.00 twice for invoice INV-2024-0012 on March 2."
    );
    assert!(!brief.summary.text.contains("Can you check"));
    assert!(!brief.summary.text.contains("ridiculous"));

    // A refund: the issue type says what they want, the invoice comes from a later message.
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    tl.customer(
        0,
        "Hi there! We were charged twice on 3 March for the same seats.",
        None,
    );
    tl.ai(
        0,
        "Duplicate payments are refunded automatically within 5 business days.",
        ("kb-duplicate-charges", "Duplicate charges and refunds"),
        0.52,
    );
    let last = tl.customer(
        2,
        "Invoice INV-2041 shows both payments. Please refund one of them, this is the second time I ask.",
        None,
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::Sentiment,
            "thresholds.frustration",
            0.64,
            Some(0.6),
            &["second time"],
        )],
        "Escalated: frustration.",
    );
    let read = signals(-0.5, 0.64, "refund");
    tl.decision(2, last, &decision, read.clone());
    let brief = brief_of(&tl, &decision, Some(&read), Some("Ivo Petrov"));
    assert_eq!(
        brief.summary.text,
        "Wants a refund for invoice INV-2041: charged twice on 3 March for the same seats."
    );
    assert_eq!(brief.summary.source, SummarySource::Extractive);

    // A question is what they ask; a customer who never said is not made to say something.
    let mut tl = Timeline::new("2026-03-02T12:00:00Z");
    tl.customer(
        0,
        "How do I move my invoices to another workspace? I need a person for this.",
        None,
    );
    let asked = escalate(
        vec![trigger(
            TriggerKind::ExplicitRequest,
            "explicit_request",
            0.8,
            Some(0.6),
            &["need a person"],
        )],
        "The customer asked for a person.",
    );
    let brief = brief_of(&tl, &asked, None, Some("Ana"));
    assert_eq!(
        brief.summary.text,
        "Asks how to move their invoices to another workspace."
    );
    let mut tl = Timeline::new("2026-03-02T12:00:00Z");
    tl.customer(0, "human please", None);
    let brief = brief_of(&tl, &asked, None, None);
    assert_eq!(
        brief.summary.text,
        "The customer asked for a person without describing the issue."
    );
}

#[test]
fn opening_line_names_the_problem_and_what_was_tried() {
    let brief = billing_dispute().brief(None);
    assert_eq!(
        brief.opening_line,
        "Hi Dana, thanks for waiting. I can see you were charged $1,200.00 twice for invoice \
         INV-2024-0012 on March 2, and that you already checked the invoice page. The steps in \
         \u{201c}Duplicate charges and refunds\u{201d} didn't solve it either. I'm taking it \
         from here, so you won't need to repeat anything."
    );
}

/// Noor says hello, the AI answers the greeting with an article; then she describes the
/// export error, the AI's export article does not help and she asks for someone.
fn export_after_a_greeting() -> (Timeline, Decision, TurnSignals) {
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    tl.customer(0, "Hi!", None);
    tl.ai(
        0,
        "Welcome to Acme! To get started, open Settings and invite your team.",
        ("kb-getting-started", "Getting started with Acme"),
        0.21,
    );
    tl.customer(
        1,
        "My CSV export fails with error E1234 every time I click Export. This is so annoying.",
        None,
    );
    tl.ai(
        1,
        "Go to Reports → Export and choose CSV. Large exports are emailed to you when ready.",
        ("kb-export", "Exporting reports"),
        0.58,
    );
    let last = tl.customer(
        3,
        "That didn't help, same error again. Can I talk to someone?",
        None,
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::ExplicitRequest,
            "explicit_request",
            0.85,
            Some(0.6),
            &["talk to someone"],
        )],
        "The customer asked for a person.",
    );
    let read = signals(-0.4, 0.5, "technical_bug");
    tl.decision(3, last, &decision, read.clone());
    (tl, decision, read)
}

#[test]
fn an_article_served_for_a_greeting_is_not_named_in_the_opening() {
    let (tl, decision, read) = export_after_a_greeting();
    let brief = brief_of(&tl, &decision, Some(&read), Some("Noor Haddad"));
    assert_eq!(
        brief.opening_line,
        "Hi Noor, thanks for waiting. I can see your CSV export fails with error E1234 every \
         time you click Export, and that the steps in \u{201c}Exporting reports\u{201d} didn't \
         solve it. I'm taking it from here, so you won't need to repeat anything."
    );
    assert!(!brief.opening_line.contains("Getting started"));
    assert_eq!(
        brief.summary.text,
        "Reports something broken: their CSV export fails with error E1234 every time they \
         click Export."
    );
    assert_eq!(
        sentences_of(&brief),
        vec!["asked for a person: \u{201c}Can I talk to someone?\u{201d}"]
    );
}

#[test]
fn an_earlier_question_the_ai_settled_is_not_the_problem() {
    let mut tl = Timeline::new("2026-03-02T10:00:00Z");
    tl.customer(
        0,
        "How do I add two new users with admin rights to my workspace, give them access to the \
         quarterly reports and set up SSO for them?",
        None,
    );
    tl.ai(
        0,
        "Go to Settings → Members, click Invite and pick the Admin role.",
        ("kb-invite", "Inviting teammates"),
        0.83,
    );
    tl.customer(
        2,
        "Thanks, that worked! Our card was also charged $49.00 twice for invoice INV-2041 this month.",
        None,
    );
    tl.ai(
        2,
        "Duplicate payments are refunded automatically. You can see each payment on the invoice page.",
        ("kb-duplicate-charges", "Duplicate charges and refunds"),
        0.52,
    );
    let last = tl.customer(
        4,
        "Both payments are still on the invoice page a week later, that didn't help.",
        None,
    );
    let decision = escalate(
        vec![trigger(
            TriggerKind::Policy,
            "always_human.billing_dispute",
            0.82,
            Some(0.5),
            &["issue type billing_dispute (0.82)", "charged twice"],
        )],
        "Escalated: billing_dispute always goes to a person.",
    );
    let mut read = signals(-0.45, 0.4, "billing_dispute");
    read.signals.issue_type.dispute_evidence = vec!["charged twice".into()];
    tl.decision(4, last, &decision, read.clone());
    let brief = brief_of(&tl, &decision, Some(&read), Some("Priya Shah"));

    assert_eq!(
        brief.needs,
        "Our card was also charged $49.00 twice for invoice INV-2041 this month."
    );
    assert_eq!(
        brief.summary.text,
        "Disputes a charge: their card was also charged $49.00 twice for invoice INV-2041 this \
         month."
    );
    assert_eq!(
        sentences_of(&brief),
        vec!["disputes a charge (\u{201c}charged twice\u{201d})"]
    );
    let line = &brief.opening_line;
    assert!(!line.contains("Inviting teammates"), "{line}");
    assert!(!line.contains("add two new users"), "{line}");
    assert!(
        line.contains(
            "and that the steps in \u{201c}Duplicate charges and refunds\u{201d} didn't solve it."
        ),
        "{line}"
    );
}

#[test]
fn a_brief_stored_before_reasons_still_reads() {
    let brief = billing_dispute().brief(None);
    let mut json = serde_json::to_value(&brief).unwrap();
    json["why"].as_object_mut().unwrap().remove("reasons");
    let stored: Brief = serde_json::from_value(json).unwrap();
    assert!(stored.why.reasons.is_empty());
    // The rendering falls back to the triggers.
    let text = render_text(&stored);
    assert!(
        text.starts_with(
            "**Why:** explicit request 0.95 ≥ 0.60 \u{201c}talk to a real person\u{201d}"
        ),
        "{text}"
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Customer text as customers type it: words from a support vocabulary, identifiers,
    /// punctuation, emoji and any other character.
    fn customer_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "I",
                "we",
                "my",
                "you",
                "already",
                "tried",
                "cleared",
                "charged",
                "twice",
                "invoice",
                "#4411",
                "INV-2024-0012",
                "$1,200.00",
                "€49",
                "March",
                "2",
                "03/02/2026",
                "ERR_SSO_401",
                "HTTP",
                "500",
                "0x80070005",
                "a@b.io",
                "human",
                "please",
                "hi",
                "there",
                "?",
                "!",
                ".",
                ",",
                "\n",
                "—",
                "🙁",
                "ſ",
                "K",
            ])
            .prop_map(String::from),
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..25).prop_map(|p| p.join(" "))
    }

    proptest! {
        #[test]
        fn any_customer_text_gives_a_brief_without_panicking(
            texts in prop::collection::vec(customer_text(), 1..4),
            name in prop::option::of(any::<String>()),
        ) {
            let mut tl = Timeline::new("2026-03-02T10:00:00Z");
            for (i, text) in texts.iter().enumerate() {
                tl.customer(2 * i as i64, text, None);
                tl.ai(2 * i as i64 + 1, "Go to Settings and click Reset.", ("kb-1", "Reset"), 0.5);
            }
            let decision = escalate(Vec::new(), "The customer asked for a person.");
            let conversation = conversation("conv_p", "2026-03-02T10:00:00Z", None);
            let mut someone = customer(None, None, "2026-03-01T00:00:00Z");
            someone.name = name;
            let brief = Brief::build(&BriefInput {
                conversation: &conversation,
                customer: &someone,
                account: None,
                events: &tl.events,
                decision: &decision,
                signals: None,
                summary: None,
                now: t("2026-03-02T11:00:00Z"),
            });
            prop_assert_eq!(brief.schema.as_str(), SCHEMA);
            prop_assert!(brief.needs.chars().count() <= NEEDS_MAX_CHARS);
            prop_assert!(brief.opening_line.starts_with("Hi "));
            prop_assert!(!brief.opening_line.to_lowercase().contains("how can i help"));
            prop_assert_eq!(brief.transcript.len(), 2 * texts.len());
            prop_assert_eq!(brief.sentiment_trend.len(), texts.len());
            prop_assert!(!render_text(&brief).is_empty());
        }
    }
}
