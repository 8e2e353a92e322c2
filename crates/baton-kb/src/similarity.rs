//! How retrieval compares a customer's question with an article's phrasings: TF-IDF vectors
//! over word stems, stem bigrams and character n-grams, compared by cosine.
//!
//! Stems carry meaning; bigrams keep "credit limit" apart from "credit score"; character
//! n-grams survive typos and word forms the stemmer misses ("pasword", "logging in").

use rustc_hash::FxHashMap;

use tantivy::tokenizer::{TextAnalyzer, TokenStream};

use crate::Language;

/// Shortest and longest character n-gram, counted with the word's padding spaces (2..4
/// measured best on clinc150's validation split, and keeps the tables small).
const CHAR_GRAM_MIN: usize = 2;
const CHAR_GRAM_MAX: usize = 4;

/// Feature kinds, hashed into the key so a stem and a character n-gram never collide.
const KIND_STEM: u8 = b'w';
const KIND_BIGRAM: u8 = b'b';
const KIND_CHAR: u8 = b'c';

/// FNV-1a folded to 32 bits: stable across runs and platforms. A rare collision merges two
/// features, which only blurs a similarity a little.
fn hash(kind: u8, parts: &[&[u8]]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(kind);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            eat(0xff);
        }
        for &b in *part {
            eat(b);
        }
    }
    (h ^ (h >> 32)) as u32
}

/// The feature key of a stem, as in [`TermCounts::stems`].
pub(crate) fn stem_key(stem: &str) -> u32 {
    hash(KIND_STEM, &[stem.as_bytes()])
}

/// Raw term counts of one text, before weighting.
#[derive(Debug, Clone, Default)]
pub(crate) struct TermCounts {
    /// Stems and stem bigrams with their counts, sorted by key.
    pub words: Vec<(u32, f32)>,
    /// Character n-grams with their counts, sorted by key.
    pub chars: Vec<(u32, f32)>,
    /// Distinct stem keys (no bigrams), sorted: what coverage is measured over.
    pub stems: Vec<u32>,
}

impl TermCounts {
    /// Every distinct key, for document frequencies.
    fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.words
            .iter()
            .chain(self.chars.iter())
            .map(|&(key, _)| key)
    }

    /// True when the text had no word at all.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.chars.is_empty()
    }
}

/// Turns text into [`TermCounts`] for one language.
#[derive(Clone)]
pub(crate) struct Analysis {
    analyzer: TextAnalyzer,
}

impl Analysis {
    pub fn new(language: Language) -> Self {
        Self {
            analyzer: language.analyzer(),
        }
    }

    /// The stems of `text`, in order.
    pub fn stems(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// Term counts of `text`.
    pub fn counts(&self, text: &str) -> TermCounts {
        counts_of(text, &self.stems(text))
    }

    /// What retrieval needs of a question, from one pass of the analyzer: its term counts,
    /// its distinct stems in order of first appearance (what the full-text search looks up)
    /// and its words (lower case) with a stem for which `known` is false.
    pub fn question(&self, text: &str, known: impl Fn(u32) -> bool) -> Question {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut stems: Vec<String> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        // A word yields at most one stem: its offsets name the word.
        while stream.advance() {
            let token = stream.token();
            if !known(stem_key(&token.text))
                && let Some(word) = text.get(token.offset_from..token.offset_to)
            {
                unknown.push(word.to_lowercase());
            }
            stems.push(token.text.clone());
        }
        drop(stream);
        let counts = counts_of(text, &stems);
        // Questions are short: a linear search beats hashing every stem.
        let mut distinct: Vec<String> = Vec::with_capacity(stems.len());
        for stem in stems {
            if !distinct.contains(&stem) {
                distinct.push(stem);
            }
        }
        Question {
            counts,
            stems: distinct,
            unknown,
        }
    }
}

/// A question as retrieval reads it: see [`Analysis::question`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Question {
    pub counts: TermCounts,
    /// Distinct stems, in order of first appearance.
    pub stems: Vec<String>,
    /// Words (lower case) whose stem no phrasing has: typos and unseen forms.
    pub unknown: Vec<String>,
}

