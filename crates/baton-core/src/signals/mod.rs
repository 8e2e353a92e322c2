//! Signals: what Baton reads off each customer turn (sentiment, frustration, explicit request
//! for a human, issue type, loops). Pure functions of the timeline.
//!
//! Build a [`SignalEngine`] once (it trains the issue-type classifier from the taxonomy),
//! then call [`SignalEngine::compute`] with the conversation so far; it reads the last
//! customer turn in the light of the turns before it. [`SignalEngine::replay`] does the same
//! for every customer turn of a recorded conversation, reusing per-turn work.
//!
//! ```
//! use baton_core::signals::{SignalEngine, Turn};
//!
//! let engine = SignalEngine::default();
//! let turns = vec![
//!     Turn::customer("How do I export my invoices?"),
//!     Turn::ai("Go to Billing → Invoices and click Export.").with_articles(["kb-12"]),
//!     Turn::customer("That's not what I asked. I want a human, now!"),
//! ];
//! let signals = engine.compute(&turns).unwrap();
//! assert!(signals.human_request.detected);
//! assert!(signals.sentiment < 0.0);
//! ```

pub mod frustration;
pub mod human_request;
pub mod issue_type;
pub mod loops;
pub mod sentiment;
pub mod taxonomy;
pub mod text;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Role;
pub use frustration::FrustrationFactors;
pub use human_request::{HumanRequest, HumanRequestDetector};
use issue_type::{IssueClassifier, LabelledText};
pub use loops::LoopSignal;
pub use sentiment::SentimentModel;
use sentiment::{CueKind, SentimentReading};
pub use taxonomy::{IssueTypeDef, Taxonomy};
use text::{PhraseMatch, PhraseSet, SparseVec, content_shingles, fold, is_stopword, words};

/// Errors building a signal engine.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignalError {
    /// The taxonomy or its examples are unusable.
    #[error("invalid issue taxonomy: {0}")]
    Taxonomy(String),
    /// Labelled sentiment examples are unusable.
    #[error("invalid sentiment examples: {0}")]
    SentimentExamples(String),
}

/// One message of the timeline, as the signals see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Who wrote it.
    pub role: Role,
    /// What was written.
    pub text: String,
    /// When it was written, if known (used for bursts of customer messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Ids of the knowledge-base articles an AI turn served.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub articles: Vec<String>,
}

impl Turn {
    /// A message by `role`.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Turn {
            role,
            text: text.into(),
            at: None,
            articles: Vec::new(),
        }
    }

    /// A customer message.
    pub fn customer(text: impl Into<String>) -> Self {
        Self::new(Role::Customer, text)
    }

    /// An AI answer.
    pub fn ai(text: impl Into<String>) -> Self {
        Self::new(Role::Ai, text)
    }

    /// The same message, written at `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// The same AI message, having served these articles.
    pub fn with_articles<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.articles = ids.into_iter().map(Into::into).collect();
        self
    }
}

/// The issue type of a turn, as `baton analyze` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssueTypeSignal {
    /// The issue type (the taxonomy's fallback, `other` by default, when nothing fits).
    pub label: String,
    /// Probability of the best issue type in [0, 1].
    pub score: f64,
    /// The second-best issue type.
    pub runner_up: Option<String>,
    /// Probability of the runner-up.
    pub runner_up_score: f64,
    /// Dispute cues ("charged twice") that, with negative sentiment, made a billing
    /// question a billing dispute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dispute_evidence: Vec<String>,
}

/// Everything Baton reads off one customer turn (the fields of `signals` in `baton analyze`
/// that do not depend on the knowledge base).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Signals {
    /// Sentiment of this turn in [-1, 1].
    pub sentiment: f64,
    /// Frustration of the customer over the conversation so far, in [0, 1].
    pub frustration: f64,
    /// Explicit request for a person.
    pub human_request: HumanRequest,
    /// What kind of issue this is.
    pub issue_type: IssueTypeSignal,
    /// Whether the conversation is going round in circles.
    #[serde(rename = "loop")]
    pub looping: LoopSignal,
    /// Sentiment of the customer turns considered, oldest first (the last is this turn's).
    pub sentiment_trend: Vec<f64>,
    /// What frustration is made of.
    pub frustration_factors: FrustrationFactors,
    /// Support phrases behind the sentiment ("still not working", "third time").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentiment_evidence: Vec<String>,
    /// Whether this turn shows how the customer feels (words of emotion or judgement,
    /// shouting, "!!!", swearing, saying it was asked before or that an answer did not help)
    /// rather than only describing a problem.
    #[serde(default)]
    pub feeling: bool,
}

