//! The language of a knowledge base: which stemmer and stop-word list its text analysis uses.

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language as TantivyLanguage, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};

/// Languages with both a stemmer and a stop-word list. English is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Danish.
    Danish,
    /// Dutch.
    Dutch,
    /// English (the default).
    #[default]
    English,
    /// Finnish.
    Finnish,
    /// French.
    French,
    /// German.
    German,
    /// Hungarian.
    Hungarian,
    /// Italian.
    Italian,
    /// Norwegian.
    Norwegian,
    /// Portuguese.
    Portuguese,
    /// Russian.
    Russian,
    /// Spanish.
    Spanish,
    /// Swedish.
    Swedish,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 13] = [
        Self::Danish,
        Self::Dutch,
        Self::English,
        Self::Finnish,
        Self::French,
        Self::German,
        Self::Hungarian,
        Self::Italian,
        Self::Norwegian,
        Self::Portuguese,
        Self::Russian,
        Self::Spanish,
        Self::Swedish,
    ];

    /// The lower-case English name, as used in configuration (`"english"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Danish => "danish",
            Self::Dutch => "dutch",
            Self::English => "english",
            Self::Finnish => "finnish",
            Self::French => "french",
            Self::German => "german",
            Self::Hungarian => "hungarian",
            Self::Italian => "italian",
            Self::Norwegian => "norwegian",
            Self::Portuguese => "portuguese",
            Self::Russian => "russian",
            Self::Spanish => "spanish",
            Self::Swedish => "swedish",
        }
    }

    /// The language with this configuration name (case-insensitive), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    fn tantivy(self) -> TantivyLanguage {
        match self {
            Self::Danish => TantivyLanguage::Danish,
            Self::Dutch => TantivyLanguage::Dutch,
            Self::English => TantivyLanguage::English,
            Self::Finnish => TantivyLanguage::Finnish,
            Self::French => TantivyLanguage::French,
            Self::German => TantivyLanguage::German,
            Self::Hungarian => TantivyLanguage::Hungarian,
            Self::Italian => TantivyLanguage::Italian,
            Self::Norwegian => TantivyLanguage::Norwegian,
            Self::Portuguese => TantivyLanguage::Portuguese,
            Self::Russian => TantivyLanguage::Russian,
            Self::Spanish => TantivyLanguage::Spanish,
            Self::Swedish => TantivyLanguage::Swedish,
        }
    }

    /// The analyzer for this language: split on non-alphanumerics, drop very long tokens,
    /// lower-case, drop stop words, stem.
    pub(crate) fn analyzer(self) -> TextAnalyzer {
        let builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter_dynamic(RemoveLongFilter::limit(40))
            .filter_dynamic(LowerCaser);
        let builder = match StopWordFilter::new(self.tantivy()) {
            Some(stop_words) => builder.filter_dynamic(stop_words),
            None => builder,
        };
        builder.filter_dynamic(Stemmer::new(self.tantivy())).build()
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
