//! How strongly a message's wording judges, learned from rated general English: a logistic
//! model over words and pairs of neighbouring words that predicts how far from neutral
//! people rate a sentence (|mean rating| / 4 in VADER's ground truth). The sentiment score
//! is scaled by the prediction relative to its average, so matter-of-fact wording ("what
//! time does check-in open for flight 80?") keeps the lexicon's sign but less of its
//! strength, and judging wording keeps more. The weights are generated into
//! `intensity_words.tsv` by the `fit-sentiment-words` example (see its header for the
//! source and licence). Cost: one hash lookup per word and per pair of words.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over a term's bytes: the table is keyed by this hash, so a pair of words is looked
/// up by hashing on from its first word, without building the pair's text.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The keys are already hashes: use them as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(self.0 ^ FNV_OFFSET, bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Term hash → weight. Two of the 8,000-odd terms sharing a 64-bit hash, or a word outside
/// the table hitting one, is too unlikely to matter.
type TermMap = HashMap<u64, f32, BuildHasherDefault<KeyHasher>>;

/// The generated weights.
const INTENSITY_WORDS: &str = include_str!("intensity_words.tsv");

/// The intensity model: `p = sigmoid(bias + Σ weight(term) / words^length_power)`, and
/// the factor `p / mean` (mean: the average `p` over the training sentences).
pub(super) struct Intensity {
    weights: TermMap,
    bias: f64,
    mean: f64,
    length_power: f64,
}

impl Intensity {
    /// The shipped weights.
    pub(super) fn builtin() -> Self {
        Self::parse(INTENSITY_WORDS)
    }

    /// Reads `term<TAB>weight` lines; `#` starts a comment and `#! NAME VALUE` sets
    /// `bias`, `mean` or `length_power`. Lines that do not parse are skipped (the file is
    /// generated). Without weights or a mean, the factor is 1.
    pub(super) fn parse(text: &str) -> Self {
        let mut model = Intensity {
            weights: TermMap::default(),
            bias: 0.0,
            mean: 0.0,
            length_power: 0.5,
        };
        for line in text.lines() {
            if let Some(directive) = line.strip_prefix("#!") {
                let mut parts = directive.split_whitespace();
                let (Some(name), Some(Ok(value))) =
                    (parts.next(), parts.next().map(str::parse::<f64>))
                else {
                    continue;
                };
                match name {
                    "bias" => model.bias = value,
                    "mean" => model.mean = value,
                    "length_power" => model.length_power = value,
                    _ => {}
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if let Some((term, weight)) = line.split_once('\t')
                && let Ok(w) = weight.trim().parse::<f32>()
            {
                model.weights.insert(fnv(FNV_OFFSET, term.as_bytes()), w);
            }
        }
        model
    }

    /// How many terms carry a weight.
    pub(super) fn len(&self) -> usize {
        self.weights.len()
    }

    /// The factor for a message's folded words: the predicted intensity over its average
    /// (between 0 and 1 / mean); 1 when the model is empty.
    pub(super) fn factor(&self, words: &[&str]) -> f64 {
        if self.weights.is_empty() || self.mean <= 0.0 {
            return 1.0;
        }
        let mut sum = 0.0f64;
        for (i, w) in words.iter().enumerate() {
            let h = fnv(FNV_OFFSET, w.as_bytes());
            if let Some(v) = self.weights.get(&h) {
                sum += f64::from(*v);
            }
            if let Some(next) = words.get(i + 1) {
                let pair = fnv(fnv(h, b" "), next.as_bytes());
                if let Some(v) = self.weights.get(&pair) {
                    sum += f64::from(*v);
                }
            }
        }
        let z = self.bias + sum / (words.len().max(1) as f64).powf(self.length_power);
        1.0 / (1.0 + (-z).exp()) / self.mean
    }
}

/// The terms [`Intensity`] weighs in a message's folded words: each word, and each pair of
/// neighbouring words joined by a space.
pub(super) fn terms(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Intensity {
        Intensity::parse(
            "# comment\n#! bias 0\n#! mean 0.5\n#! length_power 0.5\nawful\t2\nflight number\t-2\n",
        )
    }

    #[test]
    fn judging_words_raise_the_factor_and_plain_facts_lower_it() {
        let m = model();
        assert_eq!(m.len(), 2);
        // No known term: sigmoid(0) / mean = 1.
        assert!((m.factor(&["hello", "there"]) - 1.0).abs() < 1e-9);
        let judging = m.factor(&["an", "awful", "day", "today"]);
        let expected = 1.0 / (1.0 + (-1.0f64).exp()) / 0.5; // 2 / sqrt(4) = 1
        assert!((judging - expected).abs() < 1e-9, "{judging}");
        assert!(m.factor(&["my", "flight", "number", "is"]) < 1.0);
    }

    #[test]
    fn an_empty_model_leaves_scores_alone() {
        let m = Intensity::parse("# nothing\n");
        assert_eq!(m.factor(&["awful"]), 1.0);
        assert_eq!(m.factor(&[]), 1.0);
    }

    #[test]
    fn terms_are_words_and_neighbouring_pairs() {
        assert_eq!(terms(&["a", "b", "c"]), ["a", "b", "c", "a b", "b c"]);
    }
}
