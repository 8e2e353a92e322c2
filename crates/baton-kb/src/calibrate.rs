//! Fitting a [`Calibration`]: the ranking weights (a softmax over candidate articles) and the
//! confidence model (a logistic regression), both pulled towards a prior so that a small
//! knowledge base moves the defaults a little and a large one a lot.

use std::sync::Arc;

use crate::Article;
use crate::confidence::{
    CONFIDENCE_FEATURES, Calibration, ConfidenceCoefficients, ConfidenceFeatures, FitSummary,
    sigmoid,
};
use crate::embedding::{CachedEmbedder, Embedder};
use crate::index::{Candidate, IndexError, IndexOptions, KbIndex};
use crate::ranking::{FEATURES, RankingWeights, feature};

/// Folds of the knowledge-base cross-validation.
const FOLDS: usize = 5;

/// How a fit proceeds.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Where the fit starts and what it is pulled back towards.
    pub prior: Calibration,
    /// Strength of the pull towards the prior (an L2 penalty on the difference): with a
    /// few dozen questions the prior dominates, with thousands the data does.
    pub prior_strength: f64,
    /// Most held-out questions asked while fitting on a knowledge base, to bound the time.
    pub max_questions: usize,
    /// Embeds phrasings and questions so that the dense weights are fitted too; `None`
    /// fits the lexical features alone (the dense weights stay at the prior's).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Keeps the lexical ranking weights and confidence coefficients at the prior's and fits
    /// only the dense ones (how the shipped dense defaults were fitted: adding embeddings
    /// must not change retrieval without them).
    pub hold_lexical: bool,
    /// Keeps the ranking weights at the prior's and fits only the confidence coefficients
    /// (how the shipped confidence was fitted: on a realistic knowledge base, under ranking
    /// weights learned from more questions than it has).
    pub hold_ranking: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            prior: Calibration::default(),
            prior_strength: 4.0,
            max_questions: 24_000,
            embedder: None,
            hold_lexical: false,
            hold_ranking: false,
        }
    }
}

/// One question asked while fitting: its candidates and the slot of the right article, if the
/// index has one.
struct Sample {
    candidates: Vec<Candidate>,
    truth: Option<usize>,
    /// Whether the candidates carry dense features.
    dense: bool,
}

/// Fits a calibration on a knowledge base's own example questions.
///
/// Cross-validation in five folds: in each fold a fifth of every article's example questions
/// is held out and asked against the rest (its own article is the right answer), and a fifth
/// of the articles is held out whole, so their questions play the part of questions the
/// knowledge base does not cover, the hardest kind, because they sound like the others. The
/// fit starts from the default calibration and moves as far as the data allows.
pub fn fit_on_kb(articles: &[Article], options: IndexOptions) -> Result<Calibration, IndexError> {
    fit_on_kb_with(articles, options, &FitOptions::default())
}

