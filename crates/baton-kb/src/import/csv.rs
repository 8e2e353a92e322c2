//! CSV sources with a `question,answer` header: one article per row, the question as its
//! title and first example question, the answer as its body.
//!
//! Ids: an `id` column wins when present; otherwise the id is the slug of the question
//! ([`slug`]), which stays the same as long as the question's wording does. Optional
//! `issue_type` and `tags` (comma- or semicolon-separated) columns are read too.

use std::path::Path;

use super::{Collector, ImportError, Location, clean_list, read_file};
use crate::Article;

/// Longest derived id, in characters.
const MAX_SLUG_CHARS: usize = 80;

/// Reads a CSV file of question/answer rows.
pub fn import_csv(path: &Path) -> Result<Vec<Article>, ImportError> {
    let text = read_file(path)?;
    parse_csv(path, &text)
}

/// Parses CSV text; `path` is only used to name the source in errors.
pub fn parse_csv(path: &Path, text: &str) -> Result<Vec<Article>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_error = |error: ::csv::Error| {
        let line = error.position().map_or(1, |p| p.line());
        let message = match error.kind() {
            ::csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("expected {expected_len} fields like the header, found {len}"),
            _ => error.to_string(),
        };
        ImportError::Csv {
            at: Location::new(path, line),
            message,
        }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(question_col), Some(answer_col)) = (column("question"), column("answer")) else {
        return Err(ImportError::Csv {
            at: Location::new(path, 1),
            message: "the header must name a `question` and an `answer` column".into(),
        });
    };
    let id_col = column("id");
    let issue_type_col = column("issue_type");
    let tags_col = column("tags");

    let mut collector = Collector::default();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(1, |p| p.line());
        let at = Location::new(path, line);
        let field = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let Some(question) = field(Some(question_col)) else {
            return Err(ImportError::Csv {
                at,
                message: "the question is empty".into(),
            });
        };
        let id = match field(id_col) {
            Some(id) => id.to_string(),
            None => slug(question),
        };
        if id.is_empty() {
            return Err(ImportError::Csv {
                at,
                message: "cannot derive an id from this question; add an `id` column".into(),
            });
        }
        let article = Article {
            id,
            title: question.to_string(),
            body: field(Some(answer_col)).unwrap_or_default().to_string(),
            questions: vec![question.to_string()],
            issue_type: field(issue_type_col).map(str::to_string),
            tags: clean_list(
                field(tags_col)
                    .map(|t| t.split([',', ';']).map(str::to_string).collect())
                    .unwrap_or_default(),
            ),
        };
        collector.push(article, at)?;
    }
    Ok(collector.finish())
}

/// The id derived from a question: lower-case letters and digits, runs of anything else
/// turned into one `-`, cut at a word boundary to at most 80 characters.
///
/// ```
/// assert_eq!(baton_kb::slug("How do I reset my password?"), "how-do-i-reset-my-password");
/// ```
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else {
            pending_dash = true;
        }
    }
    if out.chars().count() > MAX_SLUG_CHARS {
        let cut: String = out.chars().take(MAX_SLUG_CHARS + 1).collect();
        out = match cut.rfind('-') {
            Some(i) if i > 0 => cut[..i].to_string(),
            _ => cut.chars().take(MAX_SLUG_CHARS).collect(),
        };
    }
    out
}
