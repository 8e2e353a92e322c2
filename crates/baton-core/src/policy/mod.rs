//! The escalation policy: the operator's rules that turn a turn's signals into a decision,
//! and choose the team a handoff goes to.
//!
//! A policy is a TOML file (its content hash is its version; see `docs/POLICY.md` for every
//! key). [`Policy::decide`] is a pure function of the turn's signals, the customer's segment
//! and a clock value, so `baton analyze`, back-tests and the server decide alike.
//!
//! ```
//! use baton_core::policy::{CustomerContext, Policy};
//! use baton_core::signals::{SignalEngine, Turn, TurnSignals};
//!
//! let policy = Policy::parse(r#"
//!     [thresholds]
//!     confidence = 0.4
//!
//!     [[segments]]
//!     name = "enterprise"
//!     match.tier = ["enterprise"]
//!     thresholds.frustration = 0.3
//! "#).unwrap();
//! let signals = SignalEngine::default()
//!     .compute(&[Turn::customer("I want to talk to a real person")])
//!     .unwrap();
//! let turn = TurnSignals { signals, ..Default::default() };
//! let decision = policy.decide(&turn, &CustomerContext::default(), "2026-03-02T10:00:00Z".parse().unwrap(), None);
//! assert!(decision.escalates());
//! assert_eq!(decision.triggers[0].kind.as_str(), "explicit_request");
//! ```

mod file;
pub mod schedule;

use std::fmt::Write as _;

use chrono::{DateTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::customer::Account;
use crate::decision::{Action, Decision, Trigger, TriggerKind};
use crate::handoff::Priority;
use crate::signals::{Taxonomy, TurnSignals};
pub use schedule::Schedule;

/// A policy file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct PolicyError {
    /// 1-based line of the file the problem is on, when it is on one.
    pub line: Option<usize>,
    pub message: String,
}

/// Thresholds for the triggers. A trigger fires when the turn's value crosses its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Explicit request for a person: score at or above.
    pub explicit_request: f64,
    /// Frustration over the conversation: at or above.
    pub frustration: f64,
    /// Sentiment of the turn on its own: at or below.
    pub sentiment: f64,
    /// Answer confidence on a turn that asks something: below.
    pub confidence: f64,
    /// Loop score: at or above.
    #[serde(rename = "loop")]
    pub looping: f64,
    /// Issue-type score from which an always-human issue type counts.
    pub issue_type: f64,
    /// Triggers turned off.
    pub off: Vec<TriggerKind>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            explicit_request: 0.6,
            frustration: 0.6,
            sentiment: -0.75,
            confidence: 0.3,
            looping: 0.6,
            issue_type: 0.5,
            off: Vec::new(),
        }
    }
}

/// Thresholds a segment sets; the others stay as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThresholdOverrides {
    pub explicit_request: Option<f64>,
    pub frustration: Option<f64>,
    pub sentiment: Option<f64>,
    pub confidence: Option<f64>,
    #[serde(rename = "loop")]
    pub looping: Option<f64>,
    pub issue_type: Option<f64>,
    pub off: Vec<TriggerKind>,
}

impl ThresholdOverrides {
    fn apply(&self, base: &Thresholds) -> Thresholds {
        let mut off = base.off.clone();
        for k in &self.off {
            if !off.contains(k) {
                off.push(*k);
            }
        }
        Thresholds {
            explicit_request: self.explicit_request.unwrap_or(base.explicit_request),
            frustration: self.frustration.unwrap_or(base.frustration),
            sentiment: self.sentiment.unwrap_or(base.sentiment),
            confidence: self.confidence.unwrap_or(base.confidence),
            looping: self.looping.unwrap_or(base.looping),
            issue_type: self.issue_type.unwrap_or(base.issue_type),
            off,
        }
    }

    fn sets(&self, key: &str) -> bool {
        match key {
            "explicit_request" => self.explicit_request.is_some(),
            "frustration" => self.frustration.is_some(),
            "sentiment" => self.sentiment.is_some(),
            "confidence" => self.confidence.is_some(),
            "loop" => self.looping.is_some(),
            "issue_type" => self.issue_type.is_some(),
            _ => false,
        }
    }
}

