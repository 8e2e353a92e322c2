//! The knowledge-base API: staff read and search articles; admins add, edit and retire them.
//! Every change is a new knowledge-base revision in the store, and the retrieval index
//! follows at once. Also serves each article as a page, for the links AI answers cite.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use baton_kb::Article;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::analysis::ArticleScore;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AdminAuth, Json, Query, StaffAuth};
use crate::knowledge;
use crate::state::{AppState, SharedState};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, put_article, retire_article))
        .routes(routes!(search))
        .route("/kb/{id}", axum::routing::get(article_page))
}

/// A knowledge-base article.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleDoc {
    /// Letters, digits, `-`, `_` and `.`; at most 128 characters.
    pub id: String,
    pub title: String,
    /// The article text (Markdown).
    #[serde(default)]
    pub body: String,
    /// Example questions the article answers; they drive retrieval and confidence.
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub issue_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl From<Article> for ArticleDoc {
    fn from(a: Article) -> Self {
        ArticleDoc {
            id: a.id,
            title: a.title,
            body: a.body,
            questions: a.questions,
            issue_type: a.issue_type,
            tags: a.tags,
        }
    }
}

impl ArticleDoc {
    fn into_article(self) -> Result<Article, ApiError> {
        let id = self.id.trim().to_string();
        if id.is_empty()
            || id.len() > 128
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ApiError::invalid(
                "id must be 1 to 128 letters, digits, '-', '_' or '.'",
            ));
        }
        if self.title.trim().is_empty() {
            return Err(ApiError::invalid("title must not be empty"));
        }
        Ok(Article {
            id,
            title: self.title.trim().to_string(),
            body: self.body,
            questions: self
                .questions
                .into_iter()
                .map(|q| q.trim().to_string())
                .filter(|q| !q.is_empty())
                .collect(),
            issue_type: self.issue_type.filter(|t| !t.trim().is_empty()),
            tags: self.tags,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ArticleList {
    pub articles: Vec<ArticleDoc>,
    /// The knowledge-base revision these articles are at.
    pub revision: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ArticleSaved {
    pub article: ArticleDoc,
    /// The knowledge-base revision after the change.
    pub revision: i64,
}

/// Lists the active articles.
#[utoipa::path(get, path = "/v1/kb/articles", tag = "knowledge base",
    responses((status = 200, body = ArticleList), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn list_articles(
    State(state): State<SharedState>,
    _staff: StaffAuth,
) -> Result<axum::Json<ArticleList>, ApiError> {
    let revision = state.store.kb_revision().await?;
    let articles = knowledge::stored_articles(&*state.store)
        .await
        .map_err(internal)?;
    Ok(axum::Json(ArticleList {
        articles: articles.into_iter().map(ArticleDoc::from).collect(),
        revision,
    }))
}

/// One active article.
#[utoipa::path(get, path = "/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, body = ArticleDoc), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn get_article(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<ArticleDoc>, ApiError> {
    stored_article(&state, &id)
        .await?
        .map(|a| axum::Json(a.into()))
        .ok_or_else(article_not_found)
}

/// Adds an article; 409 when one with the same id exists.
#[utoipa::path(post, path = "/v1/kb/articles", tag = "knowledge base",
    request_body = ArticleDoc,
    responses((status = 201, body = ArticleSaved), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn create_article(
    State(state): State<SharedState>,
    AdminAuth(admin): AdminAuth,
    Json(doc): Json<ArticleDoc>,
) -> Result<(StatusCode, axum::Json<ArticleSaved>), ApiError> {
    let article = doc.into_article()?;
    if stored_article(&state, &article.id).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "article {} exists; use PUT /v1/kb/articles/{} to change it",
            article.id, article.id
        )));
    }
    let saved = save(&state, article, &format!("added by {}", admin.name)).await?;
    Ok((StatusCode::CREATED, axum::Json(saved)))
}

