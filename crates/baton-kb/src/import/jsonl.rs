//! JSON Lines sources: one article per line, `{"id", "title", "body", "questions", "issue_type"?, "tags"?}`.

use std::path::Path;

use super::{Collector, ImportError, Location, clean_list, read_file};
use crate::Article;

/// Reads a JSON Lines file of articles. Blank lines are skipped.
pub fn import_jsonl(path: &Path) -> Result<Vec<Article>, ImportError> {
    let text = read_file(path)?;
    parse_jsonl(path, &text)
}

/// Parses JSON Lines text; `path` is only used to name the source in errors.
pub fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<Article>, ImportError> {
    let mut collector = Collector::default();
    for (index, line) in text.lines().enumerate() {
        let line_number = index as u64 + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = Location::new(path, line_number);
        let mut article: Article =
            serde_json::from_str(line).map_err(|error| ImportError::Json {
                at: at.clone(),
                message: strip_position(&error.to_string()),
            })?;
        article.id = article.id.trim().to_string();
        article.title = article.title.trim().to_string();
        article.questions = clean_list(article.questions);
        article.tags = clean_list(article.tags);
        collector.push(article, at)?;
    }
    Ok(collector.finish())
}

/// serde_json appends " at line 1 column N" (the line is always 1 for one record): keep the
/// column, which still helps, but drop the misleading line.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line 1 column ") {
        Some(start) => format!(
            "{} (column {})",
            &message[..start],
            &message[start + " at line 1 column ".len()..]
        ),
        None => message.to_string(),
    }
}
