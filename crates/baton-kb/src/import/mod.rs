//! Importing articles from the three knowledge-base source formats: a folder of Markdown
//! files with YAML front matter, a JSON Lines file, and a CSV with a `question,answer` header.
//!
//! Every error names the file and the line, so an operator can fix the source and re-import.

mod csv;
mod jsonl;
mod markdown;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Article;

pub use self::csv::{import_csv, parse_csv, slug};
pub use self::jsonl::{import_jsonl, parse_jsonl};
pub use self::markdown::{import_markdown_dir, parse_markdown};

/// A place in a source file: the file and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line number.
    pub line: u64,
}

impl Location {
    /// A location in `path` at `line`.
    pub fn new(path: impl Into<PathBuf>, line: u64) -> Self {
        Self {
            path: path.into(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// Why an import failed. Each variant names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path is neither a folder, a `.jsonl` file nor a `.csv` file.
    #[error(
        "{}: unknown knowledge-base source (expected a folder of Markdown files, a .jsonl or a .csv file)",
        path.display()
    )]
    UnknownFormat {
        /// The path given.
        path: PathBuf,
    },
    /// A Markdown file's YAML front matter is malformed or has a field of the wrong type.
    #[error("{at}: bad front matter: {message}")]
    FrontMatter {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A JSON Lines record is not valid JSON or lacks a required field.
    #[error("{at}: bad JSON line: {message}")]
    Json {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A CSV row is malformed, or the header lacks `question` or `answer`.
    #[error("{at}: bad CSV row: {message}")]
    Csv {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A record parsed but cannot be an article (for example an empty id or title).
    #[error("{at}: {message}")]
    Invalid {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// Two records of one source have the same id.
    #[error("duplicate article id `{id}`: {first} and {second}")]
    DuplicateId {
        /// The id used twice.
        id: String,
        /// Where it was first used.
        first: Location,
        /// Where it was used again.
        second: Location,
    },
}

impl ImportError {
    /// The location the error points at (the second one for a duplicate id), if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Io { .. } | Self::UnknownFormat { .. } => None,
            Self::FrontMatter { at, .. }
            | Self::Json { at, .. }
            | Self::Csv { at, .. }
            | Self::Invalid { at, .. } => Some(at),
            Self::DuplicateId { second, .. } => Some(second),
        }
    }
}

/// Which source format a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// A folder of Markdown files with YAML front matter.
    MarkdownDir,
    /// A JSON Lines file, one article per line.
    JsonLines,
    /// A CSV file with a `question,answer` header, one article per row.
    Csv,
}

impl SourceFormat {
    /// The format of `path`: a folder, or a file ending in `.jsonl`/`.ndjson` or `.csv`.
    pub fn of(path: &Path) -> Result<Self, ImportError> {
        if path.is_dir() {
            return Ok(Self::MarkdownDir);
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("jsonl" | "ndjson") => Ok(Self::JsonLines),
            Some("csv") => Ok(Self::Csv),
            _ if !path.exists() => Err(ImportError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            }),
            _ => Err(ImportError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Reads all articles of a knowledge-base source, choosing the format from the path (a
/// folder of Markdown files, a `.jsonl` file or a `.csv` file).
pub fn import_path(path: impl AsRef<Path>) -> Result<Vec<Article>, ImportError> {
    let path = path.as_ref();
    match SourceFormat::of(path)? {
        SourceFormat::MarkdownDir => import_markdown_dir(path),
        SourceFormat::JsonLines => import_jsonl(path),
        SourceFormat::Csv => import_csv(path),
    }
}

/// Reads a whole file, mapping the error to [`ImportError::Io`].
fn read_file(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Collects articles of one source, rejecting a second use of an id and empty ids or titles.
#[derive(Default)]
struct Collector {
    articles: Vec<Article>,
    seen: HashMap<String, Location>,
}

impl Collector {
    fn push(&mut self, article: Article, at: Location) -> Result<(), ImportError> {
        if article.id.trim().is_empty() {
            return Err(ImportError::Invalid {
                at,
                message: "article id is empty".into(),
            });
        }
        if article.title.trim().is_empty() {
            return Err(ImportError::Invalid {
                at,
                message: format!("article `{}` has an empty title", article.id),
            });
        }
        if let Some(first) = self.seen.get(&article.id) {
            return Err(ImportError::DuplicateId {
                id: article.id,
                first: first.clone(),
                second: at,
            });
        }
        self.seen.insert(article.id.clone(), at);
        self.articles.push(article);
        Ok(())
    }

    fn finish(self) -> Vec<Article> {
        self.articles
    }
}

/// Trims every string of a list and drops the blank ones.
fn clean_list(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
