//! How a node reaches control: the [`Transport`] trait, and
//! [`HttpTransport`], plain HTTP on reqwest.
//!
//! An embedder with its own control channel (Noise / TS2021) implements
//! [`Transport`]; the driver only needs "send this body to this path, give
//! me the answer".

use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tka::wire::Path;

/// Why a request to control failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// Control answered with a status other than 200; carries the body's
    /// text (at most the path's response cap, lossily decoded).
    Status {
        /// The HTTP status code.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The response body was larger than the path's cap; reading stopped.
    TooLarge {
        /// The cap in bytes.
        cap: usize,
    },
    /// No complete answer within the timeout.
    Timeout,
    /// Connecting, sending or reading failed.
    Network(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Status { status, body } => {
                write!(f, "control answered {status}: {}", body.trim())
            }
            TransportError::TooLarge { cap } => {
                write!(f, "response larger than {cap} bytes")
            }
            TransportError::Timeout => f.write_str("request timed out"),
            TransportError::Network(e) => write!(f, "network: {e}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// Sends a Tailnet Lock request to control and returns the response body.
///
/// Implementations must enforce [`Path::response_cap`] while reading (the
/// answer is untrusted) and time out on their own.
pub trait Transport: Send + Sync + 'static {
    /// Sends `body` (JSON) to `path` and returns the 200 answer's body.
    fn send(
        &self,
        path: Path,
        body: Bytes,
    ) -> impl Future<Output = Result<Bytes, TransportError>> + Send;
}

/// Go's client timeout for Tailnet Lock requests: one minute.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// [`Transport`] over plain HTTP: `GET {base_url}{path}` with the JSON body,
/// as Go's client sends it.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    base_url: String,
}

impl HttpTransport {
    /// A transport to `base_url` (e.g. `http://127.0.0.1:8080`) with Go's
    /// one-minute timeout.
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        Self::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A transport with another timeout (for the whole request, including
    /// reading the body).
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| TransportError::Network(e.to_string()))?;
        Ok(HttpTransport {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }
}

fn net(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        return TransportError::Timeout;
    }
    // reqwest's own text names only the URL; the cause (e.g. "Connection
    // refused") is further down the source chain.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    TransportError::Network(text)
}

impl Transport for HttpTransport {
    async fn send(&self, path: Path, body: Bytes) -> Result<Bytes, TransportError> {
        let url = format!("{}{}", self.base_url, path.as_str());
        let mut resp = self
            .client
            .get(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(net)?;
        let cap = path.response_cap();
        if let Some(len) = resp.content_length() {
            if len > cap as u64 {
                return Err(TransportError::TooLarge { cap });
            }
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            if buf.len() + chunk.len() > cap {
                return Err(TransportError::TooLarge { cap });
            }
            buf.extend_from_slice(&chunk);
        }
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(TransportError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&buf).into_owned(),
            });
        }
        Ok(Bytes::from(buf))
    }
}
