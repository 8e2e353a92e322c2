//! A client for OpenAI-compatible embeddings endpoints (OpenAI, vLLM, Ollama, llama.cpp
//! server, text-embeddings-inference): `POST {base_url}/embeddings` with
//! `{"model", "input": [..]}`, answered by `{"data": [{"index", "embedding"}]}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Embedder, EmbeddingError, normalise};

/// Longest error text kept from an endpoint's answer.
const MESSAGE_CHARS: usize = 300;
/// Longest wait a `Retry-After` header is honoured for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How to reach an embeddings endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiOptions {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// The embedding model's name, e.g. `text-embedding-3-small`.
    pub model: String,
    /// Sent as a bearer token when present.
    pub api_key: Option<String>,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Further attempts after an HTTP 429 or 5xx answer or a failed connection.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Most texts sent in one request.
    pub batch_size: usize,
}

impl OpenAiOptions {
    /// Options for this endpoint and model with the defaults: no key, 10 s timeout, two
    /// retries from 250 ms, batches of 64.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(250),
            batch_size: 64,
        }
    }
}

/// The embeddings client.
pub struct OpenAiEmbeddings {
    client: reqwest::blocking::Client,
    url: String,
    options: OpenAiOptions,
}

impl std::fmt::Debug for OpenAiEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("OpenAiEmbeddings")
            .field("url", &self.url)
            .field("model", &self.options.model)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

/// What one attempt came to.
enum Attempt {
    Done(Vec<Vec<f32>>),
    /// Worth another try, after at least this long (from `Retry-After`), with this error if
    /// there is no try left.
    Retry(Option<Duration>, EmbeddingError),
}

impl OpenAiEmbeddings {
    /// A client for this endpoint. Builds no connection yet. Can be called anywhere, also
    /// inside an async runtime; [`Embedder::embed`] blocks, so call it where blocking is
    /// allowed (`spawn_blocking`, `block_in_place`, a plain thread).
    pub fn new(options: OpenAiOptions) -> Result<Self, EmbeddingError> {
        let base = options.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(EmbeddingError::Config(format!(
                "base URL {:?} must start with http:// or https://",
                options.base_url
            )));
        }
        if options.model.trim().is_empty() {
            return Err(EmbeddingError::Config("the model name is empty".into()));
        }
        if options.batch_size == 0 {
            return Err(EmbeddingError::Config(
                "the batch size must be at least 1".into(),
            ));
        }
        // The blocking client refuses to be built inside an async runtime (debug builds
        // panic), and servers build it at start inside one: build it on a plain thread.
        let timeout = options.timeout;
        let client = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    reqwest::blocking::Client::builder()
                        .timeout(timeout)
                        .build()
                })
                .join()
        })
        .map_err(|_| EmbeddingError::Config("building the HTTP client panicked".into()))?
        .map_err(|e| EmbeddingError::Config(e.to_string()))?;
        Ok(Self {
            client,
            url: format!("{base}/embeddings"),
            options,
        })
    }

    fn batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut attempt = 0u32;
        loop {
            match self.attempt(texts) {
                Ok(Attempt::Done(vectors)) => return Ok(vectors),
                Ok(Attempt::Retry(after, error)) => {
                    if attempt >= self.options.retries {
                        return Err(error);
                    }
                    let backoff = self.options.backoff.saturating_mul(1 << attempt.min(16));
                    std::thread::sleep(after.map_or(backoff, |a| a.max(backoff)));
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn attempt(&self, texts: &[&str]) -> Result<Attempt, EmbeddingError> {
        let mut request = self.client.post(&self.url).json(&EmbeddingsRequest {
            model: &self.options.model,
            input: texts,
        });
        if let Some(key) = &self.options.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send() {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(self.timeout()),
            Err(e) if e.is_connect() => {
                return Ok(Attempt::Retry(
                    None,
                    EmbeddingError::Connection {
                        url: self.url.clone(),
                        message: e.to_string(),
                    },
                ));
            }
            Err(e) => {
                return Err(EmbeddingError::Connection {
                    url: self.url.clone(),
                    message: e.to_string(),
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = match response.text() {
            Ok(body) => body,
            Err(e) if e.is_timeout() => return Err(self.timeout()),
            Err(e) => {
                return Err(EmbeddingError::Connection {
                    url: self.url.clone(),
                    message: e.to_string(),
                });
            }
        };
        if !status.is_success() {
            let message: String = body.trim().chars().take(MESSAGE_CHARS).collect();
            let code = status.as_u16();
            if code == 401 || code == 403 {
                return Err(EmbeddingError::Unauthorized {
                    url: self.url.clone(),
                    status: code,
                    message,
                });
            }
            let error = EmbeddingError::Status {
                url: self.url.clone(),
                status: code,
                message,
            };
            if code == 429 || status.is_server_error() {
                return Ok(Attempt::Retry(retry_after, error));
            }
            return Err(error);
        }
        self.parse(&body, texts.len()).map(Attempt::Done)
    }

    fn parse(&self, body: &str, expected: usize) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let malformed = |message: String| EmbeddingError::Malformed {
            url: self.url.clone(),
            message,
        };
        let answer: EmbeddingsResponse = serde_json::from_str(body)
            .map_err(|e| malformed(format!("not the expected JSON: {e}")))?;
        if answer.data.len() != expected {
            return Err(malformed(format!(
                "{} embeddings for {expected} texts",
                answer.data.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
        for item in answer.data {
            let slot = vectors
                .get_mut(item.index)
                .ok_or_else(|| malformed(format!("index {} out of range", item.index)))?;
            if slot.is_some() {
                return Err(malformed(format!("index {} given twice", item.index)));
            }
            *slot = Some(item.embedding);
        }
        let mut out: Vec<Vec<f32>> = vectors.into_iter().flatten().collect();
        let dimension = out.first().map_or(0, Vec::len);
        if dimension == 0 || out.iter().any(|v| v.len() != dimension) {
            return Err(malformed(
                "embeddings are empty or of different lengths".into(),
            ));
        }
        if out.iter().flatten().any(|x| !x.is_finite()) {
            return Err(malformed("an embedding has a non-finite value".into()));
        }
        for vector in &mut out {
            normalise(vector);
        }
        Ok(out)
    }

    fn timeout(&self) -> EmbeddingError {
        EmbeddingError::Timeout {
            url: self.url.clone(),
            timeout_ms: u64::try_from(self.options.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Embedder for OpenAiEmbeddings {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.options.batch_size) {
            let vectors = self.batch(chunk)?;
            if let (Some(first), Some(new)) = (out.first().map(Vec::len), vectors.first())
                && new.len() != first
            {
                return Err(EmbeddingError::Malformed {
                    url: self.url.clone(),
                    message: "batches answered with embeddings of different lengths".into(),
                });
            }
            out.extend(vectors);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.options.model, self.url)
    }
}
