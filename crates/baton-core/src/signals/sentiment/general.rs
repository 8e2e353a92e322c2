//! The general-text word layer of the sentiment model: a weight per word and word pair,
//! learned on rated general English (the training half of VADER's ground truth) as a
//! correction on top of the lexicon, and read from the generated `general_words.tsv`.
//!
//! The lexicon knows the valence of single sentiment words; this layer knows what rated
//! sentences say about the words around them ("worth", "waste of", "only", "?"-less facts).
//! It is cheap: one hash lookup per word and per pair of neighbouring words.

use std::collections::HashMap;

/// The generated weights (see the header of the file for their source and licence).
const GENERAL_WORDS: &str = include_str!("general_words.tsv");

/// Word and word-pair weights on VADER's raw valence scale.
pub(super) struct GeneralWords {
    weights: HashMap<Box<str>, f32>,
    /// Divides the summed weights by `len^power` (`len` = number of words), read from the
    /// file's `#! length_power` line.
    length_power: f64,
}

impl GeneralWords {
    /// The shipped weights.
    pub(super) fn builtin() -> Self {
        Self::parse(GENERAL_WORDS)
    }

    /// Reads `term<TAB>weight` lines; `#` starts a comment, `#! length_power P` sets the
    /// length normalisation. Lines that do not parse are skipped (the file is generated).
    pub(super) fn parse(text: &str) -> Self {
        let mut weights = HashMap::new();
        let mut length_power = 0.5;
        for line in text.lines() {
            if let Some(directive) = line.strip_prefix("#!") {
                let mut parts = directive.split_whitespace();
                if let (Some("length_power"), Some(p)) = (parts.next(), parts.next()) {
                    length_power = p.parse().unwrap_or(length_power);
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((term, weight)) = line.split_once('\t') else {
                continue;
            };
            if let Ok(w) = weight.trim().parse::<f32>() {
                weights.insert(term.into(), w);
            }
        }
        GeneralWords {
            weights,
            length_power,
        }
    }

    /// How many terms carry a weight.
    pub(super) fn len(&self) -> usize {
        self.weights.len()
    }

    /// The layer's valence for a message's folded words.
    pub(super) fn value(&self, words: &[&str]) -> f64 {
        if words.is_empty() || self.weights.is_empty() {
            return 0.0;
        }
        let mut sum = 0.0f64;
        let mut pair = String::with_capacity(32);
        for (i, w) in words.iter().enumerate() {
            if let Some(v) = self.weights.get(*w) {
                sum += f64::from(*v);
            }
            if let Some(next) = words.get(i + 1) {
                pair.clear();
                pair.push_str(w);
                pair.push(' ');
                pair.push_str(next);
                if let Some(v) = self.weights.get(pair.as_str()) {
                    sum += f64::from(*v);
                }
            }
        }
        sum / (words.len() as f64).powf(self.length_power)
    }
}

/// The terms [`GeneralWords`] weighs in a message's folded words: each word, and each pair
/// of neighbouring words joined by a space (for the generator).
pub(super) fn terms(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_pairs_add_up_scaled_by_length() {
        let g = GeneralWords::parse("# comment\n#! length_power 0.5\nworth\t0.5\nwaste of\t-2\n");
        let v = g.value(&["a", "waste", "of", "time"]);
        assert!((v - (-2.0 / 2.0)).abs() < 1e-9, "{v}");
        let v = g.value(&["worth", "it"]);
        assert!((v - 0.5 / 2f64.sqrt()).abs() < 1e-9, "{v}");
        assert_eq!(g.value(&[]), 0.0);
        assert_eq!(g.len(), 2);
    }
}
