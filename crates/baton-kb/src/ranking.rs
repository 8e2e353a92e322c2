//! Ranking features: what retrieval knows about one candidate article for one question,
//! and the learned linear scorer that orders candidates by them.

use serde::{Deserialize, Serialize};

use crate::similarity::{PhrasingTable, QueryKeys};

/// Number of ranking features.
pub(crate) const FEATURES: usize = 11;

/// Indexes into [`Features::values`].
pub(crate) mod feature {
    /// Best cosine between the question and one phrasing, over stems and stem bigrams.
    pub const WORD_MAX: usize = 0;
    /// Best cosine between the question and one phrasing, over character n-grams.
    pub const CHAR_MAX: usize = 1;
    /// Cosine with the centroid of the article's phrasings, stems and bigrams.
    pub const WORD_CENTROID: usize = 2;
    /// Cosine with the centroid of the article's phrasings, character n-grams.
    pub const CHAR_CENTROID: usize = 3;
    /// Share of the question's stems (IDF-weighted) found among the article's phrasings.
    pub const COVERAGE: usize = 4;
    /// BM25 over title, body and questions, divided by the most the question could score.
    pub const BM25: usize = 5;
    /// Mean of the three best phrasing similarities (stems and characters averaged).
    pub const NEIGHBOURS: usize = 6;
    /// Share of the question's ten nearest phrasings (over all candidates) in this article.
    pub const VOTES: usize = 7;
    /// Share of the question's stems (IDF-weighted) found in the one phrasing that covers
    /// the most of them.
    pub const BEST_COVERAGE: usize = 8;
    /// Best dense (embedding) cosine between the question and one phrasing; 0 without
    /// embeddings.
    pub const DENSE_MAX: usize = 9;
    /// Dense cosine with the mean of the article's phrasing embeddings; 0 without
    /// embeddings.
    pub const DENSE_CENTROID: usize = 10;
}

/// The ranking features of one candidate article for one question.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Features {
    pub(crate) values: [f32; FEATURES],
}

impl Features {
    /// Best similarity of the question to one of the article's phrasings, stems and bigrams.
    pub fn word_max(&self) -> f32 {
        self.values[feature::WORD_MAX]
    }
    /// Best similarity of the question to one of the article's phrasings, character n-grams.
    pub fn char_max(&self) -> f32 {
        self.values[feature::CHAR_MAX]
    }
    /// How much of the question (IDF-weighted stems) the article's phrasings cover, 0..1.
    pub fn coverage(&self) -> f32 {
        self.values[feature::COVERAGE]
    }
    /// BM25 score normalised by the question's maximum possible score, 0..1.
    pub fn bm25(&self) -> f32 {
        self.values[feature::BM25]
    }
    /// Best dense similarity of the question to one of the article's phrasings; 0 without
    /// embeddings.
    pub fn dense_max(&self) -> f32 {
        self.values[feature::DENSE_MAX]
    }
}

/// What the scorer needs to know about an article.
pub(crate) struct ArticleVectors<'a> {
    pub words: &'a PhrasingTable,
    pub chars: &'a PhrasingTable,
}

/// What the scorer needs to know about the question.
pub(crate) struct QueryVectors<'a> {
    /// Stems and stem bigrams, TF-IDF weighted.
    pub words: QueryKeys<'a>,
    /// Character n-grams, TF-IDF weighted.
    pub chars: QueryKeys<'a>,
    /// Distinct stem keys with their IDF.
    pub stems: QueryKeys<'a>,
}

/// The question's similarities with each phrasing of one article.
pub(crate) struct Similarities {
    /// Per phrasing, one after the other: stem similarities, character similarities and the
    /// IDF mass of the question's stems the phrasing has (one allocation per candidate).
    values: Vec<f32>,
    pub word_centroid: f32,
    pub char_centroid: f32,
    /// IDF mass of the question's stems found in any phrasing.
    pub found: f32,
}

impl Similarities {
    fn phrasings(&self) -> usize {
        self.values.len() / 3
    }

    /// Stem and stem-bigram similarity, per phrasing.
    pub fn words(&self) -> &[f32] {
        &self.values[..self.phrasings()]
    }

    /// Character n-gram similarity, per phrasing.
    pub fn chars(&self) -> &[f32] {
        &self.values[self.phrasings()..2 * self.phrasings()]
    }

    /// IDF mass of the question's stems, per phrasing.
    pub fn covered(&self) -> &[f32] {
        &self.values[2 * self.phrasings()..]
    }

    /// Stem and character similarity averaged, per phrasing.
    pub fn combined(&self) -> impl Iterator<Item = f32> + '_ {
        self.words()
            .iter()
            .zip(self.chars())
            .map(|(w, c)| 0.5 * (w + c))
    }
}

/// Compares the question with every phrasing of an article.
pub(crate) fn similarities(query: &QueryVectors<'_>, article: &ArticleVectors<'_>) -> Similarities {
    let n = article.words.len().max(article.chars.len());
    let mut values = vec![0.0; 3 * n];
    let (words, rest) = values.split_at_mut(n);
    let (chars, covered) = rest.split_at_mut(n);
    let (word_centroid, found) =
        article
            .words
            .word_similarities(&query.words, &query.stems, words, covered);
    let char_centroid = article.chars.similarities(&query.chars, chars);
    Similarities {
        values,
        word_centroid,
        char_centroid,
        found,
    }
}

