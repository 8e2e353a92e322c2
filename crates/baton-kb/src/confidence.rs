//! Answer confidence: the probability that the top-ranked article answers the question,
//! from retrieval features through a small logistic model.
//!
//! The [`Calibration`] holds both the ranking weights and the confidence coefficients; it is
//! plain data (serde), fitted by [`crate::fit_on_kb`] or [`crate::fit_labeled`] and stored
//! with the knowledge-base revision it was fitted on.

use serde::{Deserialize, Serialize};

use crate::index::Candidate;
use crate::ranking::{Features, RankingWeights};

/// What the confidence is computed from, read off the ranked candidates.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfidenceFeatures {
    /// Ranking score of the first article.
    pub top_score: f64,
    /// Ranking score of the first article minus that of the second (the first's own score
    /// when it has no competitor).
    pub margin: f64,
    /// Share of the first article in a softmax over all candidates' scores.
    pub top_probability: f64,
    /// How much of the question the first article's phrasings cover (IDF-weighted), 0..1.
    pub coverage: f64,
    /// Best character n-gram similarity of the question to a phrasing of the first article.
    pub char_max: f64,
    /// Best stem/bigram similarity of the question to a phrasing of the first article.
    pub word_max: f64,
    /// BM25 score of the first article normalised by the question's maximum possible score.
    pub bm25: f64,
    /// Best dense (embedding) similarity between the question and a phrasing of the first
    /// article, when the index has an embedder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense: Option<f32>,
}

impl ConfidenceFeatures {
    /// The features of a ranked candidate list (best first), with the dense similarity when
    /// `with_dense`. No candidate at all gives zeros.
    pub(crate) fn of(ranked: &[(Candidate, f64)], with_dense: bool) -> Self {
        let Some((top, top_score)) = ranked.first() else {
            return Self::default();
        };
        let second = ranked.get(1).map_or(0.0, |(_, s)| *s);
        let denominator: f64 = ranked.iter().map(|(_, s)| (s - top_score).exp()).sum();
        Self {
            top_score: *top_score,
            margin: top_score - second,
            top_probability: 1.0 / denominator.max(1.0),
            coverage: f64::from(top.features.coverage()),
            char_max: f64::from(top.features.char_max()),
            word_max: f64::from(top.features.word_max()),
            bm25: f64::from(top.features.bm25()),
            dense: with_dense.then(|| top.features.dense_max()),
        }
    }

    /// The feature vector without the dense slot, in coefficient order.
    pub(crate) fn to_array(self) -> [f64; CONFIDENCE_FEATURES] {
        [
            self.top_score,
            self.margin,
            self.top_probability,
            self.coverage,
            self.char_max,
            self.word_max,
            self.bm25,
        ]
    }
}

/// Number of confidence features besides the dense slot.
pub(crate) const CONFIDENCE_FEATURES: usize = 7;

/// Coefficients of the logistic confidence model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceCoefficients {
    /// Constant term.
    pub intercept: f64,
    /// Coefficient of [`ConfidenceFeatures::top_score`].
    pub top_score: f64,
    /// Coefficient of [`ConfidenceFeatures::margin`].
    pub margin: f64,
    /// Coefficient of [`ConfidenceFeatures::top_probability`].
    pub top_probability: f64,
    /// Coefficient of [`ConfidenceFeatures::coverage`].
    pub coverage: f64,
    /// Coefficient of [`ConfidenceFeatures::char_max`].
    pub char_max: f64,
    /// Coefficient of [`ConfidenceFeatures::word_max`].
    pub word_max: f64,
    /// Coefficient of [`ConfidenceFeatures::bm25`].
    pub bm25: f64,
    /// Coefficient of [`ConfidenceFeatures::dense`], used only when a dense similarity is given.
    #[serde(default)]
    pub dense: f64,
}