/// Everything read off one customer turn: the detectors' [`Signals`] together with the
/// knowledge base's view of it (does it ask something, how confident is the best article, which
/// articles). The `signals` object of `baton analyze` and of the stored `decision` events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnSignals {
    #[serde(flatten)]
    pub signals: Signals,
    /// Whether the turn asks for something (greetings and thanks do not).
    pub question: bool,
    /// Calibrated probability that the best article answers the turn; `null` when the turn
    /// asks nothing or there is no knowledge base.
    pub confidence: Option<f64>,
    /// The best articles, best first (empty when the turn asks nothing or there is no
    /// knowledge base).
    pub top_articles: Vec<crate::ScoredArticle>,
}

/// Tunable settings of the engine. The defaults suit a support chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalSettings {
    /// How many customer turns back the conversation-level signals look (keeps the cost of
    /// a turn bounded however long the conversation).
    pub window: usize,
    /// Weight of a customer turn one step older than the next in the frustration trajectory.
    pub frustration_decay: f64,
    /// Customer messages within this many seconds of the last one count as a burst.
    pub burst_window_secs: i64,
    /// Similarity from which a customer turn rephrases an earlier one.
    pub rephrase_similarity: f64,
    /// Similarity from which two AI answers count as the same answer.
    pub identical_answer_similarity: f64,
    /// AI turns without progress from which the conversation loops (0 turns it off).
    pub max_ai_turns_without_progress: u32,
    /// Sentiment below which dispute cues make a billing question a dispute.
    pub dispute_sentiment: f64,
    /// The issue type that dispute cues move from.
    pub dispute_from: String,
    /// The issue type that dispute cues move to.
    pub dispute_to: String,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            window: 4,
            frustration_decay: 0.6,
            burst_window_secs: 60,
            rephrase_similarity: 0.5,
            identical_answer_similarity: 0.8,
            max_ai_turns_without_progress: 3,
            dispute_sentiment: -0.05,
            dispute_from: "billing_question".into(),
            dispute_to: "billing_dispute".into(),
        }
    }
}

/// Per-turn work, done once per turn and reused across turns in [`SignalEngine::replay`].
pub(crate) enum Analysis {
    Customer(Box<CustomerAnalysis>),
    Ai(AiAnalysis),
}

pub(crate) struct CustomerAnalysis {
    pub(crate) reading: SentimentReading,
    pub(crate) vector: SparseVec,
    /// Linear issue-type scores (keyword boosts included, bias not).
    pub(crate) scores: Vec<f32>,
    pub(crate) content_words: usize,
    /// The turn uses words of emotion or judgement (see [`frustration::shows_feeling`]).
    pub(crate) feeling: bool,
}

impl CustomerAnalysis {
    /// The customer acknowledges that the answer worked.
    pub(crate) fn made_progress(&self) -> bool {
        self.reading.count(CueKind::Progress) > 0
            && self.reading.count(CueKind::NotHelped) == 0
            && self.reading.count(CueKind::Complaint) == 0
    }
}

pub(crate) struct AiAnalysis {
    pub(crate) shingles: SparseVec,
}