/// Customer age in days, inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AgeRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// An account attribute that must equal one of `values`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttrMatch {
    pub key: String,
    pub values: Vec<String>,
}

/// Inside or outside the support organisation's business hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursMatch {
    Business,
    AfterHours,
}

/// A local time-of-day window in minutes since midnight; `from > to` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeWindow {
    pub from: u32,
    pub to: u32,
}

impl TimeWindow {
    fn contains(&self, minute: u32) -> bool {
        if self.from < self.to {
            self.from <= minute && minute < self.to
        } else {
            minute >= self.from || minute < self.to
        }
    }
}

/// What a segment or routing rule matches. Every condition given must hold; an empty match
/// matches everyone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    pub tier: Vec<String>,
    pub issue_type: Vec<String>,
    pub customer_age_days: Option<AgeRange>,
    pub attrs: Vec<AttrMatch>,
    pub hours: Option<HoursMatch>,
    pub time: Option<TimeWindow>,
    pub days: Vec<Weekday>,
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
}

fn serialize_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Default for Match {
    fn default() -> Self {
        Match {
            tier: Vec::new(),
            issue_type: Vec::new(),
            customer_age_days: None,
            attrs: Vec::new(),
            hours: None,
            time: None,
            days: Vec::new(),
            timezone: Tz::UTC,
        }
    }
}

impl Match {
    /// Whether the customer, the issue type and the time satisfy every condition.
    pub fn matches(
        &self,
        customer: &CustomerContext,
        issue_type: &str,
        now: DateTime<Utc>,
        business_hours: Option<&Schedule>,
    ) -> bool {
        if !self.tier.is_empty() {
            match &customer.tier {
                Some(t) if self.tier.iter().any(|x| x.eq_ignore_ascii_case(t)) => {}
                _ => return false,
            }
        }
        if !self.issue_type.is_empty() && !self.issue_type.iter().any(|t| t == issue_type) {
            return false;
        }
        if let Some(range) = &self.customer_age_days {
            let Some(age) = customer.customer_age_days else {
                return false;
            };
            if range.min.is_some_and(|m| age < m) || range.max.is_some_and(|m| age > m) {
                return false;
            }
        }
        for a in &self.attrs {
            let Some(v) = customer.attrs.get(&a.key) else {
                return false;
            };
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !a.values.iter().any(|x| x.eq_ignore_ascii_case(&text)) {
                return false;
            }
        }
        if let Some(h) = self.hours {
            let open = business_hours.is_none_or(|s| s.is_open(now));
            if open != (h == HoursMatch::Business) {
                return false;
            }
        }
        if self.time.is_some() || !self.days.is_empty() {
            let (day, minute) = Schedule::local_day_and_minute(self.timezone, now);
            if !self.days.is_empty() && !self.days.contains(&day) {
                return false;
            }
            if let Some(w) = &self.time
                && !w.contains(minute)
            {
                return false;
            }
        }
        true
    }
}

/// A group of customers (or times, or issue types) with thresholds of its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub name: String,
    /// Higher wins when several segments set the same threshold; equal priorities go to the
    /// segment written later in the file.
    pub priority: i32,
    /// Position in the file.
    pub order: usize,
    #[serde(rename = "match")]
    pub matcher: Match,
    pub thresholds: ThresholdOverrides,
    /// Issue types that always go to a person for this segment, on top of the policy's.
    pub always_human: Vec<String>,
}

