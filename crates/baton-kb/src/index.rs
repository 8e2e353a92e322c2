//! The in-memory retrieval index: tantivy BM25 over title, body and example questions finds
//! candidate articles; a learned scorer over the example questions ranks them; the
//! calibration turns the ranking into a confidence.
//!
//! Articles can be added, replaced and retired one at a time: the full-text index deletes and
//! re-adds one document, and the per-article vectors are recomputed for that article only.
//!
//! With an [`Embedder`] attached, every phrasing is also embedded: the articles nearest the
//! question in embedding space join BM25's candidates, and the dense similarities become two
//! more ranking features and a confidence feature. Without one nothing of this runs.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use tantivy::index::SegmentId;
use tantivy::query::{Bm25StatisticsProvider, EnableScoring, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher,
    TantivyDocument, Term,
};

use crate::confidence::{Calibration, ConfidenceFeatures};
use crate::embedding::{Embedder, EmbeddingError, dot, normalise};
use crate::ranking::{self, ArticleVectors, Dense, Features, QueryVectors, Similarities};
use crate::similarity::{
    Analysis, DocumentFrequencies, PhrasingTable, QueryKeys, Representation, TermCounts,
    trigram_text,
};
use crate::{Article, Language};

const TEXT_TOKENIZER: &str = "kb_text";
const GRAM_TOKENIZER: &str = "kb_grams";
/// tantivy's BM25 parameter k1, for the normalising upper bound.
const BM25_K1: f32 = 1.2;
/// Memory for the index writer's buffer.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// Why indexing or searching failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The full-text engine failed.
    #[error("full-text index: {0}")]
    FullText(#[from] tantivy::TantivyError),
    /// The embedder failed.
    #[error(transparent)]
    Embedding(#[from] EmbeddingError),
}

/// How the index analyses text and how widely it looks for candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Stemming and stop words.
    pub language: Language,
    /// How many articles BM25 proposes to the ranking (per search field kind).
    pub candidates: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            language: Language::English,
            candidates: 20,
        }
    }
}

/// One ranked article.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// The article's id.
    pub id: String,
    /// The article's title.
    pub title: String,
    /// The ranking score: higher ranks first; comparable within one search only.
    pub score: f64,
}

/// The result of a search with its confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// The best articles, best first.
    pub hits: Vec<Hit>,
    /// Probability, 0..1, that the first hit answers the question; `None` when the knowledge
    /// base is empty.
    pub confidence: Option<f64>,
    /// What the confidence was computed from; `None` when the knowledge base is empty.
    pub features: Option<ConfidenceFeatures>,
}

/// A candidate article with its ranking features.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub slot: usize,
    pub features: Features,
}

struct Fields {
    slot: Field,
    /// Title (twice, so it weighs more), example questions and body.
    text: Field,
    /// Character trigrams of the title and example questions.
    grams: Field,
}

/// An indexed article: the article and its phrasing vectors.
struct Entry {
    article: Article,
    words: PhrasingTable,
    chars: PhrasingTable,
    dense: DenseVectors,
}

/// The embeddings of an article's phrasings; empty without an embedder.
#[derive(Default)]
struct DenseVectors {
    phrasings: Vec<Vec<f32>>,
    /// The normalised mean of the phrasings' embeddings.
    centroid: Vec<f32>,
}

impl DenseVectors {
    fn new(phrasings: Vec<Vec<f32>>) -> Self {
        let dimension = phrasings.first().map_or(0, Vec::len);
        let mut centroid = vec![0.0; dimension];
        for vector in phrasings.iter().filter(|v| v.len() == dimension) {
            for (c, x) in centroid.iter_mut().zip(vector) {
                *c += x;
            }
        }
        normalise(&mut centroid);
        Self {
            phrasings,
            centroid,
        }
    }

    fn similarity(&self, query: &[f32]) -> Dense {
        Dense {
            max: self
                .phrasings
                .iter()
                .map(|p| dot(p, query))
                .fold(0.0f32, f32::max),
            centroid: dot(&self.centroid, query).max(0.0),
        }
    }
}

