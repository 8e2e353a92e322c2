//! The issue-type taxonomy: the kinds of request a support team tells apart, each with a
//! description, example utterances and optional keywords. Operators define their own in the
//! policy file (TOML or JSON); [`Taxonomy::builtin`] is a default for B2B SaaS support.

use serde::{Deserialize, Serialize};

use super::SignalError;

/// The label used when no issue type fits well enough.
pub const OTHER: &str = "other";

/// One kind of issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueTypeDef {
    /// Identifier used in policies and output, e.g. `billing_dispute`.
    pub name: String,
    /// What belongs here, in words for the people maintaining the taxonomy.
    #[serde(default)]
    pub description: String,
    /// Customer messages of this type; the classifier learns from them.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Words or phrases that point strongly to this type ("chargeback", "SOC 2").
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// A set of issue types and how to fall back when none fits.
///
/// ```
/// use baton_core::signals::taxonomy::Taxonomy;
///
/// let taxonomy: Taxonomy = serde_json::from_str(r#"{
///     "types": [
///         {"name": "refund", "examples": ["I want my money back", "refund please"]},
///         {"name": "how_to", "examples": ["how do I export a report?"], "keywords": ["how do i"]}
///     ]
/// }"#).unwrap();
/// assert_eq!(taxonomy.fallback, "other");
/// taxonomy.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// The issue types (also accepted as `issue_types`).
    #[serde(alias = "issue_types")]
    pub types: Vec<IssueTypeDef>,
    /// Label returned when the best type scores below `min_score`.
    #[serde(default = "default_fallback")]
    pub fallback: String,
    /// Probability the best type needs to be returned instead of `fallback`.
    #[serde(default = "default_min_score")]
    pub min_score: f64,
}

fn default_fallback() -> String {
    OTHER.to_string()
}

fn default_min_score() -> f64 {
    0.15
}

