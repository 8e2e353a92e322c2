//! The local sentence-embedding model: a tiny BERT with random weights built here checks
//! loading and the arithmetic; the real all-MiniLM-L6-v2, when `BATON_TEST_EMBEDDING_MODEL`
//! names its folder, checks that the vectors mean something.
#![cfg(feature = "local-embeddings")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_kb::{Embedder, EmbeddingError, IndexOptions, KbIndex, LocalEmbeddings};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};

const WORDS: &[&str] = &[
    "the", "refund", "money", "back", "password", "reset", "my", "i", "want", "how", "do", "get",
    "a", "please", "forgot", "change", "where", "is", "parcel", "order", "##s", "##ed", "?", ".",
    "un", "##believ", "##able",
];
const HIDDEN: usize = 16;

/// A `tokenizer.json` for a small WordPiece vocabulary, with BERT's normaliser, pre-tokeniser
/// and `[CLS] … [SEP]` post-processing, and the fixed padding many model folders carry.
fn tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, token) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS)
        .enumerate()
    {
        vocab.insert(token.to_string(), serde_json::json!(i));
    }
    let special = |id: usize, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": {"max_length": 32, "strategy": "LongestFirst", "stride": 0, "direction": "Right"},
        "padding": {"strategy": {"Fixed": 32}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

fn config_json() -> String {
    serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": WORDS.len() + 4,
        "hidden_size": HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute"
    })
    .to_string()
}

/// Writes a tiny BERT with random weights, its configuration and its tokenizer to `dir`.
fn write_tiny_bert(dir: &Path) {
    let config_text = config_json();
    std::fs::write(dir.join("config.json"), &config_text).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).unwrap();
    let config: Config = serde_json::from_str(&config_text).unwrap();
    let weights = VarMap::new();
    let vb = VarBuilder::from_varmap(&weights, DType::F32, &Device::Cpu);
    BertModel::load(vb, &config).unwrap();
    weights.save(dir.join("model.safetensors")).unwrap();
}

fn tiny() -> (tempfile::TempDir, LocalEmbeddings) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path());
    let model = LocalEmbeddings::load(dir.path()).unwrap();
    (dir, model)
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "{what}: differs by {worst}");
}

#[test]
fn a_tiny_bert_loads_and_gives_one_unit_vector_per_text() {
    let (_dir, model) = tiny();
    assert_eq!(model.dimension(), HIDDEN);
    let texts = [
        "how do i get a refund?",
        "i forgot my password",
        "",
        "unbelievable",
    ];
    let vectors = model.embed(&texts).unwrap();
    assert_eq!(vectors.len(), texts.len());
    for (vector, text) in vectors.iter().zip(texts) {
        assert_eq!(vector.len(), HIDDEN, "{text:?}");
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text:?}: norm {norm}");
    }
    assert_ne!(vectors[0], vectors[1]);
}

#[test]
fn embedding_is_deterministic_and_independent_of_the_batch() {
    let (_dir, model) = tiny();
    let texts: Vec<String> = (0..45)
        .map(|i| {
            let words: Vec<&str> = (0..1 + i % 9)
                .map(|j| WORDS[(i * 7 + j * 3) % 20])
                .collect();
            words.join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = model.embed(&refs).unwrap();
    assert_eq!(
        together,
        model.embed(&refs).unwrap(),
        "same input, same output"
    );
    for (text, vector) in refs.iter().zip(&together) {
        let alone = model.embed(&[text]).unwrap();
        assert_close(&alone[0], vector, text);
    }
    let pair = model.embed(&[refs[3], refs[8]]).unwrap();
    assert_close(&pair[0], &together[3], refs[3]);
    assert_close(&pair[1], &together[8], refs[8]);
}

#[test]
fn a_folder_without_a_model_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config_json()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), tokenizer_json()).unwrap();
    let err = LocalEmbeddings::load(dir.path()).unwrap_err();
    assert!(matches!(err, EmbeddingError::Model { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let err = LocalEmbeddings::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

/// The real model's folder, when the environment names one.
fn real_model() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("BATON_TEST_EMBEDDING_MODEL")?);
    Some(dir)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn all_minilm_puts_paraphrases_close_and_retrieves_the_right_article() {
    let Some(dir) = real_model() else {
        eprintln!("BATON_TEST_EMBEDDING_MODEL is not set; the real-model check did not run");
        return;
    };
    let model = Arc::new(LocalEmbeddings::load(&dir).unwrap());
    assert_eq!(model.dimension(), 384);
    let v = model
        .embed(&[
            "How do I reset my password?",
            "I forgot my login credentials and cannot sign in",
            "The weather is sunny at the beach today",
        ])
        .unwrap();
    let paraphrase = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(
        paraphrase > unrelated + 0.2,
        "paraphrase {paraphrase}, unrelated {unrelated}"
    );

    let index =
        KbIndex::build_with_embedder(&common::support_articles(), IndexOptions::default(), model)
            .unwrap();
    for (question, expected) in [
        ("I would like my money back", "refund-policy"),
        ("is your website down right now", "status-outage"),
        ("how can I get a copy of my bills", "download-invoice"),
    ] {
        let found = index.retrieve(question, 3).unwrap();
        assert_eq!(found.hits[0].id, expected, "{question}: {found:?}");
        assert!(found.features.unwrap().dense.is_some());
    }
}
