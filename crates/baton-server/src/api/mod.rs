//! The HTTP API: one router per area, merged here with the OpenAPI document, CORS, request
//! tracing and metrics.

pub mod admin;
pub mod agent;
pub mod customer;
pub mod handoff;
pub mod kb;
pub mod ops;
pub mod policy;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::route_not_found;
use crate::state::SharedState;

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baton API",
        description = "Self-hosted AI customer support with a warm human handoff. Customers \
                       authenticate with their conversation token, staff with API keys, both as \
                       `Authorization: Bearer ...` (or `?token=` on WebSocket upgrades). Errors \
                       are `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "customer", description = "Conversations as the customer sees them"),
        (name = "agent", description = "Conversations for support agents"),
        (name = "admin", description = "Staff and configuration"),
        (name = "knowledge base", description = "Articles the AI answers from"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "conversation_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole API as an OpenAPI router (routes plus their documentation).
fn api() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(customer::router())
        .merge(agent::router())
        .merge(handoff::router())
        .merge(admin::router())
        .merge(kb::router())
        .merge(policy::router())
        .merge(ops::router())
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Builds the application: every route, with its layers, bound to `state`.
pub fn router(state: SharedState) -> Router {
    let (routes, openapi) = api().split_for_parts();
    let openapi_json = serde_json::to_string(&openapi).unwrap_or_else(|_| "{}".to_string());
    let cors = cors_layer(&state.config.server.cors_origins);
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], openapi_json)
            }),
        )
        .merge(crate::web::router())
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(record_metrics))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// Counts requests and their latency per route and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = start.elapsed().as_secs_f64();
    metrics::counter!("baton_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("baton_http_request_duration_seconds", "method" => method, "route" => route).record(elapsed);
    response
}
