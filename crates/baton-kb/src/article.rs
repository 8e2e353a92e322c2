//! The knowledge-base article: what the AI answers from and what retrieval ranks.

use serde::{Deserialize, Serialize};

/// One knowledge-base article.
///
/// `questions` are example phrasings of what the article answers; they drive retrieval and
/// confidence far more than the body does, so a few realistic ones per article pay off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Stable identifier; imports upsert by it.
    pub id: String,
    /// Human-readable title, usually phrased as the main question.
    pub title: String,
    /// The article text served to customers and agents.
    #[serde(default)]
    pub body: String,
    /// Example questions this article answers.
    #[serde(default)]
    pub questions: Vec<String>,
    /// Issue type the article belongs to (e.g. `billing`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// Free tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Article {
    /// A new article with a title and body and no example questions.
    pub fn new(id: impl Into<String>, title: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            body: body.into(),
            questions: Vec::new(),
            issue_type: None,
            tags: Vec::new(),
        }
    }

    /// The same article with these example questions.
    pub fn with_questions<I, S>(mut self, questions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.questions = questions.into_iter().map(Into::into).collect();
        self
    }

    /// The phrasings retrieval compares a customer's question with: the title and every
    /// example question, each once (compared case-insensitively, ignoring blank ones).
    pub fn phrasings(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for text in
            std::iter::once(self.title.as_str()).chain(self.questions.iter().map(String::as_str))
        {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if seen.insert(text.to_lowercase()) {
                out.push(text);
            }
        }
        out
    }
}