impl Entry {
    fn vectors(&self) -> ArticleVectors<'_> {
        ArticleVectors {
            words: &self.words,
            chars: &self.chars,
        }
    }
}

/// How many of the question's nearest phrasings vote for their article.
const VOTERS: usize = 10;
/// Most character trigrams one look-up by trigrams scores (the rarest of the question's).
const GRAM_TERMS: usize = 16;

/// What searches read between two commits: tantivy's searcher and, for each of its segments,
/// the slot of every document. Kept rather than asked for per question, so that a search
/// neither touches the reader's shared state nor resolves the `slot` fast field per hit.
struct Snapshot {
    searcher: Searcher,
    /// `slots[segment_ord][doc_id]`, in the searcher's segment order.
    slots: Vec<(SegmentId, Arc<[Option<u32>]>)>,
    /// BM25's totals, the same for every question: tokens per searched field and documents.
    tokens: Vec<(Field, u64)>,
    documents: u64,
}

impl Snapshot {
    /// The snapshot of `reader`'s current searcher; segments already in `previous` are not
    /// read again (a segment's documents never change, only its deletes do).
    fn new(
        reader: &IndexReader,
        fields: &Fields,
        previous: Option<&Snapshot>,
    ) -> Result<Self, IndexError> {
        let searcher = reader.searcher();
        let known: HashMap<SegmentId, &Arc<[Option<u32>]>> = previous
            .map(|p| p.slots.iter().map(|(id, table)| (*id, table)).collect())
            .unwrap_or_default();
        let mut slots = Vec::with_capacity(searcher.segment_readers().len());
        for segment in searcher.segment_readers() {
            let id = segment.segment_id();
            let table = match known.get(&id) {
                Some(&table) => table.clone(),
                None => {
                    let column = segment.fast_fields().u64("slot")?;
                    (0..segment.max_doc())
                        .map(|doc| column.first(doc).and_then(|s| u32::try_from(s).ok()))
                        .collect()
                }
            };
            slots.push((id, table));
        }
        let tokens = [fields.text, fields.grams]
            .into_iter()
            .map(|field| Ok((field, searcher.total_num_tokens(field)?)))
            .collect::<Result<_, IndexError>>()?;
        let documents = searcher.total_num_docs()?;
        Ok(Self {
            searcher,
            slots,
            tokens,
            documents,
        })
    }

    /// The slot of the article a search hit stands for.
    fn slot(&self, address: DocAddress) -> Option<usize> {
        let (_, table) = self.slots.get(address.segment_ord as usize)?;
        table
            .get(address.doc_id as usize)
            .copied()
            .flatten()
            .map(|s| s as usize)
    }
}

/// BM25 statistics for one search, as tantivy's searcher would give them: the totals taken
/// at commit, and document frequencies already looked up for this question (for the score's
/// upper bound) not looked up again per term. Every score comes out as without it.
struct Statistics<'a> {
    snapshot: &'a Snapshot,
    doc_freqs: Vec<(Term, u64)>,
}

impl Bm25StatisticsProvider for Statistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        match self.snapshot.tokens.iter().find(|(f, _)| *f == field) {
            Some(&(_, tokens)) => Ok(tokens),
            None => self.snapshot.searcher.total_num_tokens(field),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.snapshot.documents)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match self.doc_freqs.iter().find(|(t, _)| t == term) {
            Some(&(_, frequency)) => Ok(frequency),
            None => self.snapshot.searcher.doc_freq(term),
        }
    }
}

/// Orders scored documents best first: higher score, then lower address (as tantivy's
/// `TopDocs` breaks ties).
fn best_first(a: &(Score, DocAddress), b: &(Score, DocAddress)) -> Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

/// Keeps the `limit` best of `scored`.
fn keep_best(scored: &mut Vec<(Score, DocAddress)>, limit: usize) {
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, best_first);
        scored.truncate(limit);
    }
}

