//! Tailnet Lock for Rust control servers: the IO half of the control side
//! over the sans-IO [`tka`] core.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use tka;