/// As [`fit_on_kb`], with another prior, prior strength or question budget.
pub fn fit_on_kb_with(
    articles: &[Article],
    options: IndexOptions,
    fit: &FitOptions,
) -> Result<Calibration, IndexError> {
    if articles.len() < 2 {
        return Ok(fit.prior.clone());
    }
    let held_questions: Vec<Vec<&str>> = articles.iter().map(held_out_candidates).collect();
    let total: usize = held_questions.iter().map(|q| 2 * q.len()).sum();
    let stride = total.div_ceil(fit.max_questions.max(1)).max(1);
    // Every fold re-indexes the same phrasings: embed each text once, all in one call.
    let embedder: Option<Arc<dyn Embedder>> = match &fit.embedder {
        Some(inner) => {
            let cached = CachedEmbedder::new(inner.clone(), usize::MAX);
            let texts: Vec<&str> = articles
                .iter()
                .flat_map(|a| {
                    a.phrasings()
                        .into_iter()
                        .chain(a.questions.iter().map(|q| q.trim()))
                })
                .collect();
            cached.embed(&texts)?;
            Some(Arc::new(cached))
        }
        None => None,
    };

    let mut samples = Vec::new();
    let mut counter = 0usize;
    for fold in 0..FOLDS {
        let mut kept = Vec::new();
        let mut asked: Vec<(&str, Option<&str>)> = Vec::new();
        for (i, article) in articles.iter().enumerate() {
            let questions = &held_questions[i];
            if i % FOLDS == fold {
                asked.extend(questions.iter().map(|q| (*q, None)));
                continue;
            }
            let mut kept_article = article.clone();
            kept_article.questions.clear();
            for (j, question) in questions.iter().enumerate() {
                if question_fold(i, j) == fold {
                    asked.push((question, Some(article.id.as_str())));
                } else {
                    kept_article.questions.push((*question).to_string());
                }
            }
            kept.push(kept_article);
        }
        if kept.is_empty() || asked.is_empty() {
            continue;
        }
        let index = match &embedder {
            Some(embedder) => KbIndex::build_with_embedder(&kept, options, embedder.clone())?,
            None => KbIndex::build(&kept, options)?,
        };
        for (question, article_id) in asked {
            counter += 1;
            if !counter.is_multiple_of(stride) {
                continue;
            }
            let vector = index.embed_query(question)?;
            samples.push(Sample {
                candidates: index.candidates(question, vector.as_deref())?,
                truth: article_id.and_then(|id| index.slot(id)),
                dense: vector.is_some(),
            });
        }
    }
    Ok(fit_samples(&samples, fit, "knowledge_base"))
}

/// Refits the calibration of `index` on labelled questions: each question with the id of the
/// article that answers it, or `None` when no article does. An id the index does not hold
/// counts as `None`: this knowledge base cannot answer that question. With an embedder on
/// the index, the dense weights are fitted too.
pub fn fit_labeled(
    index: &KbIndex,
    labeled: &[(String, Option<String>)],
) -> Result<Calibration, IndexError> {
    let vectors: Vec<Option<Vec<f32>>> = match index.embedder() {
        Some(embedder) => {
            let texts: Vec<&str> = labeled.iter().map(|(t, _)| t.as_str()).collect();
            embedder.embed(&texts)?.into_iter().map(Some).collect()
        }
        None => vec![None; labeled.len()],
    };
    let mut samples = Vec::with_capacity(labeled.len());
    for ((text, article_id), vector) in labeled.iter().zip(&vectors) {
        samples.push(Sample {
            candidates: index.candidates(text, vector.as_deref())?,
            truth: article_id.as_deref().and_then(|id| index.slot(id)),
            dense: vector.is_some(),
        });
    }
    let fit = FitOptions {
        prior: index.calibration().clone(),
        ..FitOptions::default()
    };
    Ok(fit_samples(&samples, &fit, "labeled"))
}

/// The example questions of an article that can be held out: all but one that repeats the
/// title, which stays with the article anyway.
fn held_out_candidates(article: &Article) -> Vec<&str> {
    let title = article.title.trim().to_lowercase();
    let mut seen = std::collections::HashSet::new();
    article
        .questions
        .iter()
        .map(|q| q.trim())
        .filter(|q| !q.is_empty() && q.to_lowercase() != title && seen.insert(q.to_lowercase()))
        .collect()
}

/// The fold in which question `j` of article `i` is held out: never the fold in which the
/// whole article is, so that every question is asked once with its article present.
fn question_fold(i: usize, j: usize) -> usize {
    (i % FOLDS + 1 + j % (FOLDS - 1)) % FOLDS
}

