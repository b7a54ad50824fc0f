//! Ed25519 verification with the two rule sets Go uses.