/// Term counts of `text` whose stems, in order, are `stems`.
fn counts_of(text: &str, stems: &[String]) -> TermCounts {
    let mut words: Vec<u32> = stems
        .iter()
        .map(|stem| hash(KIND_STEM, &[stem.as_bytes()]))
        .collect();
    let mut stem_keys = words.clone();
    stem_keys.sort_unstable();
    stem_keys.dedup();
    words.extend(
        stems
            .windows(2)
            .map(|pair| hash(KIND_BIGRAM, &[pair[0].as_bytes(), pair[1].as_bytes()])),
    );
    let mut chars: Vec<u32> = Vec::new();
    for_each_char_gram(text, |gram| chars.push(hash(KIND_CHAR, &[gram.as_bytes()])));
    TermCounts {
        words: counted(words),
        chars: counted(chars),
        stems: stem_keys,
    }
}

/// Each distinct key with the number of times it occurs, sorted by key. (Sorting a short list
/// is cheaper than counting in a hash map; the counts are the same.)
fn counted(mut keys: Vec<u32>) -> Vec<(u32, f32)> {
    keys.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(keys.len());
    for key in keys {
        match out.last_mut() {
            Some((last, count)) if *last == key => *count += 1.0,
            _ => out.push((key, 1.0)),
        }
    }
    out
}

/// Calls `f` with every character n-gram of every word of `text`, lower-cased, each word
/// padded with a space on both sides; a word shorter than the n-gram yields itself padded.
pub(crate) fn for_each_char_gram(text: &str, mut f: impl FnMut(&str)) {
    let lower = text.to_lowercase();
    let mut padded = String::new();
    let mut bounds: Vec<usize> = Vec::new();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        padded.clear();
        padded.push(' ');
        padded.push_str(word);
        padded.push(' ');
        bounds.clear();
        bounds.extend(padded.char_indices().map(|(i, _)| i));
        bounds.push(padded.len());
        let chars = bounds.len() - 1;
        if chars <= CHAR_GRAM_MIN {
            f(&padded);
            continue;
        }
        for n in CHAR_GRAM_MIN..=CHAR_GRAM_MAX.min(chars) {
            for start in 0..=chars - n {
                f(&padded[bounds[start]..bounds[start + n]]);
            }
        }
    }
}

/// The character trigrams of `text` as whitespace-separated tokens (spaces shown as `_`), for
/// the full-text index's typo-tolerant field.
pub(crate) fn trigram_text(text: &str) -> String {
    let mut out = String::new();
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let padded: Vec<char> = std::iter::once('_')
            .chain(word.chars())
            .chain(std::iter::once('_'))
            .collect();
        for gram in padded.windows(3) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.extend(gram.iter());
        }
    }
    out
}

/// Document frequencies over the phrasings of the knowledge base, kept up to date as
/// articles come and go.
#[derive(Debug, Clone, Default)]
pub(crate) struct DocumentFrequencies {
    counts: FxHashMap<u32, u32>,
    documents: u32,
}

impl DocumentFrequencies {
    pub fn add(&mut self, terms: &TermCounts) {
        self.documents += 1;
        for key in terms.keys() {
            *self.counts.entry(key).or_default() += 1;
        }
    }

    pub fn remove(&mut self, terms: &TermCounts) {
        self.documents = self.documents.saturating_sub(1);
        for key in terms.keys() {
            if let Some(count) = self.counts.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(&key);
                }
            }
        }
    }

    /// Number of phrasings containing `key`.
    pub fn frequency(&self, key: u32) -> u32 {
        self.counts.get(&key).copied().unwrap_or(0)
    }

    /// Smoothed inverse document frequency; a term no phrasing has gets the highest weight.
    pub fn idf(&self, key: u32) -> f32 {
        let n = self.documents as f32;
        ((1.0 + n) / (1.0 + self.frequency(key) as f32)).ln() + 1.0
    }
}

/// A sparse vector sorted by key, usually of unit length.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseVector(Vec<(u32, f32)>);

impl SparseVector {
    /// TF-IDF weights with sublinear term frequency, normalised to unit length.
    pub fn weighted(counts: &[(u32, f32)], df: &DocumentFrequencies) -> Self {
        let mut entries: Vec<(u32, f32)> = counts
            .iter()
            .map(|&(key, tf)| (key, (1.0 + tf.ln()) * df.idf(key)))
            .collect();
        normalise(&mut entries);
        Self(entries)
    }

