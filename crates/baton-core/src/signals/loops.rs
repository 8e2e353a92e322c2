//! Loop: the conversation goes round in circles. Three kinds of evidence, combined:
//! - the customer rephrases an earlier question that already got an AI answer (similar
//!   customer turns with an AI turn in between), or says the answer did not help;
//! - the AI serves the same article again, or an answer nearly identical to an earlier one;
//! - several AI turns in a row without progress (no "thanks, that worked" from the customer).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sentiment::CueKind;
use super::{Analysis, SignalSettings};
use crate::Role;

/// The loop signal for the last customer turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoopSignal {
    /// Whether the conversation is looping (`score >= 0.6`).
    pub detected: bool,
    /// Strength in [0, 1].
    pub score: f64,
    /// What was seen, in words ("customer rephrased an answered question (similarity 0.72)").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Article ids the AI served more than once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeated_articles: Vec<String>,
    /// Highest similarity of the last customer turn to an earlier, answered one.
    pub rephrase_similarity: f64,
    /// AI turns since the customer last acknowledged progress.
    pub ai_turns_without_progress: u32,
}

/// Score from which a loop counts as detected.
pub const DETECTION_THRESHOLD: f64 = 0.6;

/// The most similar earlier customer turn that was followed by an AI answer before `last`.
pub(crate) fn best_rephrase(
    analyses: &[Option<Analysis>],
    roles: &[Role],
    lo: usize,
    last: usize,
) -> f64 {
    let Some(Analysis::Customer(current)) = &analyses[last] else {
        return 0.0;
    };
    if current.content_words < 2 {
        return 0.0;
    }
    let mut answered = false;
    let mut best = 0.0f64;
    for i in (lo..last).rev() {
        match (&analyses[i], roles[i]) {
            (_, Role::Ai) => answered = true,
            (Some(Analysis::Customer(earlier)), Role::Customer)
                if answered && earlier.content_words >= 2 =>
            {
                best = best.max(f64::from(current.vector.cosine(&earlier.vector)));
            }
            _ => {}
        }
    }
    best
}

/// Computes the loop signal for the customer turn at `last`, looking at turns `lo..=last`.
pub(crate) fn detect(
    analyses: &[Option<Analysis>],
    roles: &[Role],
    articles: &[&[String]],
    lo: usize,
    last: usize,
    rephrase: f64,
    settings: &SignalSettings,
) -> LoopSignal {
    let mut out = LoopSignal {
        rephrase_similarity: rephrase,
        ..LoopSignal::default()
    };
    let mut miss = 1.0f64;
    let mut add = |score: f64, reason: String, out: &mut LoopSignal| {
        miss *= 1.0 - score.clamp(0.0, 1.0);
        out.reasons.push(reason);
    };

    let answered_before = roles[lo..last].contains(&Role::Ai);

    // The customer asks the same thing again after an answer.
    if rephrase >= settings.rephrase_similarity {
        let s = 0.6 + 0.8 * (rephrase - settings.rephrase_similarity);
        add(
            s,
            format!("customer rephrased an answered question (similarity {rephrase:.2})"),
            &mut out,
        );
    }
    if let Some(Analysis::Customer(current)) = &analyses[last]
        && answered_before
    {
        let not_helped = current.reading.count(CueKind::NotHelped);
        let repeated = current.reading.count(CueKind::Repetition);
        if not_helped + repeated > 0 {
            add(
                0.45 + 0.1 * f64::from((not_helped + repeated).min(3)),
                "customer says the answer did not help or repeats themselves".into(),
                &mut out,
            );
        }
    }

    // The AI serves the same article, or nearly the same answer, again.
    let mut served: Vec<(&str, u32)> = Vec::new();
    let mut ai_vectors = Vec::new();
    // Whether the customer's latest turn so far was a courtesy ("thanks, that worked",
    // "ok"): the AI's reply to it ("You're welcome!") is the same every time without
    // anything going round in circles.
    let mut courtesy = false;
    for i in lo..last {
        if roles[i] == Role::Customer {
            courtesy = match &analyses[i] {
                Some(Analysis::Customer(c)) => c.made_progress() || c.content_words < 2,
                _ => false,
            };
            continue;
        }
        if roles[i] != Role::Ai {
            continue;
        }
        for id in articles[i] {
            match served.iter_mut().find(|(a, _)| *a == id) {
                Some((_, n)) => *n += 1,
                None => served.push((id, 1)),
            }
        }
        if let Some(Analysis::Ai(ai)) = &analyses[i]
            && !courtesy
        {
            ai_vectors.push(&ai.shingles);
        }
    }
    let max_repeat = served.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if max_repeat >= 2 {
        out.repeated_articles = served
            .iter()
            .filter(|(_, n)| *n >= 2)
            .map(|(a, _)| (*a).to_string())
            .collect();
        let s = if max_repeat >= 3 { 0.95 } else { 0.75 };
        add(
            s,
            format!(
                "AI served the same article {max_repeat} times ({})",
                out.repeated_articles.join(", ")
            ),
            &mut out,
        );
    }
    let mut near_identical = 0.0f64;
    for (a, va) in ai_vectors.iter().enumerate() {
        if va.entries().len() < 3 {
            continue;
        }
        for vb in &ai_vectors[a + 1..] {
            near_identical = near_identical.max(f64::from(va.cosine(vb)));
        }
    }
    if near_identical >= settings.identical_answer_similarity {
        add(
            0.75 + (near_identical - settings.identical_answer_similarity).min(0.2),
            format!("AI repeated a near-identical answer (similarity {near_identical:.2})"),
            &mut out,
        );
    }

    // AI turns without progress.
    let mut without_progress = 0u32;
    for i in (lo..last).rev() {
        match (roles[i], &analyses[i]) {
            (Role::Ai, _) => without_progress += 1,
            (Role::Customer, Some(Analysis::Customer(c))) if c.made_progress() => break,
            (Role::Agent, _) => break,
            _ => {}
        }
    }
    out.ai_turns_without_progress = without_progress;
    let n = settings.max_ai_turns_without_progress;
    if n > 0 && without_progress >= n {
        add(
            0.65 + 0.1 * f64::from((without_progress - n).min(3)),
            format!("{without_progress} AI turns without progress"),
            &mut out,
        );
    }

    out.score = 1.0 - miss;
    out.detected = out.score >= DETECTION_THRESHOLD;
    out
}