/// Dense similarities of the question with one article: the best phrasing and the centroid.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Dense {
    pub max: f32,
    pub centroid: f32,
}

/// Computes the features of one candidate. `bm25` is already normalised; `votes` is the
/// share of the question's nearest phrasings (over all candidates) that belong to this one.
pub(crate) fn features(
    query: &QueryVectors<'_>,
    sims: &Similarities,
    bm25: f32,
    votes: f32,
    dense: Dense,
) -> Features {
    let word_max = sims.words().iter().copied().fold(0.0f32, f32::max);
    let char_max = sims.chars().iter().copied().fold(0.0f32, f32::max);
    let mut best = [0.0f32; 3];
    for combined in sims.combined() {
        if combined > best[2] {
            best[2] = combined;
            best.sort_unstable_by(|a, b| b.total_cmp(a));
        }
    }
    let taken = sims.words().len().clamp(1, 3) as f32;
    let neighbours = best.iter().sum::<f32>() / taken;
    let total: f32 = query.stems.entries().iter().map(|&(_, idf)| idf).sum();
    let coverage = if total > 0.0 { sims.found / total } else { 0.0 };
    let best_covered = sims.covered().iter().copied().fold(0.0f32, f32::max);
    let best_coverage = if total > 0.0 {
        best_covered / total
    } else {
        0.0
    };
    let mut values = [0.0; FEATURES];
    values[feature::WORD_MAX] = word_max;
    values[feature::CHAR_MAX] = char_max;
    values[feature::WORD_CENTROID] = sims.word_centroid;
    values[feature::CHAR_CENTROID] = sims.char_centroid;
    values[feature::COVERAGE] = coverage;
    values[feature::BM25] = bm25.clamp(0.0, 1.0);
    values[feature::NEIGHBOURS] = neighbours;
    values[feature::VOTES] = votes;
    values[feature::BEST_COVERAGE] = best_coverage.min(1.0);
    values[feature::DENSE_MAX] = dense.max;
    values[feature::DENSE_CENTROID] = dense.centroid;
    Features { values }
}

/// Weights of the linear ranking score, one per feature. Larger scores rank first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankingWeights {
    /// Weight of the best stem/bigram similarity to one phrasing.
    pub word_max: f64,
    /// Weight of the best character n-gram similarity to one phrasing.
    pub char_max: f64,
    /// Weight of the stem/bigram similarity to the article's centroid.
    pub word_centroid: f64,
    /// Weight of the character n-gram similarity to the article's centroid.
    pub char_centroid: f64,
    /// Weight of the share of the question the article's phrasings cover.
    pub coverage: f64,
    /// Weight of the normalised BM25 score.
    pub bm25: f64,
    /// Weight of the mean of the three best phrasing similarities.
    pub neighbours: f64,
    /// Weight of the article's share of the question's nearest phrasings.
    pub votes: f64,
    /// Weight of the share of the question the best-covering single phrasing has.
    #[serde(default)]
    pub best_coverage: f64,
    /// Weight of the best dense similarity to one phrasing (used with embeddings only).
    #[serde(default)]
    pub dense_max: f64,
    /// Weight of the dense similarity to the article's centroid (used with embeddings only).
    #[serde(default)]
    pub dense_centroid: f64,
}

impl RankingWeights {
    pub(crate) fn to_array(self) -> [f64; FEATURES] {
        let mut a = [0.0; FEATURES];
        a[feature::WORD_MAX] = self.word_max;
        a[feature::CHAR_MAX] = self.char_max;
        a[feature::WORD_CENTROID] = self.word_centroid;
        a[feature::CHAR_CENTROID] = self.char_centroid;
        a[feature::COVERAGE] = self.coverage;
        a[feature::BM25] = self.bm25;
        a[feature::NEIGHBOURS] = self.neighbours;
        a[feature::VOTES] = self.votes;
        a[feature::BEST_COVERAGE] = self.best_coverage;
        a[feature::DENSE_MAX] = self.dense_max;
        a[feature::DENSE_CENTROID] = self.dense_centroid;
        a
    }

    pub(crate) fn from_array(a: [f64; FEATURES]) -> Self {
        Self {
            word_max: a[feature::WORD_MAX],
            char_max: a[feature::CHAR_MAX],
            word_centroid: a[feature::WORD_CENTROID],
            char_centroid: a[feature::CHAR_CENTROID],
            coverage: a[feature::COVERAGE],
            bm25: a[feature::BM25],
            neighbours: a[feature::NEIGHBOURS],
            votes: a[feature::VOTES],
            best_coverage: a[feature::BEST_COVERAGE],
            dense_max: a[feature::DENSE_MAX],
            dense_centroid: a[feature::DENSE_CENTROID],
        }
    }

    /// The ranking score of a candidate.
    pub fn score(&self, features: &Features) -> f64 {
        self.to_array()
            .iter()
            .zip(features.values.iter())
            .map(|(w, &x)| w * f64::from(x))
            .sum()
    }
}
