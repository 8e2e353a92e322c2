//! The knowledge base as the server holds it: the store keeps the articles (the source of
//! truth, with revisions); this keeps a retrieval index of the active ones in memory and keeps
//! it in step with the store, at once for edits made through this process and by polling the
//! store's revision for edits made by others (another process, `baton kb import`).
//!
//! With embeddings configured, articles are embedded when the index is built (each text once:
//! a cache keeps them across rebuilds) and every question is embedded when it is asked, on a
//! blocking thread. When the embedder fails, that question is answered by the lexical
//! ranking alone, with a warning; a failed build is retried at the next refresh.

use std::sync::{Arc, RwLock};

use baton_kb::{Article, CachedEmbedder, Calibration, Embedder, IndexOptions, KbIndex, Retrieval};
use baton_store::{KbWrite, KbWriteResult, Store, StoreError};
use chrono::{DateTime, Utc};

/// Why the knowledge base could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("knowledge-base index: {0}")]
    Index(#[from] baton_kb::IndexError),
    #[error("stored article {id} is not readable: {message}")]
    Corrupt { id: String, message: String },
}

/// Article texts whose embeddings are kept between index rebuilds.
const EMBEDDING_CACHE: usize = 50_000;

struct Loaded {
    index: Arc<KbIndex>,
    revision: i64,
    /// Whether the index holds article embeddings (false when embedding them failed).
    dense: bool,
}

/// The embedder as the knowledge base uses it: cached for article texts, direct for
/// questions.
struct Embeddings {
    articles: Arc<dyn Embedder>,
    questions: Arc<dyn Embedder>,
}

/// The in-memory retrieval index over the stored knowledge base.
pub struct KnowledgeBase {
    options: IndexOptions,
    embeddings: Option<Embeddings>,
    loaded: RwLock<Arc<Loaded>>,
}

