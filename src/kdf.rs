//! The disablement key-derivation function.
