//! Tailnet Lock for Rust control servers: the IO half of the control side
//! over the sans-IO [`tka`] core.
//!
//! * [`Service`] answers the eight `/machine/tka/*` requests Go's client
//!   sends, for a [`Caller`] the embedding server authenticated (its Noise
//!   machine key mapped to a node and tailnet): nothing in a request body
//!   decides whose tailnet is touched.
//! * [`decide`] holds the decisions without IO; [`netmap`] what goes into
//!   map responses (`TKAInfo`, each peer's `KeySignature`, unsigned
//!   nodes).
//! * [`ControlStore`] is the storage the service needs; [`SqlStore`]
//!   implements it on SQLite (one file, the default) and Postgres (several
//!   replicas; no lost update, see [`sql`]).
//! * [`http::router`] (feature `http`) serves the endpoints with axum;
//!   [`standalone`] runs one tailnet on loopback for tests and demos.
//!
//! # Example
//!
//! ```no_run
//! use tka_control::{Caller, Service, SqlStore, TailnetId};
//! # async fn f(node_key: tka::NodeKey, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let service = Service::new(SqlStore::sqlite("/var/lib/control/tka.db").await?);
//! let tailnet = TailnetId::from("example.com");
//! service.register_key(&tailnet, &node_key).await?;
//! // For each authenticated request:
//! let caller = Caller { tailnet: tailnet.clone(), node: node_key };
//! let response = service.handle(&caller, tka::wire::Path::SyncOffer, body).await?;
//! // For each map response:
//! let tka_info = service.tka_info(&tailnet).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod decide;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod model;
pub mod netmap;
pub mod service;
pub mod sql;
#[cfg(feature = "http")]
pub mod standalone;
pub mod store;

pub use error::{ServiceError, StoreError};
pub use model::{Caller, LockStatus, NodeRecord, TailnetId};
pub use netmap::{PeerView, UnsignedPolicy};
pub use service::Service;
pub use sql::{Backend, SqlStore};
pub use store::{ControlStore, LockedTailnet};
pub use tka;