/// A team of people that handoffs are routed to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Team {
    pub name: String,
    /// How customers see it named ("Billing").
    pub display_name: String,
    /// The issue types it handles (empty: any).
    pub skills: Vec<String>,
    /// The tiers it serves, lowercase (empty: every tier).
    pub tiers: Vec<String>,
    /// When it works (none: always).
    pub hours: Option<Schedule>,
    /// Where its handoffs go when it is closed or has nobody.
    pub overflow: Option<String>,
    /// How long a handoff may wait for the team before its priority rises and the
    /// supervisors are alerted (none: the server's default).
    #[serde(
        rename = "wait_target_minutes",
        skip_serializing_if = "Option::is_none",
        serialize_with = "minutes"
    )]
    pub wait_target: Option<std::time::Duration>,
    /// One offer at a time per agent, or up to their capacity at once.
    pub offers: crate::routing::OfferMode,
}

/// A duration as a number of minutes (how policy files write it).
fn minutes<S: serde::Serializer>(
    value: &Option<std::time::Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => serializer.serialize_f64(d.as_secs_f64() / 60.0),
        None => serializer.serialize_none(),
    }
}

impl Team {
    /// Whether the team is working at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.hours.as_ref().is_none_or(|h| h.is_open(now))
    }

    /// When the team next works (`now` when it works now).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.hours {
            Some(h) => h.next_open(now),
            None => Some(now),
        }
    }

    fn handles(&self, issue_type: &str, tier: Option<&str>) -> bool {
        (self.skills.is_empty() || self.skills.iter().any(|s| s == issue_type))
            && (self.tiers.is_empty()
                || tier.is_some_and(|t| self.tiers.iter().any(|x| x.eq_ignore_ascii_case(t))))
    }
}

/// A routing rule: handoffs that match go to `team` with `priority`. The first matching rule
/// wins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingRule {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: Match,
    pub team: String,
    pub priority: Priority,
}

/// Where a handoff goes, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// The team chosen (`None` only when the policy declares no team at all).
    pub team: Option<String>,
    pub priority: Priority,
    /// The routing rule that chose it, if one did.
    pub rule: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Who the customer is, as segments see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CustomerContext {
    pub tier: Option<String>,
    /// Days since the account (or the customer) signed up.
    pub customer_age_days: Option<i64>,
    /// The account's free attributes (plan, region, seats, ...).
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

impl CustomerContext {
    /// The context of a customer of `account` (if known) at `now`; the customer's own first
    /// appearance stands in for a missing signup date.
    pub fn of(
        account: Option<&Account>,
        first_seen: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let signup = account.and_then(|a| a.signup_at).or(first_seen);
        CustomerContext {
            tier: account.and_then(|a| a.tier.clone()),
            customer_age_days: signup.map(|s| (now - s).num_days().max(0)),
            attrs: account.map(|a| a.attrs.clone()).unwrap_or_default(),
        }
    }
}

/// A compiled, validated policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// The content hash of the file (`builtin` for the defaults).
    pub version: String,
    pub name: Option<String>,
    /// Default time zone of time-of-day rules and opening hours.
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
    pub thresholds: Thresholds,
    /// Issue types that always go to a person.
    pub always_human: Vec<String>,
    /// The support organisation's business hours (for `hours` in matches).
    pub business_hours: Option<Schedule>,
    pub segments: Vec<Segment>,
    pub teams: Vec<Team>,
    pub routing: Vec<RoutingRule>,
    pub default_team: Option<String>,
    /// The policy's own issue taxonomy (the built-in one when `None`).
    #[serde(skip)]
    pub taxonomy: Option<Taxonomy>,
}

/// The issue types that go to a person unless a policy says otherwise.
pub const DEFAULT_ALWAYS_HUMAN: &[&str] = &[
    "billing_dispute",
    "contract_renewal",
    "legal_compliance",
    "data_privacy",
    "cancellation",
];

