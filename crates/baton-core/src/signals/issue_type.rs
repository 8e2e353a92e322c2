//! Issue type: which kind of request a customer turn is, learned from the taxonomy's example
//! utterances (and any extra labelled examples, such as a knowledge base's questions).
//!
//! The classifier is a multinomial logistic regression over TF-IDF weighted, hashed word
//! unigrams, word bigrams and character 3–5-grams, trained by stochastic gradient descent
//! when it is built. Character n-grams carry it through typos and inflections; training
//! takes milliseconds for a taxonomy and a few seconds for ten thousand examples, and a
//! prediction costs one sparse dot product per type.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::SignalError;
pub use super::taxonomy::{IssueTypeDef, OTHER, Taxonomy};
use super::text::{PhraseMatch, PhraseSet, SparseVec, fold, ngram_features, words};

/// A text with the issue type it belongs to, e.g. a knowledge-base question labelled by the
/// article's `issue_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledText {
    /// The issue type's name.
    pub label: String,
    /// The customer's words.
    pub text: String,
}

impl LabelledText {
    /// A labelled example.
    pub fn new(label: impl Into<String>, text: impl Into<String>) -> Self {
        LabelledText {
            label: label.into(),
            text: text.into(),
        }
    }
}

/// The classifier's answer for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuePrediction {
    /// The best issue type, or the taxonomy's fallback when it scores below `min_score`.
    pub label: String,
    /// Probability of the best issue type (even when the fallback label is returned).
    pub score: f64,
    /// The second-best issue type (the best one when `label` is the fallback).
    pub runner_up: Option<String>,
    /// Probability of `runner_up`.
    pub runner_up_score: f64,
}

/// Training settings. The defaults were chosen on CLINC150's validation split, a data set
/// not used to report the classifier's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingOptions {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Initial learning rate.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Weight of character n-grams relative to word features.
    pub char_weight: f32,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            epochs: 12,
            learning_rate: 2.0,
            l2: 1e-5,
            char_weight: 0.5,
        }
    }
}

/// Identity hashing for feature ids, which are hashes already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FeatureMap = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

/// A trained issue-type classifier. Immutable and `Send + Sync`: build once, share.
#[derive(Debug, Clone)]
pub struct IssueClassifier {
    labels: Vec<String>,
    /// Feature id → row in `idf` and `weights`.
    rows: FeatureMap,
    /// Feature weight (idf, times `char_weight` for character n-grams), by row.
    idf: Vec<f32>,
    /// Idf given to word features never seen in training (they only count in the norm).
    unseen_idf: f32,
    /// `rows × labels`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    char_weight: f32,
    keywords: PhraseSet,
    /// Label index of each keyword phrase.
    keyword_labels: Vec<usize>,
    fallback: String,
    min_score: f64,
}

/// Marks a vector entry whose id is a feature row of the classifier.
const KNOWN: u64 = 1 << 63;

/// Logit added to a type for each of its keywords found in the text.
const KEYWORD_BOOST: f32 = 0.8;

impl IssueClassifier {
    /// Trains on the taxonomy's examples and keywords plus `extra` examples, with the default
    /// options. Every `extra` label must name a type of the taxonomy.
    pub fn train(taxonomy: &Taxonomy, extra: &[LabelledText]) -> Result<Self, SignalError> {
        Self::train_with(taxonomy, extra, TrainingOptions::default())
    }