/// Reads every active article from the store.
pub async fn stored_articles(store: &dyn Store) -> Result<Vec<Article>, KnowledgeError> {
    store
        .kb_documents()
        .await?
        .into_iter()
        .map(|doc| {
            serde_json::from_value::<Article>(doc.content).map_err(|e| KnowledgeError::Corrupt {
                id: doc.id,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Writes articles to the store (one revision), retiring `retire` and, with `prune`, every
/// article not among `articles`.
pub async fn write_articles(
    store: &dyn Store,
    articles: &[Article],
    retire: Vec<String>,
    prune: bool,
    note: &str,
    now: DateTime<Utc>,
) -> Result<KbWriteResult, KnowledgeError> {
    let mut upserts = Vec::with_capacity(articles.len());
    for article in articles {
        let content = serde_json::to_value(article).map_err(|e| KnowledgeError::Corrupt {
            id: article.id.clone(),
            message: e.to_string(),
        })?;
        upserts.push((article.id.clone(), content));
    }
    let retire_all_except = prune.then(|| articles.iter().map(|a| a.id.clone()).collect());
    Ok(store
        .kb_write(
            KbWrite {
                upserts,
                retire,
                retire_all_except,
                note: note.to_string(),
            },
            now,
        )
        .await?)
}

/// The calibration stored for the current knowledge base, or the built-in default.
pub async fn stored_calibration(store: &dyn Store) -> Result<Calibration, KnowledgeError> {
    Ok(match store.kb_calibration().await? {
        Some((_, value)) => serde_json::from_value(value).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored calibration is not readable; using the default");
            Calibration::default()
        }),
        None => Calibration::default(),
    })
}

impl KnowledgeBase {
    /// Loads and indexes the stored knowledge base, with dense retrieval when `embedder` is
    /// given.
    pub async fn load(
        store: &dyn Store,
        options: IndexOptions,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, KnowledgeError> {
        let embeddings = embedder.map(|questions| Embeddings {
            articles: Arc::new(CachedEmbedder::new(questions.clone(), EMBEDDING_CACHE)),
            questions,
        });
        let loaded = Self::read(store, options, embeddings.as_ref()).await?;
        Ok(KnowledgeBase {
            options,
            embeddings,
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    async fn read(
        store: &dyn Store,
        options: IndexOptions,
        embeddings: Option<&Embeddings>,
    ) -> Result<Loaded, KnowledgeError> {
        // Read the revision first: if an edit lands while we read, the next refresh sees a
        // newer revision and reloads.
        let revision = store.kb_revision().await?;
        let articles = stored_articles(store).await?;
        let calibration = stored_calibration(store).await?;
        let (mut index, dense) = match embeddings {
            None => (KbIndex::build(&articles, options)?, false),
            Some(embeddings) => {
                let embedder = embeddings.articles.clone();
                let to_embed = articles.clone();
                let built = tokio::task::spawn_blocking(move || {
                    KbIndex::build_with_embedder(&to_embed, options, embedder)
                })
                .await;
                match built {
                    Ok(Ok(index)) => (index, true),
                    Ok(Err(e)) => {
                        tracing::warn!(
                            error = %e,
                            "embedding the knowledge base failed; retrieval is lexical until \
                             the next refresh"
                        );
                        (KbIndex::build(&articles, options)?, false)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "embedding the knowledge base stopped");
                        (KbIndex::build(&articles, options)?, false)
                    }
                }
            }
        };
        index.set_calibration(calibration);
        Ok(Loaded {
            index: Arc::new(index),
            revision,
            dense,
        })
    }

    /// The question's embedding, or `None` (no embeddings, or the embedder failed: then
    /// the question is ranked lexically, with a warning).
    async fn embed_question(&self, loaded: &Loaded, question: &str) -> Option<Vec<f32>> {
        let embeddings = self.embeddings.as_ref().filter(|_| loaded.dense)?;
        let embedder = embeddings.questions.clone();
        let text = question.to_string();
        match tokio::task::spawn_blocking(move || embedder.embed(&[text.as_str()])).await {
            Ok(Ok(mut vectors)) => vectors.pop(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "embedding the question failed; ranking it lexically");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "embedding the question stopped; ranking it lexically");
                None
            }
        }
    }

    /// Retrieval on the loaded index, dense when possible.
    async fn search(
        &self,
        loaded: &Loaded,
        question: &str,
        k: usize,
    ) -> Result<Retrieval, baton_kb::IndexError> {
        let vector = self.embed_question(loaded, question).await;
        loaded
            .index
            .retrieve_with(question, k, loaded.index.calibration(), vector.as_deref())
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The revision the index reflects.
    pub fn revision(&self) -> i64 {
        self.current().revision
    }

    /// Number of active articles.
    pub fn len(&self) -> usize {
        self.current().index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k` best articles for `question` with the calibrated confidence (`None` when the
    /// knowledge base is empty).
    pub async fn retrieve(&self, question: &str, k: usize) -> Result<Retrieval, KnowledgeError> {
        let loaded = self.current();
        Ok(self.search(&loaded, question, k).await?)
    }

    /// What retrieval finds for a customer's question, ready for a responder, and the
    /// articles it considered with their scores. Turns that ask nothing get no retrieval.
    pub async fn retrieve_for_reply(
        &self,
        question: &str,
        k: usize,
    ) -> (baton_ai::Retrieved, Vec<baton_core::ScoredArticle>) {
        let loaded = self.current();
        if loaded.index.is_empty() || !baton_kb::asks_something(question) {
            return (baton_ai::Retrieved::empty(), Vec::new());
        }
        match self.search(&loaded, question, k).await {
            Ok(found) => {
                let scored = found
                    .hits
                    .iter()
                    .map(|h| baton_core::ScoredArticle {
                        id: h.id.clone(),
                        title: h.title.clone(),
                        score: h.score,
                    })
                    .collect();
                (baton_ai::Retrieved::from_kb(&loaded.index, &found), scored)
            }
            Err(e) => {
                tracing::warn!(error = %e, "retrieval failed");
                (baton_ai::Retrieved::empty(), Vec::new())
            }
        }
    }

    /// Calls `f` with the active articles.
    pub fn with_articles<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Article>) -> T) -> T {
        let loaded = self.current();
        let mut articles = loaded.index.articles();
        f(&mut articles)
    }

    /// An active article by id.
    pub fn article(&self, id: &str) -> Option<Article> {
        self.current().index.article(id).cloned()
    }

    /// Reloads from the store when its revision moved on. Returns whether it reloaded.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, KnowledgeError> {
        let stored = store.kb_revision().await?;
        let retry_embedding = self.embeddings.is_some() && !self.current().dense;
        if stored == self.revision() && !retry_embedding {
            // The calibration can change without a new revision.
            return Ok(false);
        }
        let loaded = Self::read(store, self.options, self.embeddings.as_ref()).await?;
        let mut guard = match self.loaded.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if loaded.revision >= guard.revision {
            *guard = Arc::new(loaded);
        }
        Ok(true)
    }

    /// Reloads unconditionally (after a new calibration was saved).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KnowledgeError> {
        let loaded = Self::read(store, self.options, self.embeddings.as_ref()).await?;
        let mut guard = match self.loaded.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(loaded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use baton_kb::EmbeddingError;
    use baton_store::Durability;

    use super::*;

    /// Two concepts (refund, password) as unit vectors; fails while `down` is set.
    #[derive(Debug, Default)]
    struct Switchable {
        down: AtomicBool,
    }

    impl Embedder for Switchable {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(EmbeddingError::Connection {
                    url: "http://127.0.0.1:9/v1/embeddings".into(),
                    message: "connection refused".into(),
                });
            }
            Ok(texts
                .iter()
                .map(|t| {
                    let t = t.to_lowercase();
                    let mut v = vec![
                        f32::from(u8::from(t.contains("refund") || t.contains("money"))),
                        f32::from(u8::from(t.contains("password"))),
                    ];
                    baton_kb::normalise(&mut v);
                    v
                })
                .collect())
        }

        fn describe(&self) -> String {
            "switchable".into()
        }
    }

    #[tokio::test]
    async fn a_failing_embedder_falls_back_to_lexical_retrieval_for_that_question() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kb.db").display());
        let store = baton_store::open(&url, Durability::Process).await.unwrap();
        let articles = vec![
            Article::new("refund", "Request a refund", "Orders, then Return.")
                .with_questions(["how do I get a refund"]),
            Article::new("password", "Reset your password", "Use the Forgot link.")
                .with_questions(["I forgot my password"]),
        ];
        write_articles(&*store, &articles, Vec::new(), false, "test", Utc::now())
            .await
            .unwrap();
        let embedder = Arc::new(Switchable::default());
        let kb = KnowledgeBase::load(&*store, IndexOptions::default(), Some(embedder.clone()))
            .await
            .unwrap();

        // Dense: no word in common with the refund article.
        let (_, considered) = kb.retrieve_for_reply("can I have my money back?", 2).await;
        assert_eq!(considered[0].id, "refund", "{considered:?}");
        let found = kb.retrieve("can I have my money back?", 2).await.unwrap();
        assert!(found.features.unwrap().dense.is_some());

        embedder.down.store(true, Ordering::SeqCst);
        let (_, considered) = kb
            .retrieve_for_reply("how do I reset my password?", 2)
            .await;
        assert_eq!(considered[0].id, "password", "{considered:?}");
        let found = kb.retrieve("how do I reset my password?", 2).await.unwrap();
        assert_eq!(found.features.unwrap().dense, None);
    }
}
