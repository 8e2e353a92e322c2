//! Markdown folders: one article per `.md` file, with optional YAML front matter
//! (`id`, `title`, `questions`, `issue_type`, `tags`); the rest of the file is the body.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::{Collector, ImportError, Location, clean_list, read_file};
use crate::Article;

/// Reads every Markdown file (`.md`, `.markdown`) under `dir`, subfolders included, in path
/// order. Hidden files and folders are skipped.
pub fn import_markdown_dir(dir: &Path) -> Result<Vec<Article>, ImportError> {
    let mut files = Vec::new();
    collect_markdown_files(dir, &mut files)?;
    files.sort();
    let mut collector = Collector::default();
    for file in files {
        let text = read_file(&file)?;
        let (article, id_line) = parse_markdown(&file, &text)?;
        collector.push(article, Location::new(&file, id_line))?;
    }
    Ok(collector.finish())
}

fn collect_markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let io_error = |source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        let file_type = entry.file_type().map_err(io_error)?;
        if file_type.is_dir() {
            collect_markdown_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The front matter fields; anything else in it is ignored (exports often carry authors,
/// dates and the like).
#[derive(Debug, Default, Deserialize)]
struct FrontMatter {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    questions: Option<OneOrMany>,
    #[serde(default)]
    issue_type: Option<String>,
    #[serde(default)]
    tags: Option<OneOrMany>,
}

/// A list, or a single string (comma-separated for tags).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

impl OneOrMany {
    fn into_list(self, split_commas: bool) -> Vec<String> {
        match self {
            Self::Many(items) => items,
            Self::One(item) if split_commas => item.split(',').map(str::to_string).collect(),
            Self::One(item) => vec![item],
        }
    }
}

/// Parses one Markdown article. Returns the article and the line its id comes from (the
/// `id:` line of the front matter, or line 1 when the id is the file name).
pub fn parse_markdown(path: &Path, text: &str) -> Result<(Article, u64), ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body) = split_front_matter(path, text)?;
    let mut id_line = 1;
    let matter = match front {
        Some(yaml) if !yaml.trim().is_empty() => {
            id_line = yaml
                .lines()
                .position(|line| line.starts_with("id:"))
                .map_or(1, |i| i as u64 + 2);
            serde_yaml_ng::from_str::<FrontMatter>(yaml).map_err(|error| {
                // The YAML starts on line 2 of the file, after the opening `---`.
                let line = error.location().map_or(1, |l| l.line() as u64 + 1);
                ImportError::FrontMatter {
                    at: Location::new(path, line),
                    message: strip_position(&error.to_string()),
                }
            })?
        }
        _ => FrontMatter::default(),
    };

    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = match matter.id {
        None | Some(Value::Null) => stem.clone(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => {
            return Err(ImportError::FrontMatter {
                at: Location::new(path, id_line),
                message: "`id` must be a string".into(),
            });
        }
    };
    let body = body.trim();
    let title = matter
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| first_heading(body))
        .unwrap_or(stem);
    let article = Article {
        id,
        title,
        body: body.to_string(),
        questions: clean_list(
            matter
                .questions
                .map(|q| q.into_list(false))
                .unwrap_or_default(),
        ),
        issue_type: matter
            .issue_type
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        tags: clean_list(matter.tags.map(|t| t.into_list(true)).unwrap_or_default()),
    };
    Ok((article, id_line))
}

/// Splits `---` front matter from the body. A file that does not open with `---` has none.
fn split_front_matter<'a>(
    path: &Path,
    text: &'a str,
) -> Result<(Option<&'a str>, &'a str), ImportError> {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok((None, text));
    };
    if first.trim_end() != "---" {
        return Ok((None, text));
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            let yaml = &text[start..offset];
            let body = &text[offset + line.len()..];
            return Ok((Some(yaml), body));
        }
        offset += line.len();
    }
    Err(ImportError::FrontMatter {
        at: Location::new(path, 1),
        message: "front matter opened with `---` is never closed".into(),
    })
}

/// The text of the first level-1 ATX heading (`# Title`), if any.
fn first_heading(body: &str) -> Option<String> {
    body.lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// serde_yaml_ng appends the position within the YAML; the error already carries the file line.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(start) => message[..start].to_string(),
        None => message.to_string(),
    }
}
