#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod driver;
pub mod fs;
pub mod record;
pub mod store;
mod trace;
pub mod transport;

pub use driver::{ChangeError, Health, Netmap, Node, NodeHandle, StartError, Stats};
pub use store::DirStore;
pub use tka;
pub use transport::{HttpTransport, Transport, TransportError};
