//! Dense embeddings: turning texts into unit-length vectors whose dot product says how close
//! their meanings are. Optional: retrieval is complete without them, and uses them, when an
//! [`Embedder`] is attached to the index, as extra ranking and confidence features.
//!
//! Two embedders ship: [`OpenAiEmbeddings`], a client for any OpenAI-compatible
//! `/v1/embeddings` endpoint, and (with the `local-embeddings` feature) `LocalEmbeddings`, a
//! BERT sentence-embedding model such as all-MiniLM-L6-v2 run in-process from a folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[cfg(feature = "local-embeddings")]
mod local;
mod openai;

#[cfg(feature = "local-embeddings")]
pub use local::LocalEmbeddings;
pub use openai::{OpenAiEmbeddings, OpenAiOptions};

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The endpoint could not be reached or the connection failed.
    #[error("embeddings endpoint {url}: {message}")]
    Connection {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The endpoint did not answer in time.
    #[error("embeddings endpoint {url} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The time allowed per request.
        timeout_ms: u64,
    },
    /// The endpoint refused the credentials (HTTP 401 or 403).
    #[error("embeddings endpoint {url} refused the API key (HTTP {status}): {message}")]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The endpoint's explanation, shortened.
        message: String,
    },
    /// The endpoint answered with an error status (after any retries).
    #[error("embeddings endpoint {url} answered HTTP {status}: {message}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The endpoint's explanation, shortened.
        message: String,
    },
    /// The endpoint's answer is not the embeddings protocol.
    #[error("embeddings endpoint {url} sent an unusable answer: {message}")]
    Malformed {
        /// The URL asked.
        url: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// The client was configured with something unusable.
    #[error("embeddings client: {0}")]
    Config(String),
    /// A local model folder could not be loaded or run.
    #[error("embedding model in {dir}: {message}")]
    Model {
        /// The model folder.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Something that turns texts into L2-normalised vectors of one fixed dimension.
///
/// Calls block; servers run them on a blocking thread.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// One vector per text, in order, each of unit length (or all zeros for a text with no
    /// content at all).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError>;

    /// What this embedder is, for logs: the model and where it runs.
    fn describe(&self) -> String;
}

/// Scales `vector` to unit length; a zero vector stays zero.
pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for x in vector.iter_mut() {
            *x /= norm;
        }
    }
}

/// The dot product of two vectors; 0 when their dimensions differ (vectors from different
/// models are not comparable).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Remembers the vectors of texts it has embedded, so that rebuilding an index (after an
/// edit, or per fold while fitting) embeds only the texts it has not seen. Meant for article
/// phrasings, which repeat; questions from customers rarely do.
#[derive(Debug)]
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    capacity: usize,
    cache: Mutex<HashMap<String, Arc<[f32]>>>,
}

impl CachedEmbedder {
    /// A cache of at most `capacity` texts in front of `inner`; when full it starts afresh.
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self {
            inner,
            capacity: capacity.max(1),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Number of texts remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<[f32]>>> {
        match self.cache.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Embedder for CachedEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let missing: Vec<&str> = {
            let cache = self.lock();
            let mut seen = std::collections::HashSet::new();
            texts
                .iter()
                .copied()
                .filter(|t| !cache.contains_key(*t) && seen.insert(*t))
                .collect()
        };
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            self.inner.embed(&missing)?
        };
        let mut cache = self.lock();
        if cache.len() + fresh.len() > self.capacity {
            cache.clear();
        }
        let mut local: HashMap<&str, Arc<[f32]>> = HashMap::new();
        for (text, vector) in missing.iter().zip(fresh) {
            let vector: Arc<[f32]> = vector.into();
            cache.insert((*text).to_string(), vector.clone());
            local.insert(text, vector);
        }
        Ok(texts
            .iter()
            .map(|t| {
                local
                    .get(t)
                    .or_else(|| cache.get(*t))
                    .map(|v| v.to_vec())
                    .unwrap_or_default()
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