/// The searchable knowledge base.
pub struct KbIndex {
    options: IndexOptions,
    analysis: Analysis,
    fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
    snapshot: Snapshot,
    entries: Vec<Option<Entry>>,
    slots: HashMap<String, usize>,
    frequencies: DocumentFrequencies,
    phrasing_count: usize,
    changes_since_weighting: usize,
    calibration: Calibration,
    embedder: Option<Arc<dyn Embedder>>,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex")
            .field("options", &self.options)
            .field("articles", &self.len())
            .finish_non_exhaustive()
    }
}

impl KbIndex {
    /// An empty index.
    pub fn new(options: IndexOptions) -> Result<Self, IndexError> {
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TEXT_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let grams = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(GRAM_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let mut schema = Schema::builder();
        let fields = Fields {
            slot: schema.add_u64_field("slot", INDEXED | FAST),
            text: schema.add_text_field("text", text),
            grams: schema.add_text_field("grams", grams),
        };
        let index = Index::create_in_ram(schema.build());
        index
            .tokenizers()
            .register(TEXT_TOKENIZER, options.language.analyzer());
        index.tokenizers().register(
            GRAM_TOKENIZER,
            TextAnalyzer::from(WhitespaceTokenizer::default()),
        );
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let snapshot = Snapshot::new(&reader, &fields, None)?;
        Ok(Self {
            options,
            analysis: Analysis::new(options.language),
            fields,
            writer,
            reader,
            snapshot,
            entries: Vec::new(),
            slots: HashMap::new(),
            frequencies: DocumentFrequencies::default(),
            phrasing_count: 0,
            changes_since_weighting: 0,
            calibration: Calibration::default(),
            embedder: None,
        })
    }

    /// An empty index that embeds every phrasing with `embedder` and uses dense similarity
    /// in ranking and confidence.
    pub fn with_embedder(
        options: IndexOptions,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, IndexError> {
        let mut index = Self::new(options)?;
        index.embedder = Some(embedder);
        Ok(index)
    }

    /// An index of these articles using `embedder` (see [`KbIndex::with_embedder`]).
    pub fn build_with_embedder(
        articles: &[Article],
        options: IndexOptions,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, IndexError> {
        let mut index = Self::with_embedder(options, embedder)?;
        index.upsert_many(articles.iter().cloned())?;
        Ok(index)
    }

    /// The embedder, when the index uses dense retrieval.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// The question's embedding for [`KbIndex::retrieve_with`]: `None` when the index has no
    /// embedder.
    pub fn embed_query(&self, query: &str) -> Result<Option<Vec<f32>>, IndexError> {
        let Some(embedder) = &self.embedder else {
            return Ok(None);
        };
        Ok(embedder.embed(&[query])?.pop())
    }

    /// An index of these articles. A later article replaces an earlier one with the same id.
    pub fn build(articles: &[Article], options: IndexOptions) -> Result<Self, IndexError> {
        let mut index = Self::new(options)?;
        index.upsert_many(articles.iter().cloned())?;
        Ok(index)
    }

    /// The options the index was built with.
    pub fn options(&self) -> IndexOptions {
        self.options
    }

    /// Number of articles.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the index has no article.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The article with this id.
    pub fn article(&self, id: &str) -> Option<&Article> {
        self.slots
            .get(id)
            .and_then(|&slot| self.entry(slot))
            .map(|e| &e.article)
    }

    /// Every article, in no particular order.
    pub fn articles(&self) -> impl Iterator<Item = &Article> {
        self.entries.iter().flatten().map(|e| &e.article)
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Uses another calibration (for example one fitted on this knowledge base).
    pub fn set_calibration(&mut self, calibration: Calibration) {
        self.calibration = calibration;
    }

    /// Adds an article, or replaces the one with the same id. Searchable on return.
    pub fn upsert(&mut self, article: Article) -> Result<(), IndexError> {
        self.upsert_many(std::iter::once(article))
    }

    /// Adds or replaces many articles with one commit. Searchable on return. When the
    /// embedder fails, the index is left as it was.
    pub fn upsert_many(
        &mut self,
        articles: impl IntoIterator<Item = Article>,
    ) -> Result<(), IndexError> {
        let articles: Vec<Article> = articles.into_iter().collect();
        let mut dense = self.embed_articles(&articles)?;
        let mut pending: Vec<(usize, Article, Vec<TermCounts>)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for article in articles {
            // The same id twice in one batch: the later one wins.
            if let Some(&i) = seen.get(&article.id) {
                let counts = self.phrasing_counts(&article);
                pending[i].1 = article;
                pending[i].2 = counts;
                continue;
            }
            let slot = match self.slots.get(&article.id) {
                Some(&slot) => {
                    self.remove_entry(slot);
                    slot
                }
                None => {
                    self.entries.push(None);
                    self.entries.len() - 1
                }
            };
            let counts = self.phrasing_counts(&article);
            seen.insert(article.id.clone(), pending.len());
            pending.push((slot, article, counts));
        }
        // Frequencies first, so a batch is weighted as a whole.
        for (_, _, counts) in &pending {
            for c in counts {
                self.frequencies.add(c);
            }
            self.phrasing_count += counts.len();
        }
        let batch = pending.len();
        self.changes_since_weighting += batch;
        for (slot, article, counts) in pending {
            self.writer
                .delete_term(Term::from_field_u64(self.fields.slot, slot as u64));
            self.writer.add_document(self.document(slot, &article))?;
            self.slots.insert(article.id.clone(), slot);
            let vectors = dense.remove(&article.id).unwrap_or_default();
            self.entries[slot] = Some(self.entry_for(article, &counts, vectors));
        }
        self.commit()?;
        if batch == self.len() {
            // Every article was just weighted with the current frequencies.
            self.changes_since_weighting = 0;
        }
        self.reweigh_if_stale();
        Ok(())
    }

    /// Retires the article with this id. Returns whether there was one.
    pub fn retire(&mut self, id: &str) -> Result<bool, IndexError> {
        let Some(slot) = self.slots.remove(id) else {
            return Ok(false);
        };
        self.remove_entry(slot);
        self.writer
            .delete_term(Term::from_field_u64(self.fields.slot, slot as u64));
        self.commit()?;
        self.changes_since_weighting += 1;
        self.reweigh_if_stale();
        Ok(true)
    }

    /// The `k` best articles for `query`, best first.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, IndexError> {
        Ok(self.retrieve(query, k)?.hits)
    }

    /// The `k` best articles for `query` and the confidence that the first one answers it.
    /// With an embedder, the question is embedded first; its failure is an error (see
    /// [`KbIndex::retrieve_with`] to go on without).
    pub fn retrieve(&self, query: &str, k: usize) -> Result<Retrieval, IndexError> {
        let vector = self.embed_query(query)?;
        self.retrieve_with(query, k, &self.calibration, vector.as_deref())
    }

    /// As [`KbIndex::retrieve`], with another calibration and the question's embedding given
    /// (from [`KbIndex::embed_query`]); `None` ranks by the lexical features alone.
    pub fn retrieve_with(
        &self,
        query: &str,
        k: usize,
        calibration: &Calibration,
        query_vector: Option<&[f32]>,
    ) -> Result<Retrieval, IndexError> {
        if self.is_empty() {
            return Ok(Retrieval {
                hits: Vec::new(),
                confidence: None,
                features: None,
            });
        }
        let query_vector = query_vector.filter(|_| self.embedder.is_some());
        let candidates = self.candidates(query, query_vector)?;
        let ranked = calibration.rank(candidates);
        let features = ConfidenceFeatures::of(&ranked, query_vector.is_some());
        let confidence = calibration.confidence(&features);
        let hits = ranked
            .iter()
            .take(k)
            .filter_map(|(candidate, score)| {
                self.entry(candidate.slot).map(|e| Hit {
                    id: e.article.id.clone(),
                    title: e.article.title.clone(),
                    score: *score,
                })
            })
            .collect();
        Ok(Retrieval {
            hits,
            confidence: Some(confidence),
            features: Some(features),
        })
    }

    /// Candidate articles for `query` with their ranking features, unordered; with the
    /// question's embedding, dense features too and the densely nearest articles added.
    pub(crate) fn candidates(
        &self,
        query: &str,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Candidate>, IndexError> {
        let question = self
            .analysis
            .question(query, |key| self.frequencies.frequency(key) > 0);
        let counts = &question.counts;
        let stem_texts = &question.stems;
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        let representation = Representation::new(counts, &self.frequencies);
        let stems: Vec<(u32, f32)> = counts
            .stems
            .iter()
            .map(|&key| (key, self.frequencies.idf(key)))
            .collect();
        let limit = self.options.candidates.max(1);
        let mut bm25: FxHashMap<usize, f32> = FxHashMap::default();
        bm25.reserve(2 * limit);
        if !stem_texts.is_empty() {
            self.search_words(stem_texts, limit, &mut bm25)?;
        }
        // Typos and unseen word forms: look again by the character trigrams of the words no
        // phrasing has, or of the whole question when words found too little.
        let gram_source = if !question.unknown.is_empty() {
            Some(question.unknown.join(" "))
        } else if bm25.len() < limit {
            Some(query.to_string())
        } else {
            None
        };
        if let Some(source) = gram_source {
            self.search_grams(&source, limit, &mut bm25)?;
        }

        // The articles nearest in embedding space, whatever their words.
        let mut dense: HashMap<usize, Dense> = HashMap::new();
        if let Some(vector) = query_vector {
            let mut all: Vec<(usize, Dense)> = self
                .entries
                .iter()
                .enumerate()
                .filter_map(|(slot, e)| Some((slot, e.as_ref()?.dense.similarity(vector))))
                .collect();
            if all.len() > limit {
                all.select_nth_unstable_by(limit - 1, |a, b| b.1.max.total_cmp(&a.1.max));
            }
            for &(slot, _) in all.iter().take(limit) {
                bm25.entry(slot).or_insert(0.0);
            }
            dense = all.into_iter().collect();
        }

        let query_vectors = QueryVectors {
            words: QueryKeys::new(representation.words.entries()),
            chars: QueryKeys::new(representation.chars.entries()),
            stems: QueryKeys::new(&stems),
        };
        let mut found: Vec<(usize, f32, &Entry)> = bm25
            .into_iter()
            .filter_map(|(slot, bm25)| Some((slot, bm25, self.entry(slot)?)))
            .collect();
        found.sort_unstable_by_key(|&(slot, _, _)| slot);
        let sims: Vec<Similarities> = found
            .iter()
            .map(|(_, _, entry)| ranking::similarities(&query_vectors, &entry.vectors()))
            .collect();
        // The similarity of the VOTERS-th nearest phrasing over all candidates.
        let mut all: Vec<f32> = sims.iter().flat_map(Similarities::combined).collect();
        let cut = if all.len() > VOTERS {
            let (_, nth, _) = all.select_nth_unstable_by(VOTERS - 1, |a, b| b.total_cmp(a));
            *nth
        } else {
            f32::NEG_INFINITY
        };
        let voters = all.len().clamp(1, VOTERS) as f32;
        Ok(found
            .iter()
            .zip(&sims)
            .map(|((slot, bm25, _), sims)| {
                let votes =
                    sims.combined().filter(|&s| s >= cut && s > 0.0).count() as f32 / voters;
                Candidate {
                    slot: *slot,
                    features: ranking::features(
                        &query_vectors,
                        sims,
                        *bm25,
                        votes.min(1.0),
                        dense.get(slot).copied().unwrap_or_default(),
                    ),
                }
            })
            .collect())
    }

    /// BM25 over the text field for the question's distinct stems: the `limit` best articles
    /// go into `found` with their score divided by the most the question could score.
    fn search_words(
        &self,
        stems: &[String],
        limit: usize,
        found: &mut FxHashMap<usize, f32>,
    ) -> Result<(), IndexError> {
        let searcher = &self.snapshot.searcher;
        let mut terms: Vec<Term> = Vec::with_capacity(stems.len());
        let mut doc_freqs: Vec<(Term, u64)> = Vec::with_capacity(stems.len());
        let mut bound = 0.0f32;
        let total = searcher.num_docs() as f32;
        for stem in stems {
            let term = Term::from_field_text(self.fields.text, stem);
            // A word no article has still counts in the bound, at the weight it would have
            // had: a question about something else should score low.
            let frequency = searcher.doc_freq(&term)?;
            let n = frequency as f32;
            bound += (1.0 + (total - n + 0.5) / (n + 0.5)).ln() * (BM25_K1 + 1.0);
            doc_freqs.push((term.clone(), frequency));
            terms.push(term);
        }
        let statistics = Statistics {
            snapshot: &self.snapshot,
            doc_freqs,
        };
        for (score, address) in self.best_bm25(terms, &statistics, limit)? {
            if let Some(slot) = self.snapshot.slot(address) {
                let normalised = if bound > 0.0 { score / bound } else { 0.0 };
                found.insert(slot, normalised);
            }
        }
        Ok(())
    }

    /// BM25 over the character-trigram field for the rarest [`GRAM_TERMS`] trigrams of
    /// `source` that some article has: the `limit` best articles join `found` (with a word
    /// score of 0 when words did not find them). The trigrams most articles share weigh
    /// little in BM25 and cost the most to score; a misspelt word is found by its rarer
    /// trigrams.
    fn search_grams(
        &self,
        source: &str,
        limit: usize,
        found: &mut FxHashMap<usize, f32>,
    ) -> Result<(), IndexError> {
        let grams = trigram_text(source);
        let mut distinct: Vec<&str> = grams.split(' ').filter(|g| !g.is_empty()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let searcher = &self.snapshot.searcher;
        let mut doc_freqs: Vec<(Term, u64)> = Vec::with_capacity(distinct.len());
        for gram in distinct {
            let term = Term::from_field_text(self.fields.grams, gram);
            let frequency = searcher.doc_freq(&term)?;
            if frequency > 0 {
                doc_freqs.push((term, frequency));
            }
        }
        if doc_freqs.is_empty() {
            return Ok(());
        }
        // The rarest first, ties in trigram order; then back in trigram order, so that the
        // order scores are summed in does not vary.
        doc_freqs.sort_by_key(|(_, frequency)| *frequency);
        doc_freqs.truncate(GRAM_TERMS);
        doc_freqs.sort_by(|a, b| a.0.cmp(&b.0));
        let terms: Vec<Term> = doc_freqs.iter().map(|(term, _)| term.clone()).collect();
        let statistics = Statistics {
            snapshot: &self.snapshot,
            doc_freqs,
        };
        for (_, address) in self.best_bm25(terms, &statistics, limit)? {
            if let Some(slot) = self.snapshot.slot(address) {
                found.entry(slot).or_insert(0.0);
            }
        }
        Ok(())
    }

    /// The `limit` documents with the highest BM25 for `terms` together, ties to the lower
    /// address: what tantivy's `TopDocs` finds for a `BooleanQuery` of `Should` term queries,
    /// with each document's term scores added in the same order (term by term, as tantivy's
    /// union does). tantivy scores each term's postings; adding them up here, in one array
    /// per segment, costs far less on a knowledge base's few thousand documents than tantivy's
    /// union and top-k machinery (a 4,096-document buffer per search, or block-max WAND).
    fn best_bm25(
        &self,
        terms: Vec<Term>,
        statistics: &Statistics<'_>,
        limit: usize,
    ) -> Result<Vec<(Score, DocAddress)>, IndexError> {
        let searcher = &self.snapshot.searcher;
        let scoring = EnableScoring::enabled_from_statistics_provider(statistics, searcher);
        let weights = terms
            .into_iter()
            .map(|term| TermQuery::new(term, IndexRecordOption::WithFreqs).weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let mut best: Vec<(Score, DocAddress)> = Vec::with_capacity(2 * limit);
        let mut scores: Vec<Score> = Vec::new();
        let mut matched: Vec<DocId> = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            scores.clear();
            scores.resize(segment.max_doc() as usize, 0.0);
            matched.clear();
            for weight in &weights {
                weight.for_each(segment, &mut |doc, score| {
                    if let Some(total) = scores.get_mut(doc as usize) {
                        // BM25 term scores are positive: 0 means not matched yet.
                        if *total == 0.0 {
                            matched.push(doc);
                        }
                        *total += score;
                    }
                })?;
            }
            let alive = segment.alive_bitset();
            best.extend(
                matched
                    .iter()
                    .filter(|&&doc| alive.is_none_or(|a| a.is_alive(doc)))
                    .map(|&doc| (scores[doc as usize], DocAddress::new(ord as u32, doc))),
            );
            keep_best(&mut best, limit);
        }
        Ok(best)
    }

    /// The slot of the article with this id.
    pub(crate) fn slot(&self, id: &str) -> Option<usize> {
        self.slots.get(id).copied()
    }

    fn entry(&self, slot: usize) -> Option<&Entry> {
        self.entries.get(slot).and_then(Option::as_ref)
    }

    fn phrasing_counts(&self, article: &Article) -> Vec<TermCounts> {
        article
            .phrasings()
            .into_iter()
            .map(|p| self.analysis.counts(p))
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// The embeddings of each article's phrasings, by id; empty without an embedder.
    fn embed_articles(
        &self,
        articles: &[Article],
    ) -> Result<HashMap<String, DenseVectors>, IndexError> {
        let Some(embedder) = &self.embedder else {
            return Ok(HashMap::new());
        };
        let phrasings: Vec<Vec<&str>> = articles.iter().map(Article::phrasings).collect();
        let texts: Vec<&str> = phrasings.iter().flatten().copied().collect();
        let mut vectors = embedder.embed(&texts)?.into_iter();
        Ok(articles
            .iter()
            .zip(&phrasings)
            .map(|(article, p)| {
                let own: Vec<Vec<f32>> = vectors.by_ref().take(p.len()).collect();
                (article.id.clone(), DenseVectors::new(own))
            })
            .collect())
    }

    fn entry_for(&self, article: Article, counts: &[TermCounts], dense: DenseVectors) -> Entry {
        let phrasings: Vec<Representation> = counts
            .iter()
            .map(|c| Representation::new(c, &self.frequencies))
            .collect();
        Entry {
            article,
            words: PhrasingTable::new(phrasings.iter().map(|p| &p.words)),
            chars: PhrasingTable::new(phrasings.iter().map(|p| &p.chars)),
            dense,
        }
    }

    fn remove_entry(&mut self, slot: usize) {
        if let Some(entry) = self.entries.get_mut(slot).and_then(Option::take) {
            // Counts are recomputed rather than kept: memory matters more than this time.
            let counts = self.phrasing_counts(&entry.article);
            for c in &counts {
                self.frequencies.remove(c);
            }
            self.phrasing_count = self.phrasing_count.saturating_sub(entry.words.len());
        }
    }

    /// Term weights drift as articles change; once a tenth of the knowledge base has changed,
    /// every article's vectors are recomputed (no full-text re-indexing needed).
    fn reweigh_if_stale(&mut self) {
        let threshold = self.len() / 10 + 20;
        if self.changes_since_weighting < threshold {
            return;
        }
        self.changes_since_weighting = 0;
        let entries = std::mem::take(&mut self.entries);
        self.entries = entries
            .into_iter()
            .map(|e| {
                e.map(|e| {
                    let counts = self.phrasing_counts(&e.article);
                    self.entry_for(e.article, &counts, e.dense)
                })
            })
            .collect();
    }

    fn document(&self, slot: usize, article: &Article) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.fields.slot, slot as u64);
        doc.add_text(self.fields.text, &article.title);
        doc.add_text(self.fields.text, &article.title);
        for question in &article.questions {
            doc.add_text(self.fields.text, question);
        }
        doc.add_text(self.fields.text, &article.body);
        let grams: Vec<String> = article.phrasings().into_iter().map(trigram_text).collect();
        doc.add_text(self.fields.grams, grams.join(" "));
        doc
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        self.reader.reload()?;
        self.snapshot = Snapshot::new(&self.reader, &self.fields, Some(&self.snapshot))?;
        Ok(())
    }
}
