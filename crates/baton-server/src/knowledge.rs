//! The knowledge base as the server holds it: the store keeps the articles (the source of
//! truth, with revisions); this keeps a retrieval index of the active ones in memory and keeps
//! it in step with the store, at once for edits made through this process and by polling the
//! store's revision for edits made by others (another process, `baton kb import`).

use std::sync::{Arc, RwLock};

use baton_kb::{Article, Calibration, IndexOptions, KbIndex, Retrieval};
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

struct Loaded {
    index: KbIndex,
    revision: i64,
}

/// The in-memory retrieval index over the stored knowledge base.
pub struct KnowledgeBase {
    options: IndexOptions,
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
    /// Loads and indexes the stored knowledge base.
    pub async fn load(store: &dyn Store, options: IndexOptions) -> Result<Self, KnowledgeError> {
        let loaded = Self::read(store, options).await?;
        Ok(KnowledgeBase {
            options,
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    async fn read(store: &dyn Store, options: IndexOptions) -> Result<Loaded, KnowledgeError> {
        // Read the revision first: if an edit lands while we read, the next refresh sees a
        // newer revision and reloads.
        let revision = store.kb_revision().await?;
        let articles = stored_articles(store).await?;
        let calibration = stored_calibration(store).await?;
        let mut index = KbIndex::build(&articles, options)?;
        index.set_calibration(calibration);
        Ok(Loaded { index, revision })
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
    pub fn retrieve(&self, question: &str, k: usize) -> Result<Retrieval, KnowledgeError> {
        Ok(self.current().index.retrieve(question, k)?)
    }

    /// What retrieval finds for a customer's question, ready for a responder, and the
    /// articles it considered with their scores. Turns that ask nothing get no retrieval.
    pub fn retrieve_for_reply(
        &self,
        question: &str,
        k: usize,
    ) -> (baton_ai::Retrieved, Vec<baton_core::ScoredArticle>) {
        let loaded = self.current();
        if loaded.index.is_empty() || !baton_kb::asks_something(question) {
            return (baton_ai::Retrieved::empty(), Vec::new());
        }
        match loaded.index.retrieve(question, k) {
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
        if stored == self.revision() {
            // The calibration can change without a new revision.
            return Ok(false);
        }
        let loaded = Self::read(store, self.options).await?;
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
        let loaded = Self::read(store, self.options).await?;
        let mut guard = match self.loaded.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(loaded);
        Ok(())
    }
}
