//! Ed25519 verification with the two rule sets Go uses.
//! (Placeholder signatures until the crypto branch merges.)
#![allow(missing_docs)]
#[derive(Debug)]
pub enum VerifyError {
    SmallOrderKey,
    BadSignature,
}
pub fn verify_zip215_hardened(_p: &[u8], _m: &[u8], _s: &[u8]) -> Result<(), VerifyError> {
    Err(VerifyError::BadSignature)
}
pub fn verify_cofactorless_hardened(_p: &[u8], _m: &[u8], _s: &[u8]) -> Result<(), VerifyError> {
    Err(VerifyError::BadSignature)
}