/// The version of a policy file's text: the first 16 hex digits of its SHA-256.
pub fn content_version(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(16);
    for b in &digest[..8] {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

impl Default for Policy {
    fn default() -> Self {
        Self::builtin()
    }
}

/// Which triggers can be off, from which thresholds were set where.
struct Effective<'a> {
    thresholds: Thresholds,
    always_human: Vec<(&'a str, String)>,
    segments: Vec<&'a Segment>,
}

impl Effective<'_> {
    /// The policy key that set a threshold: the last matching segment to set it, or the
    /// policy's defaults.
    fn rule(&self, key: &str) -> String {
        self.segments
            .iter()
            .rev()
            .find(|s| s.thresholds.sets(key))
            .map_or_else(
                || format!("thresholds.{key}"),
                |s| format!("segments.{}.thresholds.{key}", s.name),
            )
    }

    fn on(&self, kind: TriggerKind) -> bool {
        !self.thresholds.off.contains(&kind)
    }
}

impl Policy {
    /// The built-in policy: default thresholds, the default always-human issue types, one
    /// `support` team that handles everything around the clock.
    pub fn builtin() -> Self {
        Policy {
            version: "builtin".into(),
            name: None,
            timezone: Tz::UTC,
            thresholds: Thresholds::default(),
            always_human: DEFAULT_ALWAYS_HUMAN.iter().map(|s| s.to_string()).collect(),
            business_hours: None,
            segments: Vec::new(),
            teams: vec![Team {
                name: "support".into(),
                display_name: "Support".into(),
                skills: Vec::new(),
                tiers: Vec::new(),
                hours: None,
                overflow: None,
                wait_target: None,
                offers: Default::default(),
            }],
            routing: Vec::new(),
            default_team: Some("support".into()),
            taxonomy: None,
        }
    }

    /// Reads and checks a policy file's text. Errors name the line.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut policy = file::parse(text)?;
        if policy.teams.is_empty() {
            let builtin = Self::builtin();
            policy.teams = builtin.teams;
            if policy.default_team.is_none() {
                policy.default_team = builtin.default_team;
            }
        }
        Ok(policy)
    }

    /// The segments that apply to this customer, issue type and time, lowest precedence first.
    pub fn matching_segments(
        &self,
        customer: &CustomerContext,
        issue_type: &str,
        now: DateTime<Utc>,
    ) -> Vec<&Segment> {
        let mut matched: Vec<&Segment> = self
            .segments
            .iter()
            .filter(|s| {
                s.matcher
                    .matches(customer, issue_type, now, self.business_hours.as_ref())
            })
            .collect();
        matched.sort_by_key(|s| (s.priority, s.order));
        matched
    }

    fn effective(
        &self,
        customer: &CustomerContext,
        issue_type: &str,
        now: DateTime<Utc>,
    ) -> Effective<'_> {
        let segments = self.matching_segments(customer, issue_type, now);
        let mut thresholds = self.thresholds.clone();
        let mut always_human: Vec<(&str, String)> = self
            .always_human
            .iter()
            .map(|t| (t.as_str(), format!("always_human.{t}")))
            .collect();
        for s in &segments {
            thresholds = s.thresholds.apply(&thresholds);
            for t in &s.always_human {
                if !always_human.iter().any(|(x, _)| x == t) {
                    always_human
                        .push((t.as_str(), format!("segments.{}.always_human.{t}", s.name)));
                }
            }
        }
        Effective {
            thresholds,
            always_human,
            segments,
        }
    }

    /// The decision for one customer turn: every trigger that fires, strongest reason first.
    /// An explicit request for a person always escalates; nothing else can cancel a trigger.
    pub fn decide(
        &self,
        turn: &TurnSignals,
        customer: &CustomerContext,
        now: DateTime<Utc>,
        kb_revision: Option<i64>,
    ) -> Decision {
        let s = &turn.signals;
        let label = s.issue_type.label.as_str();
        let eff = self.effective(customer, label, now);
        let t = &eff.thresholds;
        let mut triggers = Vec::new();

        let hr = &s.human_request;
        let asked_for_person = hr.detected && hr.score >= t.explicit_request;
        if asked_for_person {
            triggers.push(Trigger {
                kind: TriggerKind::ExplicitRequest,
                rule: eff.rule("explicit_request"),
                value: hr.score,
                threshold: Some(t.explicit_request),
                evidence: hr.evidence.clone(),
            });
        }
        if eff.on(TriggerKind::Policy)
            && let Some((_, rule)) = eff.always_human.iter().find(|(x, _)| *x == label)
            && s.issue_type.score >= t.issue_type
        {
            let mut evidence = vec![format!("issue type {label} ({:.2})", s.issue_type.score)];
            evidence.extend(s.issue_type.dispute_evidence.iter().cloned());
            triggers.push(Trigger {
                kind: TriggerKind::Policy,
                rule: rule.clone(),
                value: s.issue_type.score,
                threshold: Some(t.issue_type),
                evidence,
            });
        }
        if eff.on(TriggerKind::Sentiment) {
            if s.frustration >= t.frustration {
                let f = &s.frustration_factors;
                let mut evidence = s.sentiment_evidence.clone();
                evidence.push(format!(
                    "sentiment trend {}",
                    s.sentiment_trend
                        .iter()
                        .map(|x| format!("{x:+.2}"))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ));
                for (name, v) in [
                    ("trajectory", f.trajectory),
                    ("bursts", f.burst),
                    ("repetition", f.repetition),
                    ("reactions to answers", f.reactions),
                ] {
                    if v >= 0.3 {
                        evidence.push(format!("{name} {v:.2}"));
                    }
                }
                triggers.push(Trigger {
                    kind: TriggerKind::Sentiment,
                    rule: eff.rule("frustration"),
                    value: s.frustration,
                    threshold: Some(t.frustration),
                    evidence,
                });
            } else if s.sentiment <= t.sentiment && s.feeling {
                // A problem described plainly reads as negative but is why the customer came.
                triggers.push(Trigger {
                    kind: TriggerKind::Sentiment,
                    rule: eff.rule("sentiment"),
                    value: s.sentiment,
                    threshold: Some(t.sentiment),
                    evidence: s.sentiment_evidence.clone(),
                });
            }
        }
        if eff.on(TriggerKind::Loop) && s.looping.score >= t.looping {
            triggers.push(Trigger {
                kind: TriggerKind::Loop,
                rule: eff.rule("loop"),
                value: s.looping.score,
                threshold: Some(t.looping),
                evidence: s.looping.reasons.clone(),
            });
        }
        // A turn that asks for a person is not put to the knowledge base: how well an article
        // would have matched it says nothing about why it goes to a person.
        if eff.on(TriggerKind::Confidence)
            && !asked_for_person
            && turn.question
            && let Some(c) = turn.confidence
            && c < t.confidence
        {
            let evidence = match turn.top_articles.first() {
                Some(a) => vec![format!("best article: {} ({})", a.title, a.id)],
                None => vec!["no article matches".to_string()],
            };
            triggers.push(Trigger {
                kind: TriggerKind::Confidence,
                rule: eff.rule("confidence"),
                value: c,
                threshold: Some(t.confidence),
                evidence,
            });
        }

        let segments: Vec<String> = eff.segments.iter().map(|s| s.name.clone()).collect();
        let mut decision = Decision {
            action: if triggers.is_empty() {
                Action::Answer
            } else {
                Action::Escalate
            },
            triggers,
            explanation: String::new(),
            policy_version: self.version.clone(),
            kb_revision,
            segments,
        };
        decision.explanation = explain(&decision, turn, t);
        decision
    }

    /// Adds a trigger raised after the decision (the responder failed, or the model says a
    /// person is needed): the decision becomes `escalate`. Triggers are only ever added.
    pub fn add_trigger(&self, decision: &mut Decision, trigger: Trigger, turn: &TurnSignals) {
        decision.triggers.push(trigger);
        decision.action = Action::Escalate;
        decision.explanation = explain(decision, turn, &self.thresholds);
    }

    /// Chooses the team and priority for a handoff: the first routing rule that matches;
    /// otherwise the first team whose skills and tiers cover the issue; otherwise the
    /// default team.
    pub fn route(&self, issue_type: &str, customer: &CustomerContext, now: DateTime<Utc>) -> Route {
        for rule in &self.routing {
            if rule
                .matcher
                .matches(customer, issue_type, now, self.business_hours.as_ref())
            {
                return Route {
                    team: Some(rule.team.clone()),
                    priority: rule.priority,
                    rule: Some(rule.name.clone()),
                    reason: format!(
                        "routing rule `{}` sends {issue_type}{} to {}",
                        rule.name,
                        customer
                            .tier
                            .as_deref()
                            .map(|t| format!(" for {t} customers"))
                            .unwrap_or_default(),
                        rule.team
                    ),
                };
            }
        }
        if let Some(team) = self
            .teams
            .iter()
            .find(|t| !t.skills.is_empty() && t.handles(issue_type, customer.tier.as_deref()))
        {
            return Route {
                team: Some(team.name.clone()),
                priority: Priority::Normal,
                rule: None,
                reason: format!("team {} has the skill {issue_type}", team.name),
            };
        }
        if let Some(team) = &self.default_team {
            return Route {
                team: Some(team.clone()),
                priority: Priority::Normal,
                rule: None,
                reason: format!("no rule or skill matches {issue_type}: the default team {team}"),
            };
        }
        match self
            .teams
            .iter()
            .find(|t| t.handles(issue_type, customer.tier.as_deref()))
        {
            Some(team) => Route {
                team: Some(team.name.clone()),
                priority: Priority::Normal,
                rule: None,
                reason: format!("team {} takes every issue type", team.name),
            },
            None => Route {
                team: None,
                priority: Priority::Normal,
                rule: None,
                reason: "the policy declares no team that can take this".into(),
            },
        }
    }

    /// The team called `name`.
    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    /// The taxonomy the policy asks for (its own, or the built-in one).
    pub fn taxonomy(&self) -> Taxonomy {
        self.taxonomy.clone().unwrap_or_else(Taxonomy::builtin)
    }
}

