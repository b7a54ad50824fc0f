//! The endpoints over HTTP with axum: the eight `/machine/tka/*` paths,
//! `GET` with a JSON body as Go's client sends them (over the Noise
//! channel, which the embedder terminates).
//!
//! Status codes follow Go's reference control: 200 with the JSON response
//! (and a newline, as `json.Encoder` writes), 400 with a plain-text reason
//! for a request at fault, 500 for a server fault. Also: 413 for a body
//! over [`REQUEST_CAP`], 405 for another method, and whatever status the
//! embedder's [`Identify`] rejects with. Go's client shows the body of any
//! non-200 answer as the error.

use crate::model::Caller;
use crate::service::Service;
use crate::store::ControlStore;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tka::wire::{Path, REQUEST_CAP};

/// Why the embedder refused to identify a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status to answer with (e.g. 401, 403).
    pub status: u16,
    /// The reason, sent as the body.
    pub message: String,
}

/// The embedder's authentication: maps a request (its head, and the body
/// for servers that identify by it) to the [`Caller`].
pub trait Identify: Clone + Send + Sync + 'static {
    /// The caller of a request to `path`.
    fn identify(
        &self,
        path: Path,
        parts: &Parts,
        body: &[u8],
    ) -> impl Future<Output = Result<Caller, Rejection>> + Send;
}

struct AppState<St: ControlStore, I> {
    service: Arc<Service<St>>,
    identify: I,
}

impl<St: ControlStore, I: Clone> Clone for AppState<St, I> {
    fn clone(&self) -> Self {
        AppState {
            service: self.service.clone(),
            identify: self.identify.clone(),
        }
    }
}

/// A router serving the eight paths for `service`, identifying callers
/// with `identify`.
pub fn router<St: ControlStore, I: Identify>(service: Arc<Service<St>>, identify: I) -> Router {
    let mut r = Router::new();
    for path in Path::ALL {
        r = r.route(
            path.as_str(),
            get(move |State(s): State<AppState<St, I>>, req: Request| serve(s, path, req)),
        );
    }
    r.with_state(AppState { service, identify })
}

fn text(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    let mut body = msg.to_string();
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn serve<St: ControlStore, I: Identify>(
    s: AppState<St, I>,
    path: Path,
    req: Request,
) -> Response {
    let (parts, body): (Parts, Body) = req.into_parts();
    let body = match to_bytes(body, REQUEST_CAP).await {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format_args!("request body: {e} (at most {REQUEST_CAP} bytes)"),
            )
        }
    };
    let caller = match s.identify.identify(path, &parts, &body).await {
        Ok(c) => c,
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN);
            return text(status, r.message);
        }
    };
    match s.service.handle(&caller, path, &body).await {
        Ok(out) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            out,
        )
            .into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::warn!(%path, tailnet = %caller.tailnet, error = %e, "tka request failed");
            }
            text(status, e)
        }
    }
}
