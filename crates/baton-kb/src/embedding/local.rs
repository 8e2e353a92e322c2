//! A BERT sentence-embedding model run in-process on the CPU (candle), loaded from a folder
//! holding `config.json`, `model.safetensors` and `tokenizer.json`, such as
//! all-MiniLM-L6-v2. Vectors are the mean of the last hidden states over the real tokens,
//! scaled to unit length, as sentence-transformers computes them. Nothing is downloaded.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{Embedder, EmbeddingError, normalise};

/// Texts run through the model together.
const BATCH: usize = 32;

/// A local sentence-embedding model.
pub struct LocalEmbeddings {
    dir: PathBuf,
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dimension: usize,
}

impl std::fmt::Debug for LocalEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbeddings")
            .field("dir", &self.dir)
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

impl LocalEmbeddings {
    /// Loads the model in `dir`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbeddingError> {
        let dir = dir.as_ref().to_path_buf();
        let fail = |message: String| EmbeddingError::Model {
            dir: dir.clone(),
            message,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| fail(format!("cannot read {name}: {e}")))
        };
        let config_text = read("config.json")?;
        let config: Config = serde_json::from_slice(&config_text)
            .map_err(|e| fail(format!("config.json is not a BERT configuration: {e}")))?;
        let dimension = config_dimension(&config_text)
            .ok_or_else(|| fail("config.json has no hidden_size".into()))?;
        let max_positions = config_positions(&config_text).unwrap_or(512);

        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| fail(format!("tokenizer.json is not readable: {e}")))?;
        // Pad each batch to its longest text, not to the fixed length the file may ask for.
        let padding = match tokenizer.get_padding() {
            Some(existing) => PaddingParams {
                strategy: PaddingStrategy::BatchLongest,
                ..existing.clone()
            },
            None => PaddingParams {
                strategy: PaddingStrategy::BatchLongest,
                pad_id: tokenizer.token_to_id("[PAD]").unwrap_or(0),
                pad_token: "[PAD]".into(),
                ..PaddingParams::default()
            },
        };
        tokenizer.with_padding(Some(padding));
        if tokenizer.get_truncation().is_none() {
            tokenizer
                .with_truncation(Some(TruncationParams {
                    max_length: max_positions,
                    ..TruncationParams::default()
                }))
                .map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        }

        let device = Device::Cpu;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| fail(format!("model.safetensors does not fit config.json: {e}")))?;
        Ok(Self {
            dir,
            model,
            tokenizer,
            device,
            dimension,
        })
    }

    /// Length of the vectors.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    fn fail(&self, message: String) -> EmbeddingError {
        EmbeddingError::Model {
            dir: self.dir.clone(),
            message,
        }
    }

    fn batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| self.fail(format!("tokenizing: {e}")))?;
        let rows = encodings.len();
        let length = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * length);
        let mut types = Vec::with_capacity(rows * length);
        let mut mask = Vec::with_capacity(rows * length);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            types.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (rows, length), &self.device)?;
            let types = Tensor::from_vec(types, (rows, length), &self.device)?;
            let mask = Tensor::from_vec(mask, (rows, length), &self.device)?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over the real tokens only.
            let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
            let counts = weights.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        };
        let mut vectors = run().map_err(|e| self.fail(format!("running the model: {e}")))?;
        for vector in &mut vectors {
            normalise(vector);
        }
        Ok(vectors)
    }
}

fn config_dimension(config: &[u8]) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    value.get("hidden_size")?.as_u64().map(|n| n as usize)
}

fn config_positions(config: &[u8]) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    value
        .get("max_position_embeddings")?
        .as_u64()
        .map(|n| n as usize)
}

impl Embedder for LocalEmbeddings {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        // Similar lengths together, so that little of each batch is padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, vector) in chunk.iter().zip(self.batch(&batch)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("local model in {}", self.dir.display())
    }
}