/// One sentence saying why.
fn explain(decision: &Decision, turn: &TurnSignals, t: &Thresholds) -> String {
    let segment = if decision.segments.is_empty() {
        String::new()
    } else {
        format!(" (segment {})", decision.segments.join(", "))
    };
    if decision.triggers.is_empty() {
        let s = &turn.signals;
        let confidence = match turn.confidence {
            Some(c) => format!("confidence {c:.2} (threshold {:.2})", t.confidence),
            None if turn.question => "no knowledge base to judge confidence".to_string(),
            None => "the turn asks nothing".to_string(),
        };
        return format!(
            "The AI answers: no trigger fired ({confidence}, frustration {:.2}, issue type {}){segment}.",
            s.frustration, s.issue_type.label
        );
    }
    let reasons: Vec<String> = decision.triggers.iter().map(describe).collect();
    format!("Escalated: {}{segment}.", reasons.join("; "))
}

fn describe(t: &Trigger) -> String {
    let th = t.threshold.map(|x| format!("{x:.2}")).unwrap_or_default();
    let first = t
        .evidence
        .first()
        .map(|e| format!(" (\"{e}\")"))
        .unwrap_or_default();
    match t.kind {
        TriggerKind::ExplicitRequest => format!("the customer asked for a person{first}"),
        TriggerKind::Policy => {
            let label = t.rule.rsplit('.').next().unwrap_or(&t.rule);
            format!(
                "{label} always goes to a person (issue-type score {:.2} ≥ {th})",
                t.value
            )
        }
        TriggerKind::Sentiment if t.rule.ends_with("frustration") => {
            format!("frustration {:.2} ≥ {th}", t.value)
        }
        TriggerKind::Sentiment => format!("very negative turn, sentiment {:.2} ≤ {th}", t.value),
        TriggerKind::Loop => format!(
            "the conversation is going in circles (loop {:.2} ≥ {th})",
            t.value
        ),
        TriggerKind::Confidence => {
            format!("the AI is not confident (confidence {:.2} < {th})", t.value)
        }
        TriggerKind::AiError => format!("the AI could not answer{first}"),
        TriggerKind::AgentRequest => format!("the AI asked for a person{first}"),
    }
}

#[cfg(test)]
mod tests;
