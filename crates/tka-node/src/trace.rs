//! `tracing` events with structured fields (feature `tracing`); without the
//! feature these functions do nothing and `tracing` is not compiled in.
//!
//! Targets are `tka_node::*`; fields: `peer`, `node_key`, `verdict`,
//! `admitted`, `head`, `path`, `request`, `duration_ms`, `error`, `issues`.

use std::collections::BTreeSet;
use std::time::Duration;
use tka::machine::{HealthIssue, Level, PeerVerdict, RequestId};
use tka::wire::Path;
use tka::AumHash;

#[cfg(feature = "tracing")]
fn verdict_kind(pv: &PeerVerdict) -> &'static str {
    use tka::machine::{RejectReason, Verdict};
    match &pv.verdict {
        Verdict::Authorized(_) => "authorized",
        Verdict::Unfiltered => "unfiltered",
        Verdict::PeerApiOnly => "peer_api_only",
        Verdict::Rejected(RejectReason::MissingSignature) => "missing_signature",
        Verdict::Rejected(RejectReason::InvalidSignature(_)) => "invalid_signature",
        Verdict::Rejected(RejectReason::RotatedAway) => "rotated_away",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// A peer's verdict changed.
pub(crate) fn verdict(pv: &PeerVerdict) {
    #[cfg(feature = "tracing")]
    tracing::event!(
        target: "tka_node::verdict",
        tracing::Level::INFO,
        peer = pv.node_id,
        node_key = %pv.node_key,
        verdict = verdict_kind(pv),
        admitted = pv.admitted,
        "peer verdict"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = pv;
}

/// The authority's head moved (or the authority went away).
pub(crate) fn head(head: Option<AumHash>) {
    #[cfg(feature = "tracing")]
    tracing::event!(
        target: "tka_node::authority",
        tracing::Level::INFO,
        head = %head.map(|h| h.to_string()).unwrap_or_default(),
        "authority head"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = head;
}

/// The machine's health changed.
pub(crate) fn health(issues: &BTreeSet<HealthIssue>) {
    #[cfg(feature = "tracing")]
    tracing::event!(
        target: "tka_node::health",
        tracing::Level::INFO,
        issues = ?issues,
        "health"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = issues;
}

/// A request was sent to control.
pub(crate) fn request(id: RequestId, path: Path) {
    #[cfg(feature = "tracing")]
    tracing::event!(
        target: "tka_node::request",
        tracing::Level::DEBUG,
        request = id.0,
        path = path.as_str(),
        "request sent"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (id, path);
}

/// A request to control completed.
pub(crate) fn response(
    id: RequestId,
    path: Path,
    took: Duration,
    error: Option<&crate::transport::TransportError>,
) {
    #[cfg(feature = "tracing")]
    match error {
        None => tracing::event!(
            target: "tka_node::request",
            tracing::Level::DEBUG,
            request = id.0,
            path = path.as_str(),
            duration_ms = took.as_millis() as u64,
            "response"
        ),
        Some(e) => tracing::event!(
            target: "tka_node::request",
            tracing::Level::WARN,
            request = id.0,
            path = path.as_str(),
            duration_ms = took.as_millis() as u64,
            error = %e,
            "request failed"
        ),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (id, path, took, error);
}

/// Saving to the store failed.
pub(crate) fn persist_failed(why: &str) {
    #[cfg(feature = "tracing")]
    tracing::event!(target: "tka_node::store", tracing::Level::ERROR, error = why, "save failed");
    #[cfg(not(feature = "tracing"))]
    let _ = why;
}

/// A netmap's `TKAInfo` could not be read.
pub(crate) fn warn_bad_tka_info(why: &str) {
    #[cfg(feature = "tracing")]
    tracing::event!(target: "tka_node::netmap", tracing::Level::WARN, error = why, "TKAInfo head unreadable: lock taken as off for this map");
    #[cfg(not(feature = "tracing"))]
    let _ = why;
}

/// A log line from the machine.
pub(crate) fn log(level: Level, message: &str) {
    #[cfg(feature = "tracing")]
    match level {
        Level::Info => {
            tracing::event!(target: "tka_node::machine", tracing::Level::INFO, "{message}")
        }
        _ => tracing::event!(target: "tka_node::machine", tracing::Level::WARN, "{message}"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (level, message);
}