fn fit_samples(samples: &[Sample], fit: &FitOptions, method: &str) -> Calibration {
    let prior = &fit.prior;
    let ranking = if fit.hold_ranking {
        prior.ranking
    } else {
        fit_ranking(
            samples,
            &prior.ranking,
            fit.prior_strength,
            fit.hold_lexical,
        )
    };
    let calibration = Calibration {
        ranking,
        ..prior.clone()
    };
    let mut rows = Vec::with_capacity(samples.len());
    for sample in samples {
        let ranked = calibration.rank(sample.candidates.clone());
        let features = ConfidenceFeatures::of(&ranked, sample.dense);
        let correct = match (ranked.first(), sample.truth) {
            (Some((top, _)), Some(truth)) => top.slot == truth,
            _ => false,
        };
        rows.push((features, correct));
    }
    let positives = rows.iter().filter(|(_, y)| *y).count();
    let negatives = rows.len() - positives;
    let confidence = fit_confidence(
        &rows,
        &prior.confidence,
        fit.prior_strength,
        fit.hold_lexical,
    );
    Calibration {
        ranking,
        confidence,
        fitted: FitSummary {
            method: method.to_string(),
            positives,
            negatives,
        },
    }
}

/// The pull towards the prior per coefficient: `strength`, or practically fixed for the
/// lexical coefficients when only the dense ones are fitted.
fn strengths(n: usize, strength: f64, dense: &[usize], hold_lexical: bool) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if hold_lexical && !dense.contains(&i) {
                1e12
            } else {
                strength
            }
        })
        .collect()
}

/// Softmax regression over each question's candidates, the right article as the target.
fn fit_ranking(
    samples: &[Sample],
    prior: &RankingWeights,
    strength: f64,
    hold_lexical: bool,
) -> RankingWeights {
    let lists: Vec<(Vec<[f64; FEATURES]>, usize)> = samples
        .iter()
        .filter_map(|s| {
            let truth = s.truth?;
            let target = s.candidates.iter().position(|c| c.slot == truth)?;
            if s.candidates.len() < 2 {
                return None;
            }
            let rows = s
                .candidates
                .iter()
                .map(|c| c.features.values.map(f64::from))
                .collect();
            Some((rows, target))
        })
        .collect();
    if lists.is_empty() {
        return *prior;
    }
    let centre = prior.to_array().to_vec();
    let strength = strengths(
        FEATURES,
        strength,
        &[feature::DENSE_MAX, feature::DENSE_CENTROID],
        hold_lexical,
    );
    let weights = minimise(&centre, &strength, |w| {
        let mut loss = 0.0;
        let mut grad = vec![0.0; FEATURES];
        let mut hess = vec![vec![0.0; FEATURES]; FEATURES];
        for (rows, target) in &lists {
            let scores: Vec<f64> = rows.iter().map(|x| dot(w, x)).collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            loss += sum.ln() + max - scores[*target];
            let mut mean = [0.0; FEATURES];
            for (x, e) in rows.iter().zip(&exps) {
                let p = e / sum;
                for a in 0..FEATURES {
                    mean[a] += p * x[a];
                    for b in 0..FEATURES {
                        hess[a][b] += p * x[a] * x[b];
                    }
                }
            }
            for a in 0..FEATURES {
                grad[a] += mean[a] - rows[*target][a];
                for b in 0..FEATURES {
                    hess[a][b] -= mean[a] * mean[b];
                }
            }
        }
        (loss, grad, hess)
    });
    let mut array = [0.0; FEATURES];
    array.copy_from_slice(&weights);
    RankingWeights::from_array(array)
}