/// Phrases that contest a charge.
const DISPUTE_CUES: &[&str] = &[
    "charged|billed|charging|billing twice|double|again|wrong|incorrectly|more|extra",
    "charged|billed me|us twice|double|again|extra",
    "charged|billed for * we|i don't|didn't|never|dont|didnt",
    "charged|billed after|even|despite",
    "double charged|billed|charge|charges|payment|billing",
    "duplicate charge|charges|payment|payments",
    "overcharged|overbilled|overcharge|overcharging",
    "charged|billed * twice|double|again",
    "charged|billed * * twice|again",
    "didn't|didnt|never authorize|authorise|authorized|authorised|approve|approved|agree|agreed|order|ordered|sign|signed|use|used|request|requested",
    "did not authorize|authorise|approve|agree|order|sign|use|request",
    "not authorized|authorised|approved",
    "unauthorized|unauthorised|unexpected|unknown|fraudulent|bogus|incorrect|wrong charge|charges|payment|transaction|amount|invoice|bill|price",
    "wrong amount|total|price|plan|card",
    "dispute|disputing|chargeback|fraud|fraudulent",
    "not what we|i agreed|signed|ordered|paid",
    "still being charged|billed",
    "keep|keeps charging|billing",
    "stop charging|billing",
    "without my|our permission|consent|authorization",
    "never signed up",
];

/// The signal detectors, built once from a taxonomy and shared (`Send + Sync`).
pub struct SignalEngine {
    sentiment: SentimentModel,
    human: HumanRequestDetector,
    classifier: IssueClassifier,
    dispute: PhraseSet,
    settings: SignalSettings,
}

impl std::fmt::Debug for SignalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalEngine")
            .field("issue_types", &self.classifier.labels())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Default for SignalEngine {
    /// The engine with the built-in B2B SaaS taxonomy.
    fn default() -> Self {
        match Self::new(&Taxonomy::builtin()) {
            Ok(engine) => engine,
            // The built-in taxonomy is valid (a test checks it); stay total regardless.
            Err(_) => Self::from_classifier(IssueClassifier::fallback_only()),
        }
    }
}

static DEFAULT_ENGINE: LazyLock<SignalEngine> = LazyLock::new(SignalEngine::default);

/// Signals for the last customer turn of `turns`, with the built-in taxonomy (the engine is
/// built on first use and shared). `None` when there is no customer turn.
pub fn compute(turns: &[Turn]) -> Option<Signals> {
    DEFAULT_ENGINE.compute(turns)
}

impl SignalEngine {
    /// Builds the detectors and trains the issue-type classifier on the taxonomy.
    pub fn new(taxonomy: &Taxonomy) -> Result<Self, SignalError> {
        Self::with_examples(taxonomy, &[])
    }

    /// Like [`SignalEngine::new`], also learning from extra labelled examples (e.g. the
    /// knowledge base's example questions, labelled by each article's issue type).
    pub fn with_examples(taxonomy: &Taxonomy, extra: &[LabelledText]) -> Result<Self, SignalError> {
        Ok(Self::from_classifier(IssueClassifier::train(
            taxonomy, extra,
        )?))
    }

    /// An engine around an already trained classifier.
    pub fn from_classifier(classifier: IssueClassifier) -> Self {
        let mut dispute = PhraseSet::default();
        for p in DISPUTE_CUES {
            dispute.add(p);
        }
        SignalEngine {
            sentiment: SentimentModel::new(),
            human: HumanRequestDetector::new(),
            classifier,
            dispute,
            settings: SignalSettings::default(),
        }
    }

    /// The same engine with another sentiment model (e.g. one adapted with
    /// [`SentimentModel::with_examples`]).
    pub fn with_sentiment_model(mut self, model: SentimentModel) -> Self {
        self.sentiment = model;
        self
    }

