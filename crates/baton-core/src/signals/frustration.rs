//! Frustration in [0, 1]: a trajectory over the conversation, not one message. It weighs the
//! negativity of recent customer turns (the latest most), bursts of customer messages,
//! repetition of the same complaint, and negative reactions right after AI answers.
//!
//! A turn that only describes a problem ("I lost my phone and can't get my 2FA code", "the
//! export failed with an error") reads as negative, yet says nothing about how the customer
//! feels: it is why they came. Such a plain turn counts at [`PLAIN_WEIGHT`] of its
//! negativity, so that on its own it never reaches the default threshold; what makes a turn
//! count in full is a sign of feeling: words of emotion or judgement ("frustrated",
//! "ridiculous", "useless"), shouting, "!!!", swearing, or saying it was asked before or that
//! an answer did not help.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sentiment::CueKind;
use super::{Analysis, CustomerAnalysis, SignalSettings};
use crate::Role;

/// The parts frustration is made of, each in [0, 1], for explanations and briefs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FrustrationFactors {
    /// Recency-weighted negativity of the customer's turns.
    pub trajectory: f64,
    /// Customer messages in quick succession.
    pub burst: f64,
    /// The customer repeats the same complaint or question.
    pub repetition: f64,
    /// Negative reactions right after AI answers.
    pub reactions: f64,
}

/// How much of a plain turn's negativity (a problem described without a sign of feeling)
/// counts: 0.95 × 0.6 keeps a single plain turn below the default threshold of 0.6.
const PLAIN_WEIGHT: f64 = 0.6;

/// Words of emotion or judgement that show how the customer feels, folded; a word counts when
/// it starts with one of these (so "frustrat" covers "frustrated" and "frustrating").
const FEELING: &[&str] = &[
    "frustrat",
    "annoy",
    "irritat",
    "angry",
    "anger",
    "furious",
    "fuming",
    "livid",
    "outrag",
    "upset",
    "disappoint",
    "disgust",
    "fed up",
    "sick of",
    "tired of",
    "ridiculous",
    "absurd",
    "unacceptable",
    "unbelievabl",
    "insane",
    "pathetic",
    "useless",
    "worthless",
    "terrible",
    "horrible",
    "awful",
    "worst",
    "appalling",
    "disgrace",
    "shameful",
    "incompeten",
    "joke",
    "scam",
    "nightmare",
    "hate",
    "waste",
    "rubbish",
    "garbage",
    "crap",
    "stupid",
    "wtf",
    "seriously",
    "pissed",
    "mad at",
    "hopeless",
    "desperate",
    "shocking",
    "ugh",
    "argh",
];

/// Whether folded text shows how the customer feels (see [`FEELING`]).
pub(crate) fn shows_feeling(folded: &str) -> bool {
    let mut previous = "";
    super::text::words(folded).any(|word| {
        let felt = FEELING.iter().any(|feeling| match feeling.split_once(' ') {
            // Two-word phrases: the first word whole, the second as a prefix.
            Some((first, second)) => previous == first && word.starts_with(second),
            None => word.starts_with(feeling),
        });
        previous = word;
        felt
    })
}

/// Whether a customer turn shows how the customer feels, rather than only describing a
/// problem.
pub(crate) fn felt(c: &CustomerAnalysis) -> bool {
    c.feeling
        || c.reading.shouting
        || c.reading.emphatic_punctuation
        || c.reading.count(CueKind::Profanity) > 0
        || c.reading.count(CueKind::Repetition) > 0
        || c.reading.count(CueKind::NotHelped) > 0
}

/// The negativity of a customer turn as frustration counts it.
fn negativity(c: &CustomerAnalysis) -> f64 {
    let negativity = (-c.reading.score).max(0.0);
    if felt(c) {
        negativity
    } else {
        PLAIN_WEIGHT * negativity
    }
}

/// Computes frustration for the customer turn at `last`, looking at turns `lo..=last`.
pub(crate) fn assess(
    analyses: &[Option<Analysis>],
    roles: &[Role],
    times: &[Option<DateTime<Utc>>],
    lo: usize,
    last: usize,
    rephrase: f64,
    settings: &SignalSettings,
) -> (f64, FrustrationFactors) {
    let mut weighted = 0.0;
    let mut weights = 0.0;
    let mut age = 0i32;
    let mut reactions = 0.0f64;
    let mut repetition_cues = 0u32;
    for i in (lo..=last).rev() {
        let Some(Analysis::Customer(c)) = &analyses[i] else {
            continue;
        };
        let negativity = negativity(c);
        let w = settings.frustration_decay.powi(age);
        weighted += w * negativity;
        weights += w;
        // A negative turn right after an AI answer is a reaction to that answer.
        let after_ai = i > lo && roles[i - 1] == Role::Ai;
        if after_ai
            && (c.reading.score <= -0.25
                || c.reading.count(CueKind::NotHelped) > 0
                || c.reading.count(CueKind::Repetition) > 0)
        {
            reactions += w;
        }
        repetition_cues += u32::from(c.reading.count(CueKind::Repetition));
        age += 1;
    }
    let trajectory = if weights > 0.0 {
        weighted / weights
    } else {
        0.0
    };
    // The latest turn counts on its own too: one furious message is enough.
    let latest = match &analyses[last] {
        Some(Analysis::Customer(c)) => negativity(c),
        _ => 0.0,
    };
    let trajectory = trajectory.max(0.85 * latest);

    let burst = burst(roles, times, lo, last, settings);
    let repetition = (((rephrase - 0.35) / 0.4).clamp(0.0, 1.0)
        + 0.35 * f64::from(repetition_cues.min(3)))
    .min(1.0);
    let reactions = (reactions / 1.5).min(1.0);

    let factors = FrustrationFactors {
        trajectory,
        burst,
        repetition,
        reactions,
    };
    let calm = (1.0 - 0.95 * trajectory)
        * (1.0 - 0.3 * burst * (0.5 + trajectory).min(1.0))
        * (1.0 - 0.35 * repetition)
        * (1.0 - 0.3 * reactions);
    ((1.0 - calm).clamp(0.0, 1.0), factors)
}

/// Customer messages in quick succession before the last one: by time when messages carry
/// `at`, else by a run of customer messages with no reply in between.
fn burst(
    roles: &[Role],
    times: &[Option<DateTime<Utc>>],
    lo: usize,
    last: usize,
    settings: &SignalSettings,
) -> f64 {
    if let Some(end) = times[last] {
        let mut recent = 0u32;
        for i in (lo..last).rev() {
            if roles[i] != Role::Customer {
                continue;
            }
            match times[i] {
                Some(t) if (end - t).num_seconds() <= settings.burst_window_secs => recent += 1,
                _ => break,
            }
        }
        return (f64::from(recent) / 3.0).min(1.0);
    }
    let run = (lo..last)
        .rev()
        .take_while(|&i| roles[i] == Role::Customer)
        .count();
    ((run as f64 - 1.0) / 3.0).clamp(0.0, 1.0)
}