impl Taxonomy {
    /// A taxonomy with the given labels and no examples (for training on labelled data);
    /// the fallback is never used.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = labels.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        Taxonomy {
            types: names
                .into_iter()
                .map(|n| IssueTypeDef {
                    name: n.to_string(),
                    description: String::new(),
                    examples: Vec::new(),
                    keywords: Vec::new(),
                })
                .collect(),
            fallback: default_fallback(),
            min_score: 0.0,
        }
    }

    /// Checks that names are unique and non-empty and that `min_score` is a probability.
    pub fn validate(&self) -> Result<(), SignalError> {
        if self.types.is_empty() {
            return Err(SignalError::Taxonomy("it defines no issue type".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.types {
            if t.name.trim().is_empty() {
                return Err(SignalError::Taxonomy(
                    "an issue type has an empty name".into(),
                ));
            }
            if !seen.insert(t.name.as_str()) {
                return Err(SignalError::Taxonomy(format!(
                    "issue type `{}` is defined twice",
                    t.name
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(SignalError::Taxonomy(format!(
                "min_score must be between 0 and 1, not {}",
                self.min_score
            )));
        }
        Ok(())
    }

    /// The index of the type called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.name == name)
    }

    /// The built-in taxonomy for B2B SaaS support.
    pub fn builtin() -> Self {
        let types = BUILTIN
            .iter()
            .map(|(name, description, examples, keywords)| IssueTypeDef {
                name: (*name).to_string(),
                description: (*description).to_string(),
                examples: examples.iter().map(|e| (*e).to_string()).collect(),
                keywords: keywords.iter().map(|k| (*k).to_string()).collect(),
            })
            .collect();
        Taxonomy {
            types,
            fallback: default_fallback(),
            min_score: default_min_score(),
        }
    }
}

impl Default for Taxonomy {
    fn default() -> Self {
        Self::builtin()
    }
}

type BuiltinType = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const BUILTIN: &[BuiltinType] = &[
    (
        "billing_question",
        "Routine questions about invoices, payment methods, billing details and billing cycles.",
        &[
            "Where can I find my invoices?",
            "Can I get a copy of last month's invoice?",
            "How do I update the credit card on file?",
            "When will we be billed for the next period?",
            "Can you add our VAT number to the invoices?",
            "How do I change the billing email address?",
            "What payment methods do you accept?",
            "Can we pay by bank transfer instead of card?",
            "Why does my invoice show a prorated amount?",
            "How is the per-seat amount on my bill calculated?",
            "Can I download all our invoices as PDF?",
            "Do you send a receipt after each payment?",
            "I need to change the company address on our invoices",
            "When does our billing cycle start?",
            "Is sales tax included in the invoice total?",
            "Can I switch from monthly to annual billing?",
            "Our card payment failed, how do I retry it?",
            "Who do I contact about a purchase order number on the invoice?",
        ],
        &[
            "invoice",
            "receipt",
            "billing",
            "payment method",
            "credit card",
        ],
    ),
    (
        "billing_dispute",
        "The customer contests a charge: double charges, unauthorised or wrong amounts.",
        &[
            "I was charged twice this month",
            "There's a charge on my card that I didn't authorize",
            "You billed us the wrong amount",
            "Why was I charged after I cancelled?",
            "We were overcharged for seats we don't use",
            "This invoice is wrong, we never agreed to this price",
            "I want to dispute this charge",
            "You charged my card without permission",
            "The amount on the invoice doesn't match our contract",
            "We got billed for the enterprise plan but we are on pro",
            "Double charge on our account, fix it now",
            "I see an unexpected charge on my statement from you",
            "Why did you charge us for 50 users when we only have 10?",
            "You keep charging us even though we downgraded",
            "This charge is fraudulent and I will file a chargeback",
            "Stop charging my card, I never signed up for this",
        ],
        &[
            "chargeback",
            "charged twice",
            "double charged",
            "overcharged",
            "unauthorized charge",
        ],
    ),
    (
        "refund",
        "Requests for money back and questions about refunds already asked for.",
        &[
            "I'd like a refund for this month",
            "Can I get my money back?",
            "How long does a refund take to show up?",
            "Please refund the duplicate payment",
            "We want a refund for the unused part of our annual plan",
            "Where is my refund?",
            "Can we get a refund if we cancel within 30 days?",
            "Can you reverse the last payment?",
            "I asked for a refund a week ago and still haven't received it",
            "What is your refund policy?",
            "Refund the upgrade please, it was a mistake",
            "Can we get a credit for the days the service was down?",
            "I need a reimbursement for the extra seats",
            "Could you issue a partial refund?",
        ],
        &["refund", "money back", "reimburse"],
    ),
    (
        "cancellation",
        "Cancelling, downgrading or closing an account or subscription.",
        &[
            "How do I cancel my subscription?",
            "I want to cancel our account",
            "Please close my account and stop billing me",
            "We are leaving, how do we cancel?",
            "Cancel my plan at the end of the month",
            "How do I downgrade to the free plan?",
            "I want to unsubscribe from the paid plan",
            "We decided to switch to another tool, please cancel us",
            "Stop my subscription",
            "Is there a fee for cancelling early?",
            "Can I pause my subscription instead of cancelling?",
            "Terminate our account effective immediately",
            "What happens to our data if we cancel?",
            "How do I close my workspace for good?",
        ],
        &["cancel", "cancellation", "unsubscribe", "downgrade"],
    ),
    (
        "contract_renewal",
        "Contracts, renewals, order forms, terms and multi-year agreements.",
        &[
            "Our contract is up for renewal next month",
            "Can we renew for another year at the same price?",
            "Please turn off auto-renewal for our plan",
            "When does our annual contract end?",
            "We need a quote for renewing with 20 more seats",
            "Can we change the terms of our renewal?",
            "Please send me the renewal order form",
            "We'd like to sign a two-year agreement",
            "Who is our account manager for the renewal?",
            "Can the new seats co-terminate with our existing contract?",
            "What is the notice period for not renewing?",
            "Our procurement team needs the renewal paperwork",
            "Is there a multi-year discount if we renew now?",
            "We need to amend our master services agreement before renewing",
        ],
        &["renewal", "renew", "contract", "order form", "auto-renew"],
    ),
    (
        "pricing",
        "Prices, plans, tiers, discounts, trials and quotes before buying.",
        &[
            "How much does the pro plan cost?",
            "What's the difference between the pro and enterprise plans?",
            "Do you offer discounts for nonprofits?",
            "Is there a free trial?",
            "How much is an extra seat?",
            "Do you have pricing for startups?",
            "What does the enterprise tier include?",
            "Is the price per user or per workspace?",
            "Can I get a quote for 200 users?",
            "Are there volume discounts?",
            "How much would the analytics add-on cost?",
            "Is annual pricing cheaper than monthly?",
            "Which plan includes single sign-on?",
            "Do you have an education discount?",
            "What are your plans and prices?",
        ],
        &[
            "pricing",
            "price",
            "how much",
            "cost",
            "plans",
            "discount",
            "free trial",
        ],
    ),
    (
        "account_access",
        "Logging in: passwords, two-factor codes, locked or suspended accounts, invitations.",
        &[
            "I can't log in",
            "I forgot my password",
            "The password reset email never arrives",
            "My account is locked",
            "The two-factor code isn't accepted",
            "I lost my phone and can't get my 2FA code",
            "How do I reset my password?",
            "I'm not receiving the verification email",
            "Our admin left the company, how do we regain access to the workspace?",
            "It says my email is not registered",
            "I got logged out and can't sign back in",
            "How do I change the email address I log in with?",
            "The invite link expired and I can't join my team's workspace",
            "My account was suspended, why can't I access it?",
            "Login keeps saying invalid credentials",
        ],
        &[
            "password",
            "log in",
            "login",
            "sign in",
            "2fa",
            "two-factor",
            "locked out",
        ],
    ),
    (
        "data_privacy",
        "Personal data requests: access, deletion, retention, storage location, use of data.",
        &[
            "Please delete all my personal data",
            "I want a copy of all the data you hold about me",
            "How do I submit a GDPR data subject request?",
            "Where is our data stored?",
            "Do you sell our data to third parties?",
            "How long do you keep customer data?",
            "Remove my email address from your systems",
            "Who at your company can see our data?",
            "I want to exercise my right to be forgotten",
            "Is our data used to train your AI models?",
            "Can we have our data hosted in the EU?",
            "How do you handle personal information?",
            "Erase my account data under the CCPA",
            "Do you encrypt our data at rest?",
        ],
        &[
            "gdpr",
            "personal data",
            "ccpa",
            "right to be forgotten",
            "data deletion",
            "privacy",
        ],
    ),
    (
        "legal_compliance",
        "Legal and compliance: agreements, certifications, audits, legal notices.",
        &[
            "Can you sign our data processing agreement?",
            "Are you SOC 2 compliant?",
            "We need your ISO 27001 certificate",
            "Please fill in our security questionnaire",
            "Are you HIPAA compliant?",
            "We received a subpoena about one of your users",
            "Our lawyer needs to review your terms of service",
            "Is there a list of your subprocessors?",
            "Do you comply with the EU AI Act?",
            "We need a signed business associate agreement",
            "What is the liability cap in your MSA?",
            "This is a legal notice about copyright infringement",
            "Can we get your latest penetration test report?",
            "Does your product meet WCAG accessibility requirements?",
        ],
        &[
            "soc 2",
            "iso 27001",
            "hipaa",
            "dpa",
            "legal",
            "lawyer",
            "compliance",
            "subpoena",
        ],
    ),
    (
        "technical_bug",
        "Something in the product behaves wrongly for this customer: errors, crashes, wrong data.",
        &[
            "The export button does nothing",
            "I get a 500 error when saving a report",
            "The dashboard won't load",
            "The app crashes when I upload a file",
            "Charts show the wrong numbers since yesterday",
            "Search returns no results even though the record exists",
            "Notifications stopped working",
            "The page is stuck on loading",
            "I keep getting an error message saying something went wrong",
            "Duplicate entries appear after the import",
            "The mobile app freezes on startup",
            "The CSV export is missing columns",
            "Emails from your system are not being delivered",
            "Timestamps are off by one hour",
            "The editor loses my changes when I click save",
            "It is still broken after the update",
        ],
        &["bug", "error", "crash", "broken", "not working", "glitch"],
    ),
    (
        "integration",
        "Connecting other tools: the API, webhooks, SSO/SCIM, Slack, Salesforce and friends.",
        &[
            "How do I connect Salesforce?",
            "The Slack integration stopped posting messages",
            "Our webhook isn't receiving events",
            "Where do I find my API key?",
            "The API returns 401 unauthorized",
            "How do I set up SSO with Okta?",
            "Our Zapier zap fails with a timeout",
            "Can you integrate with HubSpot?",
            "What is the API rate limit?",
            "The Google Calendar sync is not working",
            "How do I authenticate against the REST API?",
            "Is there a Jira integration?",
            "SCIM provisioning from Azure AD fails",
            "Do you have a webhook for new signups?",
            "The Microsoft Teams app can't connect to our workspace",
        ],
        &[
            "api",
            "webhook",
            "integration",
            "sso",
            "scim",
            "zapier",
            "slack",
            "salesforce",
        ],
    ),
    (
        "how_to",
        "How to use the product: where a setting is, how to do a task.",
        &[
            "How do I export my data to CSV?",
            "How can I add a new user to my team?",
            "Where do I change the notification settings?",
            "How do I create a report?",
            "Can I customize the dashboard?",
            "How do I set up a recurring task?",
            "Where can I change my profile picture?",
            "How do I import contacts from a spreadsheet?",
            "Is there a keyboard shortcut for search?",
            "How do I give someone admin rights?",
            "How can I change the language of the interface?",
            "Where do I find the audit log?",
            "How do I archive a project?",
            "Can I schedule a report to be emailed every week?",
            "How do I rename my workspace?",
        ],
        &["how do i", "how can i", "where do i", "how to"],
    ),
    (
        "feature_request",
        "Suggestions and requests for capabilities the product does not have.",
        &[
            "It would be great if you supported dark mode",
            "Please add an option to export to Excel",
            "Could you add support for hardware security keys?",
            "We'd love a native Linux app",
            "Feature request: bulk edit for tasks",
            "Any plans to support custom fields?",
            "I wish the calendar had a week view",
            "Could you add a Spanish translation?",
            "Please let us set different permissions per project",
            "Do you have a public roadmap?",
            "Will you ever support offline mode?",
            "Suggestion: allow recurring invoices",
            "It would help a lot if reports could be scheduled",
            "We need an API endpoint for deleting users, please build one",
        ],
        &[
            "feature request",
            "would be great",
            "would be nice",
            "roadmap",
            "suggestion",
            "i wish",
        ],
    ),
    (
        "outage",
        "The service is down or degraded for many users at once.",
        &[
            "Is the service down?",
            "Nothing loads for anyone on our team",
            "Your site is down",
            "Are you having an outage?",
            "Everything is very slow for all our users right now",
            "We're getting 503 errors across the whole app",
            "Is there an incident going on?",
            "The app is not reachable from any network",
            "Login is down for our entire company",
            "Is there a status page?",
            "The API is completely unavailable",
            "All our integrations stopped at the same time",
            "The whole platform seems to be offline",
            "Is there maintenance going on right now?",
            "None of our users can access the app",
        ],
        &["outage", "down", "status page", "incident", "offline"],
    ),
    (
        OTHER,
        "Greetings, thanks and small talk that carry no issue of their own.",
        &[
            "hello",
            "hi there",
            "good morning",
            "thanks",
            "thank you so much",
            "ok",
            "who are you?",
            "test",
            "bye",
            "have a nice day",
        ],
        &[],
    ),
];