impl ConfidenceCoefficients {
    /// `[intercept, top_score, margin, top_probability, coverage, char_max, word_max, bm25]`.
    pub(crate) fn to_array(self) -> [f64; CONFIDENCE_FEATURES + 1] {
        [
            self.intercept,
            self.top_score,
            self.margin,
            self.top_probability,
            self.coverage,
            self.char_max,
            self.word_max,
            self.bm25,
        ]
    }

    pub(crate) fn from_array(a: [f64; CONFIDENCE_FEATURES + 1], dense: f64) -> Self {
        Self {
            intercept: a[0],
            top_score: a[1],
            margin: a[2],
            top_probability: a[3],
            coverage: a[4],
            char_max: a[5],
            word_max: a[6],
            bm25: a[7],
            dense,
        }
    }

    /// The log-odds for these features.
    pub fn log_odds(&self, features: &ConfidenceFeatures) -> f64 {
        let c = self.to_array();
        let x = features.to_array();
        let linear: f64 = c[0] + c[1..].iter().zip(x.iter()).map(|(c, x)| c * x).sum::<f64>();
        linear + features.dense.map_or(0.0, |d| self.dense * f64::from(d))
    }
}

/// How a calibration was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitSummary {
    /// `"default"`, `"knowledge_base"` or `"labeled"`.
    pub method: String,
    /// Questions where the top article was the right one.
    pub positives: usize,
    /// Questions where it was not (wrong article, or no right article at all).
    pub negatives: usize,
}

/// Ranking weights and confidence coefficients: everything retrieval learns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Weights of the ranking score.
    pub ranking: RankingWeights,
    /// Coefficients of the confidence model.
    pub confidence: ConfidenceCoefficients,
    /// How these numbers were fitted.
    pub fitted: FitSummary,
}

impl Default for Calibration {
    /// Fitted by `examples/fit_defaults.rs`, not on any evaluation data: the ranking weights
    /// on a hand-written support knowledge base of 30 articles (`calibration/support-kb.jsonl`)
    /// together with Bitext's customer-support requests (27 intents, about 240 phrasings
    /// each), the confidence coefficients on the 30 articles alone under those weights. The
    /// dense numbers were fitted afterwards on the same 30 articles embedded with
    /// all-MiniLM-L6-v2, the lexical ones held fixed; they are used only when an embedder is
    /// attached.
    fn default() -> Self {
        Self {
            ranking: RankingWeights {
                word_max: 3.6697,
                char_max: 4.0963,
                word_centroid: 2.7842,
                char_centroid: 3.5346,
                coverage: 1.8442,
                bm25: 5.5674,
                neighbours: 1.9236,
                votes: 0.9776,
                best_coverage: -0.6742,
                dense_max: 4.1885,
                dense_centroid: 2.3485,
            },
            confidence: ConfidenceCoefficients {
                intercept: -5.5685,
                top_score: 0.3050,
                margin: 0.1767,
                top_probability: 1.9170,
                coverage: 1.7305,
                char_max: 1.8779,
                word_max: 1.8558,
                bm25: 1.1598,
                dense: 0.8338,
            },
            fitted: FitSummary {
                method: "default".into(),
                positives: 92,
                negatives: 220,
            },
        }
    }
}

impl Calibration {
    /// Orders candidates by ranking score, best first; ties go to the earlier slot.
    pub(crate) fn rank(&self, candidates: Vec<Candidate>) -> Vec<(Candidate, f64)> {
        let mut ranked: Vec<(Candidate, f64)> = candidates
            .into_iter()
            .map(|c| {
                let score = self.ranking.score(&c.features);
                (c, score)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.slot.cmp(&b.0.slot)));
        ranked
    }

    /// The probability that the first article answers the question.
    pub fn confidence(&self, features: &ConfidenceFeatures) -> f64 {
        sigmoid(self.confidence.log_odds(features))
    }

    /// The ranking score of a candidate's features.
    pub fn score(&self, features: &Features) -> f64 {
        self.ranking.score(features)
    }
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}
