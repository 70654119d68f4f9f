//! `GET /v1/health` (is the database reachable) and `GET /metrics` (Prometheus text).
//! Neither needs authentication; neither reveals an account.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

pub(super) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": backend, "api": 1 })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": backend, "api": 1 })),
            )
        }
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state.metrics.render();
    if let (Ok(accounts), Ok(envelopes)) = (
        state.db.account_count().await,
        state.db.envelope_count().await,
    ) {
        body.push_str(&format!(
            "# HELP pqxdh_accounts Registered accounts.\n# TYPE pqxdh_accounts gauge\n\
             pqxdh_accounts {accounts}\n# HELP pqxdh_envelopes_waiting Envelopes not yet \
             acknowledged.\n# TYPE pqxdh_envelopes_waiting gauge\npqxdh_envelopes_waiting {envelopes}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