    /// The entries, sorted by key.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.0
    }

    /// Dot product; with unit vectors, the cosine. Retrieval uses [`PhrasingTable`]; this
    /// pairwise form checks it.
    #[cfg(test)]
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let (small, large) = if self.0.len() <= other.0.len() {
            (&self.0, &other.0)
        } else {
            (&other.0, &self.0)
        };
        if small.is_empty() {
            return 0.0;
        }
        // Merging costs small + large; binary search costs small * log(large).
        if large.len() > 16 * small.len() {
            return small
                .iter()
                .filter_map(|&(key, w)| {
                    large
                        .binary_search_by_key(&key, |&(k, _)| k)
                        .ok()
                        .map(|i| w * large[i].1)
                })
                .sum();
        }
        let (mut i, mut j, mut sum) = (0, 0, 0.0);
        while i < small.len() && j < large.len() {
            match small[i].0.cmp(&large[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += small[i].1 * large[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        sum
    }
}

fn normalise(entries: &mut [(u32, f32)]) {
    let norm = entries.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for entry in entries.iter_mut() {
            entry.1 /= norm;
        }
    }
}

/// The phrasing vectors of one article in one table sorted by feature, so that a question
/// is compared with all of them in one pass over the question's features.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhrasingTable {
    /// Each key with the start of its postings: the phrasings that have `keys[i].0` are
    /// `postings[keys[i].1..keys[i + 1].1]` (to the end for the last key). Side by side, so
    /// that walking the keys reads one array.
    keys: Vec<(u32, u32)>,
    postings: Vec<(u16, f32)>,
    phrasings: usize,
    /// Length of the sum of the phrasing vectors: the question's cosine with the article's
    /// centroid is the sum of its phrasing similarities divided by this.
    sum_norm: f32,
}

impl PhrasingTable {
    /// At most `u16::MAX` phrasings are kept.
    pub fn new<'a>(vectors: impl IntoIterator<Item = &'a SparseVector>) -> Self {
        let mut entries: Vec<(u32, u16, f32)> = Vec::new();
        let mut phrasings = 0usize;
        for (i, vector) in vectors.into_iter().take(usize::from(u16::MAX)).enumerate() {
            phrasings = i + 1;
            let i = i as u16;
            entries.extend(vector.0.iter().map(|&(key, w)| (key, i, w)));
        }
        entries.sort_unstable_by_key(|&(key, i, _)| (key, i));
        let mut table = Self {
            phrasings,
            ..Self::default()
        };
        let mut sum_sq = 0.0f32;
        let mut current: Option<u32> = None;
        let mut key_sum = 0.0f32;
        for (key, i, w) in entries {
            if current != Some(key) {
                sum_sq += key_sum * key_sum;
                key_sum = 0.0;
                current = Some(key);
                table.keys.push((key, table.postings.len() as u32));
            }
            key_sum += w;
            table.postings.push((i, w));
        }
        sum_sq += key_sum * key_sum;
        table.sum_norm = sum_sq.sqrt();
        table
    }

    /// Number of phrasings.
    pub fn len(&self) -> usize {
        self.phrasings
    }

    /// Adds the question's similarity with each phrasing to `sims` (one slot per phrasing)
    /// and returns its cosine with the centroid of the phrasings.
    pub fn similarities(&self, query: &QueryKeys<'_>, sims: &mut [f32]) -> f32 {
        let mut total = 0.0;
        self.for_each_shared_key(query, |i, _, weight| {
            for &(phrasing, phrasing_weight) in self.postings(i) {
                let product = weight * phrasing_weight;
                sims[usize::from(phrasing)] += product;
                total += product;
            }
        });
        self.centroid_cosine(total)
    }

    /// For a table of stems and stem bigrams, in one pass: as [`PhrasingTable::similarities`]
    /// for the question's `words`, and for its `stems` (keys with their IDF, a subset of the
    /// word keys) the IDF mass each phrasing has, added to `covered`, and the IDF mass found
    /// in any phrasing, returned with the centroid cosine. (A stem counts as found when the
    /// table has its key: a bigram with the same hash would count too, a collision as rare
    /// as those the hashing already accepts.)
    pub fn word_similarities(
        &self,
        words: &QueryKeys<'_>,
        stems: &QueryKeys<'_>,
        sims: &mut [f32],
        covered: &mut [f32],
    ) -> (f32, f32) {
        let mut total = 0.0;
        // Starts where an empty `f32` sum does, so that nothing found is -0 as before.
        let mut found = -0.0;
        self.for_each_shared_key(words, |i, key, weight| {
            let postings = self.postings(i);
            for &(phrasing, phrasing_weight) in postings {
                let product = weight * phrasing_weight;
                sims[usize::from(phrasing)] += product;
                total += product;
            }
            if let Some(idf) = stems.weight(key) {
                for &(phrasing, _) in postings {
                    covered[usize::from(phrasing)] += idf;
                }
                found += idf;
            }
        });
        (self.centroid_cosine(total), found)
    }

    /// The cosine with the phrasings' centroid, from the sum of the phrasing similarities.
    fn centroid_cosine(&self, total: f32) -> f32 {
        if self.sum_norm > 0.0 {
            total / self.sum_norm
        } else {
            0.0
        }
    }

    /// The phrasings that have the table's `i`-th key, with their weights.
    fn postings(&self, i: usize) -> &[(u16, f32)] {
        let start = self.keys[i].1 as usize;
        let end = self
            .keys
            .get(i + 1)
            .map_or(self.postings.len(), |&(_, next)| next as usize);
        &self.postings[start..end]
    }

    /// Calls `f(position in the table, key, question weight)` for every key the question and
    /// the table share, in increasing key order (so sums come out the same whichever way the
    /// keys are matched).
    #[inline]
    fn for_each_shared_key(&self, query: &QueryKeys<'_>, f: impl FnMut(usize, u32, f32)) {
        // Walking the table costs one probe per table key; searching it, a binary search per
        // question key. A probe is a few times cheaper than a search step.
        let steps = (usize::BITS - self.keys.len().leading_zeros()) as usize;
        if self.keys.len() <= 2 * query.len() * steps {
            self.match_by_walking(query, f);
        } else {
            self.match_by_searching(query.entries, f);
        }
    }

    /// [`PhrasingTable::for_each_shared_key`] by looking every table key up in the question.
    #[inline]
    fn match_by_walking(&self, query: &QueryKeys<'_>, mut f: impl FnMut(usize, u32, f32)) {
        if query.is_empty() {
            return;
        }
        for (i, &(key, _)) in self.keys.iter().enumerate() {
            if let Some(w) = query.weight(key) {
                f(i, key, w);
            }
        }
    }

    /// [`PhrasingTable::for_each_shared_key`] by searching every question key (sorted) in the
    /// table, moving forward through the table's keys.
    #[inline]
    fn match_by_searching(&self, query: &[(u32, f32)], mut f: impl FnMut(usize, u32, f32)) {
        let mut lower = 0;
        for &(key, w) in query {
            lower += self.keys[lower..].partition_point(|&(k, _)| k < key);
            if lower >= self.keys.len() {
                break;
            }
            if self.keys[lower].0 == key {
                f(lower, key, w);
                lower += 1;
            }
        }
    }
}

