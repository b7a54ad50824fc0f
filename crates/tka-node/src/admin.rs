//! Running the core's operator flows ([`tka::admin`]) over a [`Transport`].
//!
//! The flows are sans-IO: they hand out requests and take response bodies.
//! [`run`] is the async loop that delivers them, the same loop as
//! [`tka::admin::drive`] but over an async transport such as
//! [`crate::HttpTransport`].

use crate::transport::{Transport, TransportError};
use bytes::Bytes;
use tka::admin::{DriveError, Flow, Step};

/// Runs `flow` to the end, sending each of its requests through
/// `transport` and feeding the answers back in.
///
/// A transport failure ends the flow with [`DriveError::Transport`]; a flow
/// never leaves a change half done on the node's side when that happens
/// (see [`tka::admin`]).
pub async fn run<F: Flow, T: Transport>(
    mut flow: F,
    transport: &T,
) -> Result<F::Output, DriveError<TransportError>> {
    let mut step = flow.start().map_err(DriveError::Admin)?;
    loop {
        match step {
            Step::Done(out) => return Ok(out),
            Step::Send(req) => {
                let answer = transport
                    .send(req.path, Bytes::from(req.body))
                    .await
                    .map_err(DriveError::Transport)?;
                step = flow.handle_response(&answer).map_err(DriveError::Admin)?;
            }
        }
    }
}