    /// [`IssueClassifier::train`] with explicit options.
    pub fn train_with(
        taxonomy: &Taxonomy,
        extra: &[LabelledText],
        options: TrainingOptions,
    ) -> Result<Self, SignalError> {
        taxonomy.validate()?;
        let labels: Vec<String> = taxonomy.types.iter().map(|t| t.name.clone()).collect();
        let index: HashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();

        let mut examples: Vec<(String, usize)> = Vec::new();
        let mut keywords = PhraseSet::default();
        let mut keyword_labels = Vec::new();
        for (i, t) in taxonomy.types.iter().enumerate() {
            for e in &t.examples {
                examples.push((fold(e), i));
            }
            for k in &t.keywords {
                let folded = fold(k);
                let pattern: Vec<&str> = words(&folded).collect();
                if pattern.is_empty() {
                    continue;
                }
                keywords.add(&pattern.join(" "));
                keyword_labels.push(i);
                examples.push((folded, i));
            }
        }
        for x in extra {
            let Some(&i) = index.get(x.label.as_str()) else {
                return Err(SignalError::Taxonomy(format!(
                    "example labelled `{}`, which the taxonomy does not define",
                    x.label
                )));
            };
            examples.push((fold(&x.text), i));
        }
        if examples.is_empty() {
            return Err(SignalError::Taxonomy(
                "the taxonomy has no example or keyword to learn from".into(),
            ));
        }

        // Features and document frequencies.
        let mut rows = FeatureMap::default();
        let mut df: Vec<u32> = Vec::new();
        let mut is_char: Vec<bool> = Vec::new();
        let mut raw: Vec<(Vec<u64>, Vec<u64>)> = Vec::with_capacity(examples.len());
        let mut uniq: Vec<(u64, bool)> = Vec::new();
        for (text, _) in &examples {
            let (mut w, mut c) = (Vec::new(), Vec::new());
            ngram_features(text, &mut w, &mut c);
            uniq.clear();
            uniq.extend(w.iter().map(|&id| (id, false)));
            uniq.extend(c.iter().map(|&id| (id, true)));
            uniq.sort_unstable();
            uniq.dedup_by_key(|(id, _)| *id);
            for &(id, ch) in &uniq {
                let next = rows.len() as u32;
                let row = *rows.entry(id).or_insert(next) as usize;
                if row == df.len() {
                    df.push(0);
                    is_char.push(ch);
                }
                df[row] += 1;
            }
            raw.push((w, c));
        }
        let n_docs = examples.len() as f32;
        let char_weight = options.char_weight;
        let idf: Vec<f32> = df
            .iter()
            .zip(&is_char)
            .map(|(&d, &ch)| {
                let idf = ((n_docs + 1.0) / (d as f32 + 1.0)).ln() + 1.0;
                if ch { idf * char_weight } else { idf }
            })
            .collect();
        let unseen_idf = (n_docs + 1.0).ln() + 1.0;

        let mut model = IssueClassifier {
            labels,
            rows,
            idf,
            unseen_idf,
            weights: Vec::new(),
            bias: Vec::new(),
            char_weight,
            keywords,
            keyword_labels,
            fallback: taxonomy.fallback.clone(),
            min_score: taxonomy.min_score,
        };
        let vectors: Vec<Vec<(u32, f32)>> = raw
            .into_iter()
            .map(|(w, c)| {
                model
                    .weigh(w, c)
                    .entries()
                    .iter()
                    .filter(|(id, _)| id & KNOWN != 0)
                    .map(|(id, v)| ((id & !KNOWN) as u32, *v))
                    .collect()
            })
            .collect();

        // Softmax regression by SGD.
        let n_labels = model.labels.len();
        let mut weights = vec![0.0f32; model.rows.len() * n_labels];
        let mut bias = vec![0.0f32; n_labels];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut grad = vec![0.0f32; n_labels];
        for epoch in 0..options.epochs {
            // Fisher–Yates with a fixed seed: training is deterministic.
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            let lr = options.learning_rate / (1.0 + epoch as f32 * 0.5);
            for &e in &order {
                let x = &vectors[e];
                let y = examples[e].1;
                grad.copy_from_slice(&bias);
                for &(r, v) in x {
                    let row = &weights[r as usize * n_labels..(r as usize + 1) * n_labels];
                    for (l, w) in grad.iter_mut().zip(row) {
                        *l += v * w;
                    }
                }
                softmax(&mut grad);
                grad[y] -= 1.0; // now the gradient of the loss with respect to the logits
                for &(r, v) in x {
                    let row = &mut weights[r as usize * n_labels..(r as usize + 1) * n_labels];
                    for (w, g) in row.iter_mut().zip(&grad) {
                        *w -= lr * (g * v + options.l2 * *w);
                    }
                }
                for (b, g) in bias.iter_mut().zip(&grad) {
                    *b -= lr * 0.1 * g;
                }
            }
        }
        model.weights = weights;
        model.bias = bias;
        Ok(model)
    }

    /// The issue types, in taxonomy order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// TF-IDF weighting of word and char n-gram ids into a unit vector.
    fn weigh(&self, word_ids: Vec<u64>, char_ids: Vec<u64>) -> SparseVec {
        // Features seen in training are renamed to `KNOWN | row`, so scoring needs no second
        // lookup; unseen ones keep their hash (top bit cleared) and still count for
        // similarity between turns.
        let mut items = Vec::with_capacity(word_ids.len() + char_ids.len());
        for (ids, unseen) in [
            (word_ids, self.unseen_idf),
            (char_ids, self.unseen_idf * self.char_weight),
        ] {
            items.extend(ids.into_iter().map(|id| match self.rows.get(&id) {
                Some(&r) => (KNOWN | u64::from(r), self.idf[r as usize]),
                None => (id & !KNOWN, unseen),
            }));
        }
        SparseVec::from_weighted(items)
    }