    /// The same engine with other settings.
    pub fn with_settings(mut self, settings: SignalSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &SignalSettings {
        &self.settings
    }

    /// The issue-type classifier.
    pub fn classifier(&self) -> &IssueClassifier {
        &self.classifier
    }

    /// Sentiment of one text in [-1, 1].
    pub fn sentiment(&self, text: &str) -> f64 {
        self.sentiment.read(text).score
    }

    /// Explicit request for a human in one text.
    pub fn human_request(&self, text: &str) -> HumanRequest {
        self.human.detect(text)
    }

    /// Issue type of one text on its own (with the dispute rule applied).
    pub fn issue_type(&self, text: &str) -> IssueTypeSignal {
        let turns = [Turn::customer(text)];
        self.compute(&turns)
            .map(|s| s.issue_type)
            .unwrap_or_default()
    }

    /// Signals for the last customer turn of `turns` (turns after it are ignored). `None`
    /// when there is no customer turn.
    pub fn compute(&self, turns: &[Turn]) -> Option<Signals> {
        let last = turns.iter().rposition(|t| t.role == Role::Customer)?;
        let mut cache: Vec<Option<Analysis>> = Vec::new();
        cache.resize_with(turns.len(), || None);
        Some(self.compute_at(turns, last, &mut cache))
    }

    /// Signals for every customer turn of a recorded conversation, in order, with the
    /// index of the turn in `turns`: how the conversation looked at each point.
    pub fn replay(&self, turns: &[Turn]) -> Vec<(usize, Signals)> {
        let mut cache: Vec<Option<Analysis>> = Vec::new();
        cache.resize_with(turns.len(), || None);
        turns
            .iter()
            .enumerate()
            .filter(|(_, t)| t.role == Role::Customer)
            .map(|(i, _)| (i, self.compute_at(turns, i, &mut cache)))
            .collect()
    }

    fn analyse(&self, turn: &Turn) -> Option<Analysis> {
        match turn.role {
            Role::Customer => {
                let folded = fold(&turn.text);
                let vector = self.classifier.vectorize(&folded);
                let mut scores = self.classifier.scores(&vector);
                for (s, b) in scores
                    .iter_mut()
                    .zip(self.classifier.keyword_boosts(&folded))
                {
                    *s += b;
                }
                Some(Analysis::Customer(Box::new(CustomerAnalysis {
                    reading: self.sentiment.read(&turn.text),
                    vector,
                    scores,
                    content_words: words(&folded).filter(|w| !is_stopword(w)).count(),
                    feeling: frustration::shows_feeling(&folded),
                })))
            }
            Role::Ai => {
                let folded = fold(&turn.text);
                let mut ids = Vec::new();
                content_shingles(&folded, &mut ids);
                Some(Analysis::Ai(AiAnalysis {
                    shingles: SparseVec::from_weighted(
                        ids.into_iter().map(|id| (id, 1.0)).collect(),
                    ),
                }))
            }
            Role::Agent | Role::System => None,
        }
    }

    fn compute_at(&self, turns: &[Turn], last: usize, cache: &mut [Option<Analysis>]) -> Signals {
        let turns = &turns[..=last];
        // The window: back to the `window`-th most recent customer turn.
        let mut lo = last;
        let mut seen = 0;
        for i in (0..=last).rev() {
            if turns[i].role == Role::Customer {
                seen += 1;
                lo = i;
                if seen >= self.settings.window.max(1) {
                    break;
                }
            }
        }
        for i in lo..=last {
            if cache[i].is_none() {
                cache[i] = self.analyse(&turns[i]);
            }
        }
        let analyses = &cache[..=last];
        let roles: Vec<Role> = turns.iter().map(|t| t.role).collect();
        let times: Vec<Option<DateTime<Utc>>> = turns.iter().map(|t| t.at).collect();
        let articles: Vec<&[String]> = turns.iter().map(|t| t.articles.as_slice()).collect();

        let Some(Analysis::Customer(current)) = &analyses[last] else {
            return Signals::default();
        };

        let previous_ai = (lo..last)
            .rev()
            .find(|&i| roles[i] != Role::Customer)
            .filter(|&i| roles[i] == Role::Ai && i + 1 == last)
            .map(|i| turns[i].text.as_str());
        let human_request = self.human.detect_in_reply(&turns[last].text, previous_ai);

        let rephrase = loops::best_rephrase(analyses, &roles, lo, last);
        let looping = loops::detect(
            analyses,
            &roles,
            &articles,
            lo,
            last,
            rephrase,
            &self.settings,
        );
        let (frustration, frustration_factors) =
            frustration::assess(analyses, &roles, &times, lo, last, rephrase, &self.settings);

        let issue_type = self.issue_type_in_context(analyses, turns, lo, last, current);

        let sentiment_trend = (lo..=last)
            .filter_map(|i| match &analyses[i] {
                Some(Analysis::Customer(c)) => Some(round(c.reading.score)),
                _ => None,
            })
            .collect();

        Signals {
            sentiment: round(current.reading.score),
            frustration: round(frustration),
            human_request: HumanRequest {
                score: round(human_request.score),
                ..human_request
            },
            issue_type,
            looping: LoopSignal {
                score: round(looping.score),
                rephrase_similarity: round(looping.rephrase_similarity),
                ..looping
            },
            sentiment_trend,
            frustration_factors: FrustrationFactors {
                trajectory: round(frustration_factors.trajectory),
                burst: round(frustration_factors.burst),
                repetition: round(frustration_factors.repetition),
                reactions: round(frustration_factors.reactions),
            },
            sentiment_evidence: current.reading.evidence.clone(),
            feeling: frustration::felt(current),
        }
    }

    /// The issue type of the last turn, read with the customer's earlier turns (a short
    /// "still broken!!" keeps the topic of the turns before), then the dispute rule.
    fn issue_type_in_context(
        &self,
        analyses: &[Option<Analysis>],
        turns: &[Turn],
        lo: usize,
        last: usize,
        current: &CustomerAnalysis,
    ) -> IssueTypeSignal {
        let n = self.classifier.labels().len();
        let mut combined = vec![0.0f32; n];
        let mut total = 0.0f32;
        let mut age = 0i32;
        for i in (lo..=last).rev() {
            let Some(Analysis::Customer(c)) = &analyses[i] else {
                continue;
            };
            let informative = (c.content_words as f32 / 4.0).clamp(0.15, 1.0);
            let w = 0.5f32.powi(age) * informative;
            for (a, s) in combined.iter_mut().zip(&c.scores) {
                *a += w * s;
            }
            total += w;
            age += 1;
        }
        if total > 1.0 {
            // Between an average (turns that disagree stay unsure) and a sum (turns that
            // agree make it surer).
            let norm = 1.0 / total.sqrt();
            for a in &mut combined {
                *a *= norm;
            }
        }
        let probs = self.classifier.probabilities_from_scores(&combined);
        let p = self.classifier.predict_from_probabilities(&probs);
        let mut signal = IssueTypeSignal {
            label: p.label,
            score: round(p.score),
            runner_up: p.runner_up,
            runner_up_score: round(p.runner_up_score),
            dispute_evidence: Vec::new(),
        };

        // Dispute cues plus negative sentiment: a billing question becomes a dispute.
        let s = &self.settings;
        let labels = self.classifier.labels();
        let (Some(from), Some(to)) = (
            labels.iter().position(|l| *l == s.dispute_from),
            labels.iter().position(|l| *l == s.dispute_to),
        ) else {
            return signal;
        };
        let folded = fold(&turns[last].text);
        let ws: Vec<&str> = words(&folded).collect();
        let mut found: Vec<PhraseMatch> = Vec::new();
        self.dispute.find(&ws, &mut found);
        let cues: Vec<String> = found.iter().map(|m| ws[m.start..m.end].join(" ")).collect();
        let negative = current.reading.score < s.dispute_sentiment;
        let in_top_two =
            |name: &str| signal.label == name || signal.runner_up.as_deref() == Some(name);
        let billing = in_top_two(&s.dispute_from) || in_top_two(&s.dispute_to);
        let p_from = f64::from(probs[from]);
        let p_to = f64::from(probs[to]);
        if !cues.is_empty() && negative && billing {
            // Contested and unhappy: a dispute, as sure as the billing reading was.
            if signal.label != s.dispute_to {
                signal.runner_up = Some(std::mem::replace(&mut signal.label, s.dispute_to.clone()));
                signal.runner_up_score = signal.score;
                signal.score = round((p_from + p_to).min(1.0));
            }
            signal.dispute_evidence = cues;
        } else if signal.label == s.dispute_to && cues.is_empty() && !negative {
            // Nothing contested and nothing negative: a routine billing question.
            signal.label = s.dispute_from.clone();
            signal.runner_up = Some(s.dispute_to.clone());
            signal.runner_up_score = round(p_to);
            signal.score = round((p_from + p_to).min(1.0));
        } else if signal.label == s.dispute_to {
            signal.dispute_evidence = cues;
        }
        signal
    }
}

/// Rounds to three decimals for stable, readable output.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