/// A question's weighted keys (sorted, distinct) with a hash table over them, so that a
/// phrasing table can be walked in its own order with one cheap probe per key.
#[derive(Debug, Clone)]
pub(crate) struct QueryKeys<'a> {
    entries: &'a [(u32, f32)],
    /// Open addressing on the key's low bits: the key and its weight, or the weight 0 for an
    /// empty slot (a question's weights are never 0).
    slots: Vec<(u32, f32)>,
    mask: usize,
}

impl<'a> QueryKeys<'a> {
    /// The lookup table for `entries`, which are sorted by key and distinct.
    pub fn new(entries: &'a [(u32, f32)]) -> Self {
        // At most one slot in eight used: a probe almost always ends at its first slot.
        let size = (entries.len() * 8).next_power_of_two().max(16);
        let mask = size - 1;
        let mut slots = vec![(0, 0.0); size];
        for &(key, weight) in entries {
            let mut at = key as usize & mask;
            while slots[at].1 != 0.0 {
                at = (at + 1) & mask;
            }
            slots[at] = (key, weight);
        }
        Self {
            entries,
            slots,
            mask,
        }
    }

    /// The keys with their weights, sorted by key.
    pub fn entries(&self) -> &'a [(u32, f32)] {
        self.entries
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The weight of `key`, if the question has it.
    fn weight(&self, key: u32) -> Option<f32> {
        let mut at = key as usize & self.mask;
        loop {
            let (k, weight) = self.slots[at];
            if weight == 0.0 {
                return None;
            }
            if k == key {
                return Some(weight);
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// A text as retrieval sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Representation {
    pub words: SparseVector,
    pub chars: SparseVector,
}

impl Representation {
    pub fn new(counts: &TermCounts, df: &DocumentFrequencies) -> Self {
        Self {
            words: SparseVector::weighted(&counts.words, df),
            chars: SparseVector::weighted(&counts.chars, df),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_grams_are_padded_per_word() {
        let mut grams = Vec::new();
        for_each_char_gram("Hi you", |g| grams.push(g.to_string()));
        assert!(grams.contains(&" hi ".to_string()));
        assert!(grams.contains(&" yo".to_string()));
        assert!(grams.contains(&"ou ".to_string()));
        assert!(!grams.iter().any(|g| g.contains("i y")));
    }

    #[test]
    fn a_typo_keeps_most_character_grams() {
        let analysis = Analysis::new(Language::English);
        let mut df = DocumentFrequencies::default();
        let texts = ["reset my password", "pasword reset", "download an invoice"];
        let counts: Vec<TermCounts> = texts.iter().map(|t| analysis.counts(t)).collect();
        for c in &counts {
            df.add(c);
        }
        let r: Vec<Representation> = counts.iter().map(|c| Representation::new(c, &df)).collect();
        assert!(r[0].chars.dot(&r[1].chars) > 0.3);
        assert!(r[0].chars.dot(&r[2].chars) < 0.1);
    }

    #[test]
    fn a_phrasing_table_gives_the_same_cosines_as_pairwise_products() {
        let analysis = Analysis::new(Language::English);
        let mut df = DocumentFrequencies::default();
        let texts = [
            "reset my password",
            "forgot password",
            "change my login email",
        ];
        let counts: Vec<TermCounts> = texts.iter().map(|t| analysis.counts(t)).collect();
        for c in &counts {
            df.add(c);
        }
        let r: Vec<Representation> = counts.iter().map(|c| Representation::new(c, &df)).collect();
        let table = PhrasingTable::new(r.iter().map(|x| &x.chars));
        let query = Representation::new(&analysis.counts("password reset"), &df);
        let mut sims = vec![0.0; 3];
        table.similarities(&QueryKeys::new(query.chars.entries()), &mut sims);
        for (i, x) in r.iter().enumerate() {
            assert!((sims[i] - query.chars.dot(&x.chars)).abs() < 1e-5);
        }
    }

    #[test]
    fn walking_and_searching_a_phrasing_table_match_the_same_keys_in_the_same_order() {
        let analysis = Analysis::new(Language::English);
        let mut df = DocumentFrequencies::default();
        let texts = [
            "reset my password",
            "forgot password",
            "change my login email",
            "where do I download an invoice",
        ];
        let counts: Vec<TermCounts> = texts.iter().map(|t| analysis.counts(t)).collect();
        for c in &counts {
            df.add(c);
        }
        let r: Vec<Representation> = counts.iter().map(|c| Representation::new(c, &df)).collect();
        let table = PhrasingTable::new(r.iter().map(|x| &x.chars));
        for question in ["password reset", "invoice", "zzz", ""] {
            let query = Representation::new(&analysis.counts(question), &df);
            let keys = QueryKeys::new(query.chars.entries());
            let mut walked = Vec::new();
            table.match_by_walking(&keys, |i, key, w| walked.push((i, key, w)));
            let mut searched = Vec::new();
            table.match_by_searching(keys.entries(), |i, key, w| searched.push((i, key, w)));
            assert_eq!(walked, searched, "{question}");
            assert_eq!(walked.is_empty(), question.is_empty() || question == "zzz");
        }
    }

    #[test]
    fn query_keys_find_every_key_and_no_other() {
        // A question's weights are never 0 (0 marks an empty slot).
        let entries: Vec<(u32, f32)> = (0..50u32).map(|i| (i * 64, (i + 1) as f32)).collect();
        let keys = QueryKeys::new(&entries);
        for &(key, w) in &entries {
            assert_eq!(keys.weight(key), Some(w));
        }
        assert_eq!(keys.weight(1), None);
        assert_eq!(keys.weight(u32::MAX), None);
    }

    #[test]
    fn a_question_names_the_words_no_phrasing_has() {
        let analysis = Analysis::new(Language::English);
        let known = analysis.counts("how do I reset my password").stems;
        let question = analysis.question("How do I RESET the Pasword of the account?", |key| {
            known.binary_search(&key).is_ok()
        });
        // Stop words ("the", "of") have no stem, so they are never unknown.
        assert_eq!(question.unknown, ["pasword", "account"]);
        assert_eq!(
            question.stems,
            ["how", "do", "i", "reset", "pasword", "account"]
        );
    }

    #[test]
    fn trigram_text_marks_word_edges() {
        assert_eq!(trigram_text("Log in"), "_lo log og_ _in in_");
    }
}