/// Creates or replaces the article with this id.
#[utoipa::path(put, path = "/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "Article id")),
    request_body = ArticleDoc,
    responses((status = 200, body = ArticleSaved), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn put_article(
    State(state): State<SharedState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
    Json(doc): Json<ArticleDoc>,
) -> Result<axum::Json<ArticleSaved>, ApiError> {
    let article = doc.into_article()?;
    if article.id != id {
        return Err(ApiError::invalid(format!(
            "the body's id {:?} differs from the path's {id:?}",
            article.id
        )));
    }
    Ok(axum::Json(
        save(&state, article, &format!("edited by {}", admin.name)).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ArticleRetired {
    pub id: String,
    pub revision: i64,
}

/// Retires an article: the AI stops using it; its history is kept.
#[utoipa::path(delete, path = "/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, body = ArticleRetired), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn retire_article(
    State(state): State<SharedState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<ArticleRetired>, ApiError> {
    if stored_article(&state, &id).await?.is_none() {
        return Err(article_not_found());
    }
    let result = knowledge::write_articles(
        &*state.store,
        &[],
        vec![id.clone()],
        false,
        &format!("retired by {}", admin.name),
        state.now(),
    )
    .await
    .map_err(internal)?;
    state.kb.reload(&*state.store).await.map_err(internal)?;
    Ok(axum::Json(ArticleRetired {
        id,
        revision: result.revision,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The question to search for.
    pub q: String,
    /// At most this many articles (default 5, at most 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    /// Whether the text asks for something (greetings and thanks do not).
    pub question: bool,
    /// Calibrated probability that the first article answers it; `null` when it asks nothing
    /// or the knowledge base is empty.
    pub confidence: Option<f64>,
    #[schema(value_type = Vec<Object>)]
    pub articles: Vec<ArticleScore>,
    pub revision: i64,
}

/// Searches the knowledge base as the AI would.
#[utoipa::path(get, path = "/v1/kb/search", tag = "knowledge base",
    params(SearchQuery),
    responses((status = 200, body = SearchResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn search(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Query(query): Query<SearchQuery>,
) -> Result<axum::Json<SearchResult>, ApiError> {
    if query.q.trim().is_empty() {
        return Err(ApiError::invalid("q must not be empty"));
    }
    let limit = query.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 50"));
    }
    let question = baton_kb::asks_something(&query.q);
    let found = state.kb.retrieve(&query.q, limit).await.map_err(internal)?;
    Ok(axum::Json(SearchResult {
        question,
        confidence: if question { found.confidence } else { None },
        articles: found
            .hits
            .into_iter()
            .map(|h| ArticleScore {
                id: h.id,
                title: h.title,
                score: h.score,
            })
            .collect(),
        revision: state.kb.revision(),
    }))
}

/// The article as a plain page, for the links in AI answers.
async fn article_page(State(state): State<SharedState>, Path(id): Path<String>) -> Response {
    match state.kb.article(&id) {
        Some(article) => {
            let paragraphs: String = article
                .body
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .map(|p| format!("<p>{}</p>\n", escape(p.trim()).replace('\n', "<br>")))
                .collect();
            let page = format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:42rem;\
                 margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}}</style></head>\
                 <body><article><h1>{title}</h1>\n{paragraphs}</article></body></html>",
                title = escape(&article.title)
            );
            (
                [(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                )],
                Html(page),
            )
                .into_response()
        }
        None => article_not_found().into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn stored_article(state: &AppState, id: &str) -> Result<Option<Article>, ApiError> {
    match state.store.kb_document(id).await? {
        Some(doc) => serde_json::from_value(doc.content).map(Some).map_err(|e| {
            internal(knowledge::KnowledgeError::Corrupt {
                id: id.to_string(),
                message: e.to_string(),
            })
        }),
        None => Ok(None),
    }
}

async fn save(state: &AppState, article: Article, note: &str) -> Result<ArticleSaved, ApiError> {
    let result = knowledge::write_articles(
        &*state.store,
        std::slice::from_ref(&article),
        Vec::new(),
        false,
        note,
        state.now(),
    )
    .await
    .map_err(internal)?;
    state.kb.reload(&*state.store).await.map_err(internal)?;
    Ok(ArticleSaved {
        article: article.into(),
        revision: result.revision,
    })
}

fn article_not_found() -> ApiError {
    ApiError::not_found("article not found")
}

fn internal(e: knowledge::KnowledgeError) -> ApiError {
    match e {
        knowledge::KnowledgeError::Store(e) => e.into(),
        other => {
            tracing::error!(error = %other, "knowledge base failure");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the knowledge base could not complete the request",
            )
        }
    }
}