    /// The TF-IDF vector of a folded text (also used to compare customer turns).
    pub fn vectorize(&self, folded: &str) -> SparseVec {
        let (mut w, mut c) = (Vec::new(), Vec::new());
        ngram_features(folded, &mut w, &mut c);
        self.weigh(w, c)
    }
    /// Linear scores (without bias) of a vector, one per label.
    pub fn scores(&self, v: &SparseVec) -> Vec<f32> {
        let n = self.labels.len();
        let mut out = vec![0.0f32; n];
        for (id, x) in v.entries() {
            if id & KNOWN == 0 {
                continue;
            }
            let r = (id & !KNOWN) as usize;
            if let Some(row) = self.weights.get(r * n..(r + 1) * n) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += x * w;
                }
            }
        }
        out
    }

    /// Keyword boosts for a folded text, one per label.
    pub fn keyword_boosts(&self, folded: &str) -> Vec<f32> {
        let mut out = vec![0.0f32; self.labels.len()];
        if self.keyword_labels.is_empty() {
            return out;
        }
        let ws: Vec<&str> = words(folded).collect();
        let mut found: Vec<PhraseMatch> = Vec::new();
        self.keywords.find(&ws, &mut found);
        for m in found {
            if let Some(&l) = self.keyword_labels.get(m.phrase) {
                out[l] += KEYWORD_BOOST;
            }
        }
        out
    }

    /// Probabilities of every label from summed linear scores (adds the bias, applies
    /// softmax), in label order.
    pub fn probabilities_from_scores(&self, scores: &[f32]) -> Vec<f32> {
        let mut p: Vec<f32> = scores.iter().zip(&self.bias).map(|(s, b)| s + b).collect();
        softmax(&mut p);
        p
    }

    /// Turns label probabilities into a prediction, applying the fallback rule.
    pub fn predict_from_probabilities(&self, p: &[f32]) -> IssuePrediction {
        let mut best: Option<(usize, f32)> = None;
        let mut second: Option<(usize, f32)> = None;
        for (i, &v) in p.iter().enumerate() {
            if best.is_none_or(|(_, b)| v > b) {
                second = best;
                best = Some((i, v));
            } else if second.is_none_or(|(_, s)| v > s) {
                second = Some((i, v));
            }
        }
        let label_of = |i: usize| self.labels.get(i).cloned();
        let Some((bi, bp)) = best else {
            return IssuePrediction {
                label: self.fallback.clone(),
                score: 0.0,
                runner_up: None,
                runner_up_score: 0.0,
            };
        };
        if f64::from(bp) < self.min_score || label_of(bi).is_none() {
            return IssuePrediction {
                label: self.fallback.clone(),
                score: f64::from(bp),
                runner_up: label_of(bi),
                runner_up_score: f64::from(bp),
            };
        }
        IssuePrediction {
            label: label_of(bi).unwrap_or_default(),
            score: f64::from(bp),
            runner_up: second.and_then(|(i, _)| label_of(i)),
            runner_up_score: second.map_or(0.0, |(_, v)| f64::from(v)),
        }
    }

    /// Turns summed linear scores into a prediction.
    pub fn predict_from_scores(&self, scores: &[f32]) -> IssuePrediction {
        self.predict_from_probabilities(&self.probabilities_from_scores(scores))
    }

    /// A classifier that knows nothing and always answers the fallback label.
    pub fn fallback_only() -> Self {
        IssueClassifier {
            labels: Vec::new(),
            rows: FeatureMap::default(),
            idf: Vec::new(),
            unseen_idf: 1.0,
            weights: Vec::new(),
            bias: Vec::new(),
            char_weight: 1.0,
            keywords: PhraseSet::default(),
            keyword_labels: Vec::new(),
            fallback: OTHER.to_string(),
            min_score: 1.0,
        }
    }

    /// Classifies one text on its own.
    pub fn classify(&self, text: &str) -> IssuePrediction {
        let folded = fold(text);
        let v = self.vectorize(&folded);
        let mut s = self.scores(&v);
        for (a, b) in s.iter_mut().zip(self.keyword_boosts(&folded)) {
            *a += b;
        }
        self.predict_from_scores(&s)
    }

    /// The probability of each label for one text, in label order.
    pub fn probabilities(&self, text: &str) -> Vec<f32> {
        let folded = fold(text);
        let v = self.vectorize(&folded);
        let mut s = self.scores(&v);
        for ((a, b), c) in s
            .iter_mut()
            .zip(self.keyword_boosts(&folded))
            .zip(&self.bias)
        {
            *a += b + c;
        }
        softmax(&mut s);
        s
    }
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}
