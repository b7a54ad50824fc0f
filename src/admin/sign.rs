//! `lock sign`: sign a node key, or wrap a pre-auth key.

use super::{modify::Modify, parse, AdminError, Flow, Identity, Request, Step, CAPABILITY_VERSION};
use crate::authority::Authority;
use crate::hash::AumHash;
use crate::key::{Key, NlPrivate, NodeKey};
use crate::sig::{wrap_authkey, NodeKeySignature};
use crate::storage::Storage;
use crate::wire;

/// The `lock sign <nodekey> [<rotation-key>]` flow (Go's
/// `TailnetLockSign`): a Direct signature by this node's key, which must be
/// trusted, submitted with `sign`.
///
/// Without a rotation key the signature carries no wrapping key at all
/// (Go's CLI writes 32 zero bytes there, a small-order point under which
/// anyone can forge rotations; see SPEC.md). A small-order rotation key is
/// refused.
pub struct SignNode {
    id: Identity,
    sig: Vec<u8>,
    done: bool,
}

impl SignNode {
    /// Signs `node` with this node's key, naming `rotation` as the key
    /// allowed to rotate it.
    pub fn new(
        id: Identity,
        authority: Option<&Authority>,
        node: &NodeKey,
        rotation: Option<[u8; 32]>,
    ) -> Result<Self, AdminError> {
        let a = authority.ok_or(AdminError::NotEnabled)?;
        if !a.key_trusted(&id.key.public().0) {
            return Err(AdminError::NotTrusted);
        }
        let sig = NodeKeySignature::sign_direct(&id.key, node, rotation)?.to_cbor();
        Ok(SignNode {
            id,
            sig,
            done: false,
        })
    }

    /// The signature (CBOR).
    pub fn signature(&self) -> &[u8] {
        &self.sig
    }
}

impl Flow for SignNode {
    /// The submitted signature (CBOR).
    type Output = Vec<u8>;

    fn start(&mut self) -> Result<Step<Vec<u8>>, AdminError> {
        Ok(Step::Send(Request::of(&wire::SubmitSignatureRequest {
            version: CAPABILITY_VERSION,
            node_key: self.id.node_key,
            signature: Some(self.sig.clone()),
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<Vec<u8>>, AdminError> {
        if self.done {
            return Err(AdminError::Finished);
        }
        parse::<wire::SubmitSignatureRequest>(body)?;
        self.done = true;
        Ok(Step::Done(self.sig.clone()))
    }
}

/// The metadata Go's `lock sign <tskey-auth-…>` puts on the key it adds:
/// `purpose = pre-auth key`, `wrapper_stableid` (this node's stable ID),
/// `wrapper_createtime` (Unix seconds) and, when the auth key has the
/// `tskey-auth-<id>-…` form, `authkey_stableid = <id>`.
pub fn preauth_key_meta(auth_key: &str, wrapper_stable_id: &str, now: u64) -> crate::Meta {
    let mut m = crate::Meta::new();
    m.insert("purpose".into(), "pre-auth key".into());
    m.insert("wrapper_stableid".into(), wrapper_stable_id.into());
    m.insert("wrapper_createtime".into(), now.to_string().into());
    if let Some(rest) = auth_key.strip_prefix("tskey-auth-") {
        if let Some(i) = rest.find('-').filter(|&i| i > 0) {
            m.insert("authkey_stableid".into(), rest[..i].into());
        }
    }
    m
}

/// The `lock sign <tskey-auth-…>` flow (Go's `wrapAuthKey`): a fresh
/// tailnet-lock key is added to the authority (with
/// [`preauth_key_meta`]), and the pre-auth key is wrapped with a Credential
/// signature by that fresh key over a fresh wrapping key, so a node joining
/// with the wrapped key can sign itself.
pub struct WrapAuthKey {
    wrapped: String,
    modify: Modify,
    done: bool,
}

impl WrapAuthKey {
    /// Wraps `auth_key`. `new_key_seed` and `wrapping_seed` must be fresh
    /// random 32-byte seeds (the core has no RNG); `wrapper_stable_id` is
    /// this node's stable ID and `now` the time in Unix seconds.
    #[allow(clippy::too_many_arguments)] // Go's inputs, one each
    pub fn new<S: Storage + ?Sized>(
        id: Identity,
        authority: Option<&Authority>,
        storage: &S,
        auth_key: &str,
        new_key_seed: [u8; 32],
        wrapping_seed: [u8; 32],
        wrapper_stable_id: &str,
        now: u64,
    ) -> Result<Self, AdminError> {
        if auth_key.contains("--TL") {
            return Err(AdminError::AlreadyWrapped);
        }
        let new_key = NlPrivate::from_seed(&new_key_seed);
        let wrapping = NlPrivate::from_seed(&wrapping_seed);
        let credential = NodeKeySignature::sign_credential(&new_key, wrapping.public().0)?;
        let wrapped = wrap_authkey(auth_key, &credential, &wrapping.to_keypair_bytes());
        let mut key = Key::ed25519(new_key.public().0, 1);
        key.meta = Some(preauth_key_meta(auth_key, wrapper_stable_id, now));
        let modify = Modify::new(id, authority, storage, &[key], &[])?;
        Ok(WrapAuthKey {
            wrapped,
            modify,
            done: false,
        })
    }
}

impl Flow for WrapAuthKey {
    /// The wrapped auth key and the hashes of the updates adding its key.
    type Output = (String, Vec<AumHash>);

    fn start(&mut self) -> Result<Step<Self::Output>, AdminError> {
        self.step(|m| m.start())
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<Self::Output>, AdminError> {
        if self.done {
            return Err(AdminError::Finished);
        }
        self.step(|m| m.handle_response(body))
    }
}

impl WrapAuthKey {
    fn step(
        &mut self,
        f: impl FnOnce(&mut Modify) -> Result<Step<Vec<AumHash>>, AdminError>,
    ) -> Result<Step<(String, Vec<AumHash>)>, AdminError> {
        Ok(match f(&mut self.modify)? {
            Step::Send(r) => Step::Send(r),
            Step::Done(h) => {
                self.done = true;
                Step::Done((self.wrapped.clone(), h))
            }
        })
    }
}