/// Logistic regression of "the top article is right", both classes weighted equally. The
/// dense coefficient is fitted when every row has a dense similarity.
fn fit_confidence(
    rows: &[(ConfidenceFeatures, bool)],
    prior: &ConfidenceCoefficients,
    strength: f64,
    hold_lexical: bool,
) -> ConfidenceCoefficients {
    let positives = rows.iter().filter(|(_, y)| *y).count();
    let negatives = rows.len() - positives;
    if rows.is_empty() {
        return *prior;
    }
    // Equal total weight per class; a class that is absent leaves the prior to speak for it.
    let weight = |y: bool| {
        let n = if y { positives } else { negatives };
        if n == 0 {
            0.0
        } else {
            rows.len() as f64 / (2.0 * n as f64)
        }
    };
    let dense = rows.iter().all(|(f, _)| f.dense.is_some());
    let n = CONFIDENCE_FEATURES + 1 + usize::from(dense);
    let data: Vec<(Vec<f64>, f64, f64)> = rows
        .iter()
        .map(|(f, y)| {
            let mut x = vec![1.0];
            x.extend_from_slice(&f.to_array());
            if dense {
                x.push(f.dense.map_or(0.0, f64::from));
            }
            (x, if *y { 1.0 } else { 0.0 }, weight(*y))
        })
        .collect();
    let mut centre = prior.to_array().to_vec();
    if dense {
        centre.push(prior.dense);
    }
    let strength = strengths(
        n,
        strength,
        &[CONFIDENCE_FEATURES + 1],
        hold_lexical && dense,
    );
    let coefficients = minimise(&centre, &strength, |w| {
        let mut loss = 0.0;
        let mut grad = vec![0.0; n];
        let mut hess = vec![vec![0.0; n]; n];
        for (x, y, c) in &data {
            let z = dot(w, x);
            let p = sigmoid(z);
            // log(1 + e^z) - y z, computed without overflow.
            loss += c * (z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z);
            for a in 0..n {
                grad[a] += c * (p - y) * x[a];
                for b in 0..n {
                    hess[a][b] += c * p * (1.0 - p) * x[a] * x[b];
                }
            }
        }
        (loss, grad, hess)
    });
    let mut array = [0.0; CONFIDENCE_FEATURES + 1];
    array.copy_from_slice(&coefficients[..CONFIDENCE_FEATURES + 1]);
    let dense_coefficient = if dense {
        coefficients[CONFIDENCE_FEATURES + 1]
    } else {
        prior.dense
    };
    ConfidenceCoefficients::from_array(array, dense_coefficient)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f(w) + sum_i strength_i/2 * (w_i - centre_i)^2` by damped Newton steps, where
/// `f` returns its value, gradient and Hessian. Starts from the centre.
fn minimise(
    centre: &[f64],
    strength: &[f64],
    f: impl Fn(&[f64]) -> (f64, Vec<f64>, Vec<Vec<f64>>),
) -> Vec<f64> {
    let n = centre.len();
    let objective = |w: &[f64]| {
        let (loss, mut grad, mut hess) = f(w);
        let mut penalty = 0.0;
        for i in 0..n {
            let d = w[i] - centre[i];
            penalty += strength[i] * d * d;
            grad[i] += strength[i] * d;
            hess[i][i] += strength[i];
        }
        (loss + 0.5 * penalty, grad, hess)
    };
    let mut w = centre.to_vec();
    let (mut value, mut grad, mut hess) = objective(&w);
    for _ in 0..50 {
        let Some(step) = solve(&hess, &grad) else {
            break;
        };
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let candidate: Vec<f64> = w.iter().zip(&step).map(|(wi, si)| wi - t * si).collect();
            let next = objective(&candidate);
            if next.0.is_finite() && next.0 <= value {
                let gain = value - next.0;
                w = candidate;
                (value, grad, hess) = next;
                improved = gain > 1e-9 * value.abs().max(1.0);
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    w
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky); `None` if it is not.
fn solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let sum = a[i][j] - dot(&l[i][..j], &l[j][..j]);
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i][i] = sum.sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - dot(&l[i][..i], &y[..i])) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| l[k][i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_is_held_out_in_a_fold_where_its_article_stays() {
        for i in 0..12 {
            for j in 0..9 {
                assert_ne!(question_fold(i, j), i % FOLDS);
            }
        }
    }

    #[test]
    fn newton_finds_the_minimum_of_a_quadratic() {
        let w = minimise(&[0.0, 0.0], &[1e-9, 1e-9], |w| {
            let loss = (w[0] - 3.0).powi(2) + 2.0 * (w[1] + 1.0).powi(2);
            let grad = vec![2.0 * (w[0] - 3.0), 4.0 * (w[1] + 1.0)];
            let hess = vec![vec![2.0, 0.0], vec![0.0, 4.0]];
            (loss, grad, hess)
        });
        assert!((w[0] - 3.0).abs() < 1e-6 && (w[1] + 1.0).abs() < 1e-6);
    }
}
