//! Node-key signatures (Go's `tka.NodeKeySignature`): how a tailnet-lock key
//! authorizes a node key, directly, through a credential, or through a chain
//! of rotations.
//!
//! Verification follows Go except in one place, on purpose: a verification
//! key that is a small-order curve point is refused (see SPEC.md,
//! "Hardening"). Nobody holds a private key for such a point, so no honest
//! signature is lost, while Go accepts forgeries made with them.

use crate::cbor::{check_well_formed, encode_to_hash, encode_to_vec, DecodeError, Encoder, Reader};
use crate::ed25519::{self, VerifyError};
use crate::key::{Key, KeyKind, KeyParseError, NlPrivate, NodeKey};
use crate::limits::MAX_ROTATION_CHAIN_KEYS;
use std::fmt;

/// The kind of a node-key signature (Go's `SigKind`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SigKind(pub u8);

impl SigKind {
    /// Kind 0, never valid.
    pub const INVALID: SigKind = SigKind(0);
    /// A trusted key signs a node key.
    pub const DIRECT: SigKind = SigKind(1);
    /// Wraps a nested signature; signed by the nested signature's wrapping key.
    pub const ROTATION: SigKind = SigKind(2);
    /// A trusted key delegates signing to its wrapping key; valid only nested
    /// inside a rotation.
    pub const CREDENTIAL: SigKind = SigKind(3);
}

impl fmt::Display for SigKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("invalid"),
            1 => f.write_str("direct"),
            2 => f.write_str("rotation"),
            3 => f.write_str("credential"),
            n => write!(f, "Sig?<{n}>"),
        }
    }
}

impl fmt::Debug for SigKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A node-key signature, as decoded: nothing here is verified.
///
/// All byte fields are omitted from the encoding when empty; `Option` keeps
/// whether Go saw nil or an empty value. The depth of `nested` is bounded by
/// the decoder (at most 16 signature maps).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct NodeKeySignature {
    /// Direct, rotation or credential.
    pub sig_kind: SigKind,
    /// The node key certified, in its binary form (`np` + 32 bytes).
    pub pubkey: Option<Vec<u8>>,
    /// The authorizing tailnet-lock key (Direct and Credential only).
    pub key_id: Option<Vec<u8>>,
    /// The Ed25519 signature over [`NodeKeySignature::sig_hash`].
    pub signature: Option<Vec<u8>>,
    /// The wrapped signature (Rotation only).
    pub nested: Option<Box<NodeKeySignature>>,
    /// The Ed25519 key allowed to sign a rotation wrapping this signature.
    pub wrapping_pubkey: Option<Vec<u8>>,
}

fn non_empty(b: &Option<Vec<u8>>) -> Option<&[u8]> {
    b.as_deref().filter(|b| !b.is_empty())
}

impl NodeKeySignature {
    /// Decodes a signature with Go's exact acceptance rules.
    pub fn from_cbor(input: &[u8]) -> Result<Self, DecodeError> {
        check_well_formed(input)?;
        let mut r = Reader::new(input);
        Ok(Self::decode(&mut r)?.unwrap_or_default())
    }

    /// Decodes one signature map; `None` for `null`. Recursion is bounded
    /// because the input already passed the depth check.
    fn decode(r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        let mut s = NodeKeySignature::default();
        let present = r.struct_map("tka.NodeKeySignature", 0b111_1110, |r, f| {
            match f {
                1 => s.sig_kind = SigKind(r.uint("tka.NodeKeySignature.SigKind", 255)? as u8),
                2 => s.pubkey = r.bytes("tka.NodeKeySignature.Pubkey")?,
                3 => s.key_id = r.bytes("tka.NodeKeySignature.KeyID")?,
                4 => s.signature = r.bytes("tka.NodeKeySignature.Signature")?,
                5 => {
                    r.charge(std::mem::size_of::<NodeKeySignature>())?;
                    s.nested = Self::decode(r)?.map(Box::new)
                }
                _ => s.wrapping_pubkey = r.bytes("tka.NodeKeySignature.WrappingPubkey")?,
            }
            Ok(())
        })?;
        Ok(present.then_some(s))
    }

    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
        with_signature: bool,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        let pubkey = non_empty(&self.pubkey);
        let key_id = non_empty(&self.key_id);
        let sig = non_empty(&self.signature).filter(|_| with_signature);
        let wrapping = non_empty(&self.wrapping_pubkey);
        let n = 1
            + u64::from(pubkey.is_some())
            + u64::from(key_id.is_some())
            + u64::from(sig.is_some())
            + u64::from(self.nested.is_some())
            + u64::from(wrapping.is_some());
        e.map(n)?;
        e.u8(1)?.u8(self.sig_kind.0)?;
        if let Some(p) = pubkey {
            e.u8(2)?.bytes(p)?;
        }
        if let Some(k) = key_id {
            e.u8(3)?.bytes(k)?;
        }
        if let Some(s) = sig {
            e.u8(4)?.bytes(s)?;
        }
        if let Some(n) = &self.nested {
            e.u8(5)?;
            n.encode(e, true)?;
        }
        if let Some(w) = wrapping {
            e.u8(6)?.bytes(w)?;
        }
        Ok(())
    }

    /// The canonical CBOR encoding, byte-identical to Go's `Serialize`.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode_to_vec(|e| self.encode(e, true))
    }

    /// BLAKE2s-256 of the encoding without this layer's signature: what the
    /// signature signs. A nested signature is covered in full.
    pub fn sig_hash(&self) -> [u8; 32] {
        encode_to_hash(|e| self.encode(e, false))
    }

    /// The key allowed to sign a rotation over this signature: this layer's
    /// wrapping key, or for a rotation the nested one's (Go's
    /// `UnverifiedWrappingPublic`). Unverified.
    pub fn wrapping_public(&self) -> Option<&[u8]> {
        if let Some(w) = non_empty(&self.wrapping_pubkey) {
            return Some(w);
        }
        match self.sig_kind {
            SigKind::ROTATION => self.nested.as_deref()?.wrapping_public(),
            _ => None,
        }
    }

    /// The ID of the tailnet-lock key that must authorize this signature:
    /// the innermost Direct or Credential key ID (Go's
    /// `UnverifiedAuthorizingKeyID`). Unverified.
    pub fn authorizing_key_id(&self) -> Result<&[u8], NksError> {
        match self.sig_kind {
            SigKind::DIRECT | SigKind::CREDENTIAL => {
                non_empty(&self.key_id).ok_or(NksError::NoKeyId)
            }
            SigKind::ROTATION => self
                .nested
                .as_deref()
                .ok_or(NksError::MissingNested)?
                .authorizing_key_id(),
            k => Err(NksError::UnhandledSigKind(k)),
        }
    }

    /// Checks this signature authorizes `node_key` (ignored for a credential)
    /// under `verification_key` (with `prepared`, its decoded form when it
    /// has one), recursing through rotations. Small-order verification keys
    /// are refused.
    fn verify(
        &self,
        node_key: &NodeKey,
        verification_key: &Key,
        prepared: Option<&ed25519::PreparedKey>,
    ) -> Result<(), NksError> {
        if self.sig_kind != SigKind::CREDENTIAL
            && self.pubkey.as_deref().unwrap_or(&[]) != node_key.to_binary()
        {
            return Err(NksError::WrongNodeKey);
        }
        let sig_hash = self.sig_hash();
        let signature = self.signature.as_deref().unwrap_or(&[]);
        match self.sig_kind {
            SigKind::ROTATION => {
                let nested = self.nested.as_deref().ok_or(NksError::MissingNested)?;
                let wrapping = nested
                    .wrapping_public()
                    .ok_or(NksError::MissingRotationKey)?;
                if wrapping.len() != 32 {
                    return Err(NksError::RotationKeyLength(wrapping.len()));
                }
                ed25519::verify_cofactorless_hardened(wrapping, &sig_hash, signature)
                    .map_err(NksError::from_verify)?;
                let nested_key = if nested.sig_kind == SigKind::CREDENTIAL {
                    NodeKey::default()
                } else {
                    NodeKey::from_binary(nested.pubkey.as_deref().unwrap_or(&[]))
                        .map_err(NksError::NestedPubkey)?
                };
                nested
                    .verify(&nested_key, verification_key, prepared)
                    .map_err(|e| NksError::Nested(Box::new(e)))
            }
            SigKind::DIRECT | SigKind::CREDENTIAL => {
                if self.nested.is_some() {
                    return Err(NksError::NestingNotAllowed(self.sig_kind));
                }
                if verification_key.kind != KeyKind::ED25519 {
                    return Err(NksError::UnhandledKeyKind(verification_key.kind));
                }
                let public = verification_key.public.as_deref().unwrap_or(&[]);
                if public.len() != 32 {
                    return Err(NksError::KeyLength(public.len()));
                }
                match prepared {
                    // The same verdict as the hardened check on its bytes.
                    Some(p) => p.verify_zip215(&sig_hash, signature),
                    None => ed25519::verify_zip215_hardened(public, &sig_hash, signature),
                }
                .map_err(NksError::from_verify)
            }
            k => Err(NksError::UnhandledSigKind(k)),
        }
    }

    /// Rotation details of a verified rotation signature.
    fn rotation_details(&self) -> Result<Option<RotationDetails>, NksError> {
        if self.sig_kind != SigKind::ROTATION {
            return Ok(None);
        }
        let mut prev = Vec::new();
        let mut cur = self.nested.as_deref();
        while let Some(n) = cur {
            if let Some(pk) = non_empty(&n.pubkey) {
                prev.push(NodeKey::from_binary(pk).map_err(NksError::NestedPubkey)?);
            }
            if n.sig_kind != SigKind::ROTATION {
                break;
            }
            cur = n.nested.as_deref();
        }
        let initial = cur.ok_or(NksError::MissingNested)?.clone();
        Ok(Some(RotationDetails {
            prev_node_keys: prev,
            initial_sig: initial,
        }))
    }

    /// A Direct signature by `signer` over `node_key`. `wrapping` is the key
    /// allowed to rotate it later; `None` leaves it absent (never zeros).
    ///
    /// A small-order `wrapping` key (such as the 32 zero bytes Go's CLI
    /// writes) is refused with [`NksError::SmallOrderKey`]: anyone could
    /// forge rotations under it.
    pub fn sign_direct(
        signer: &NlPrivate,
        node_key: &NodeKey,
        wrapping: Option<[u8; 32]>,
    ) -> Result<Self, NksError> {
        if wrapping.is_some_and(|w| ed25519::is_small_order(&w)) {
            return Err(NksError::SmallOrderKey);
        }
        let mut s = NodeKeySignature {
            sig_kind: SigKind::DIRECT,
            pubkey: Some(node_key.to_binary().to_vec()),
            key_id: Some(signer.public().0.to_vec()),
            signature: None,
            nested: None,
            wrapping_pubkey: wrapping.map(|w| w.to_vec()),
        };
        s.signature = Some(signer.sign(&s.sig_hash()).to_vec());
        Ok(s)
    }

    /// A Credential signature by `signer` delegating to `wrapping` (used for
    /// wrapped auth keys). A small-order `wrapping` key is refused.
    pub fn sign_credential(signer: &NlPrivate, wrapping: [u8; 32]) -> Result<Self, NksError> {
        if ed25519::is_small_order(&wrapping) {
            return Err(NksError::SmallOrderKey);
        }
        let mut s = NodeKeySignature {
            sig_kind: SigKind::CREDENTIAL,
            pubkey: None,
            key_id: Some(signer.public().0.to_vec()),
            signature: None,
            nested: None,
            wrapping_pubkey: Some(wrapping.to_vec()),
        };
        s.signature = Some(signer.sign(&s.sig_hash()).to_vec());
        Ok(s)
    }

    /// A Rotation wrapping `nested` for `node_key`, signed by `signer`
    /// (which must hold the nested signature's wrapping key to verify).
    pub fn sign_rotation(signer: &NlPrivate, node_key: &[u8], nested: NodeKeySignature) -> Self {
        let mut s = NodeKeySignature {
            sig_kind: SigKind::ROTATION,
            pubkey: Some(node_key.to_vec()),
            key_id: None,
            signature: None,
            nested: Some(Box::new(nested)),
            wrapping_pubkey: None,
        };
        s.signature = Some(signer.sign(&s.sig_hash()).to_vec());
        s
    }
}

/// What a successful verification of a rotation signature tells about the
/// node's history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RotationDetails {
    /// Earlier node keys, newest first, original last.
    pub prev_node_keys: Vec<NodeKey>,
    /// The innermost Direct or Credential signature.
    pub initial_sig: NodeKeySignature,
}

/// Proof that a node key was authorized by a trusted key: only
/// [`node_key_authorized`] can produce one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Authorized {
    /// Boxed: most signatures are not rotations, and a machine keeps one
    /// `Authorized` per peer.
    rotation: Option<Box<RotationDetails>>,
}

impl Authorized {
    /// Rotation details when the signature was a rotation.
    pub fn rotation(&self) -> Option<&RotationDetails> {
        self.rotation.as_deref()
    }
}

/// Go's `NodeKeyAuthorizedWithDetails`, hardened: decodes `signature`,
/// refuses a top-level credential, finds the authorizing key among `trusted`
/// and verifies the chain for `node_key`.
///
/// This decodes the authorizing key on every call; [`TrustedKeys`] decodes
/// each trusted key once for many checks, with the same verdicts.
pub fn node_key_authorized(
    trusted: &[Key],
    node_key: &NodeKey,
    signature: &[u8],
) -> Result<Authorized, NksError> {
    Trust {
        keys: trusted,
        prepared: &[],
    }
    .node_key_authorized(node_key, signature)
}

/// [`node_key_authorized`] for many peers at once, with the same verdicts.
///
/// Direct signatures are checked as one ZIP-215 batch (the batch accepts
/// exactly what single checks accept); if the batch fails, each is checked
/// singly so every verdict names its own failure. Other signatures are
/// checked singly.
pub fn node_keys_authorized(
    trusted: &[Key],
    peers: &[(NodeKey, &[u8])],
) -> Vec<Result<Authorized, NksError>> {
    Trust {
        keys: trusted,
        prepared: &[],
    }
    .node_keys_authorized(peers)
}

/// The trusted keys of an authority, each Ed25519 key decoded once (with its
/// small-order check done) for the node-key checks of every peer.
///
/// [`TrustedKeys::node_key_authorized`] and
/// [`TrustedKeys::node_keys_authorized`] give exactly the verdicts of
/// [`node_key_authorized`] and [`node_keys_authorized`] on the same keys;
/// they only skip decoding the authorizing key again. Build one when the
/// key set changes (the [`crate::Authority`] does so itself).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<Key>,
    /// Index-aligned with `keys`: the decoded form of each Ed25519 key that
    /// is 32 bytes, a curve point and not of small order.
    prepared: Vec<Option<ed25519::PreparedKey>>,
}

impl TrustedKeys {
    /// Decodes the keys; keys that cannot verify anything are kept as they
    /// are, so that checks against them fail exactly as without the cache.
    pub fn new(keys: &[Key]) -> Self {
        let prepared = keys
            .iter()
            .map(|k| {
                let public = k.public.as_deref()?;
                if k.kind != KeyKind::ED25519 {
                    return None;
                }
                ed25519::PreparedKey::new(public).ok()
            })
            .collect();
        TrustedKeys {
            keys: keys.to_vec(),
            prepared,
        }
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// [`node_key_authorized`] with the prepared keys.
    pub fn node_key_authorized(
        &self,
        node_key: &NodeKey,
        signature: &[u8],
    ) -> Result<Authorized, NksError> {
        self.trust().node_key_authorized(node_key, signature)
    }

    /// [`node_keys_authorized`] with the prepared keys.
    pub fn node_keys_authorized(
        &self,
        peers: &[(NodeKey, &[u8])],
    ) -> Vec<Result<Authorized, NksError>> {
        self.trust().node_keys_authorized(peers)
    }

    fn trust(&self) -> Trust<'_> {
        Trust {
            keys: &self.keys,
            prepared: &self.prepared,
        }
    }
}

/// Trusted keys, with their decoded forms when known (`prepared` is either
/// empty or index-aligned with `keys`).
#[derive(Clone, Copy)]
struct Trust<'a> {
    keys: &'a [Key],
    prepared: &'a [Option<ed25519::PreparedKey>],
}

impl<'a> Trust<'a> {
    /// The first key with ID `kid` (as Go's lookup), and its decoded form.
    fn find(&self, kid: &[u8]) -> Option<(&'a Key, Option<&'a ed25519::PreparedKey>)> {
        let i = self
            .keys
            .iter()
            .position(|k| k.id().is_ok_and(|id| id == kid))?;
        Some((&self.keys[i], self.prepared.get(i).and_then(Option::as_ref)))
    }

    fn node_key_authorized(
        &self,
        node_key: &NodeKey,
        signature: &[u8],
    ) -> Result<Authorized, NksError> {
        let decoded = NodeKeySignature::from_cbor(signature).map_err(NksError::Decode)?;
        if decoded.sig_kind == SigKind::CREDENTIAL {
            return Err(NksError::CredentialAlone);
        }
        let kid = decoded.authorizing_key_id()?;
        let (key, prepared) = self.find(kid).ok_or(NksError::KeyNotFound)?;
        decoded.verify(node_key, key, prepared)?;
        Ok(Authorized {
            rotation: decoded.rotation_details()?.map(Box::new),
        })
    }

    fn node_keys_authorized(
        &self,
        peers: &[(NodeKey, &[u8])],
    ) -> Vec<Result<Authorized, NksError>> {
        let mut out: Vec<Option<Result<Authorized, NksError>>> = vec![None; peers.len()];
        let mut batch: Vec<(usize, DirectCheck)> = Vec::new();
        for (i, (nk, bytes)) in peers.iter().enumerate() {
            match self.direct_batch_item(nk, bytes) {
                Some(check) => batch.push((i, check)),
                None => out[i] = Some(self.node_key_authorized(nk, bytes)),
            }
        }
        let items: Vec<ed25519::BatchItem<'_>> = batch
            .iter()
            .map(|(_, (public, msg, sig))| ed25519::BatchItem { public, msg, sig })
            .collect();
        let all_ok = ed25519::verify_zip215_batch(&items);
        if all_ok {
            self.build_tables(batch.iter().map(|(_, (public, ..))| &public[..]));
        }
        for (i, ..) in &batch {
            out[*i] = Some(if all_ok {
                Ok(Authorized { rotation: None })
            } else {
                let (nk, bytes) = &peers[*i];
                self.node_key_authorized(nk, bytes)
            });
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(NksError::InvalidSignature)))
            .collect()
    }

    /// Builds the tables of the prepared keys among `signers` (the keys of
    /// a batch that verified), as a single check does after a key's first
    /// valid signature: the single checks that follow a first netmap (one
    /// peer delta at a time) then take the fast way from the first one.
    fn build_tables<'p>(&self, signers: impl Iterator<Item = &'p [u8]>) {
        let mut distinct = std::collections::BTreeSet::new();
        let mut last: Option<&[u8]> = None;
        for k in signers {
            // A netmap's peers are mostly signed by one key: look up only
            // when the signer changes.
            if last != Some(k) {
                distinct.insert(k);
                last = Some(k);
            }
        }
        for p in self.prepared.iter().flatten() {
            if distinct.contains(&p.public()[..]) {
                p.build_table();
            }
        }
    }

    /// For a Direct signature that passes every check but the Ed25519 one,
    /// the check to run; `None` otherwise.
    fn direct_batch_item(&self, node_key: &NodeKey, bytes: &[u8]) -> Option<DirectCheck> {
        let s = NodeKeySignature::from_cbor(bytes).ok()?;
        if s.sig_kind != SigKind::DIRECT || s.nested.is_some() {
            return None;
        }
        if s.pubkey.as_deref() != Some(&node_key.to_binary()[..]) {
            return None;
        }
        let kid = s.authorizing_key_id().ok()?;
        let (key, prepared) = self.find(kid)?;
        let public = key.public.as_deref()?;
        if key.kind != KeyKind::ED25519 || public.len() != 32 {
            return None;
        }
        // A prepared key is known not to be of small order.
        if prepared.is_none() && ed25519::is_small_order(public) {
            return None;
        }
        Some((
            public.to_vec(),
            s.sig_hash(),
            s.signature.clone().unwrap_or_default(),
        ))
    }
}

/// The Ed25519 check left for a Direct signature: public key, message,
/// signature.
type DirectCheck = (Vec<u8>, [u8; 32], Vec<u8>);

/// Go's `ResignNKS`: re-signs `old` for `new_node_key` with the node's
/// rotation key, trimming chains that would hold more than 15 node keys.
/// Returns `old` unchanged when it already certifies `new_node_key`.
pub fn resign(
    rotation_key: &NlPrivate,
    new_node_key: &NodeKey,
    old: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let old_sig = NodeKeySignature::from_cbor(old)?;
    let nk = new_node_key.to_binary();
    if old_sig.pubkey.as_deref() == Some(&nk[..]) {
        return Ok(old.to_vec());
    }
    let nested = trim_rotation_chain(old_sig, rotation_key);
    Ok(NodeKeySignature::sign_rotation(rotation_key, &nk, nested).to_cbor())
}

/// Keeps a rotation chain within 15 node keys (so one more layer still fits
/// the decoder's depth limit), re-signing the kept layers.
fn trim_rotation_chain(sig: NodeKeySignature, key: &NlPrivate) -> NodeKeySignature {
    if sig.sig_kind != SigKind::ROTATION {
        return sig;
    }
    let mut keys: Vec<Vec<u8>> = vec![sig.pubkey.clone().unwrap_or_default()];
    let mut cur = sig.nested.as_deref();
    let mut innermost = None;
    while let Some(n) = cur {
        if let Some(pk) = non_empty(&n.pubkey) {
            keys.push(pk.to_vec());
        }
        if n.sig_kind != SigKind::ROTATION {
            innermost = Some(n.clone());
            break;
        }
        cur = n.nested.as_deref();
    }
    if keys.len() <= MAX_ROTATION_CHAIN_KEYS {
        return sig;
    }
    // Rebuild from the original signature, keeping the newest 14 keys.
    let mut result = innermost;
    for pk in keys[..MAX_ROTATION_CHAIN_KEYS - 1].iter().rev() {
        let mut layer = NodeKeySignature {
            sig_kind: SigKind::ROTATION,
            pubkey: Some(pk.clone()),
            nested: result.map(Box::new),
            ..Default::default()
        };
        layer.signature = Some(key.sign(&layer.sig_hash()).to_vec());
        result = Some(layer);
    }
    result.unwrap_or(sig)
}

/// Why a node-key signature did not authorize a node key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NksError {
    /// The signature bytes did not decode.
    Decode(DecodeError),
    /// A credential cannot authorize a node on its own.
    CredentialAlone,
    /// A Direct or Credential signature has no key ID.
    NoKeyId,
    /// A rotation has no nested signature.
    MissingNested,
    /// The signature kind is not one this crate verifies.
    UnhandledSigKind(SigKind),
    /// The authorizing key is not trusted.
    KeyNotFound,
    /// The signature certifies another node key.
    WrongNodeKey,
    /// A rotation's nested signature names no wrapping key.
    MissingRotationKey,
    /// A rotation's wrapping key is not 32 bytes.
    RotationKeyLength(usize),
    /// The Ed25519 signature did not verify.
    InvalidSignature,
    /// The verification key is a small-order point: anyone could have made
    /// this signature (stricter than Go; see SPEC.md).
    SmallOrderKey,
    /// A Direct or Credential signature nests another.
    NestingNotAllowed(SigKind),
    /// The authorizing key is not an Ed25519 key.
    UnhandledKeyKind(KeyKind),
    /// The authorizing key is not 32 bytes.
    KeyLength(usize),
    /// A nested signature's node key is not `np` + 32 bytes.
    NestedPubkey(KeyParseError),
    /// A nested signature failed.
    Nested(Box<NksError>),
}

impl NksError {
    fn from_verify(e: VerifyError) -> Self {
        match e {
            VerifyError::SmallOrderKey => NksError::SmallOrderKey,
            _ => NksError::InvalidSignature,
        }
    }
}

impl fmt::Display for NksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NksError::Decode(e) => write!(f, "unserialize: {e}"),
            NksError::CredentialAlone => {
                f.write_str("credential signatures cannot authorize nodes on their own")
            }
            NksError::NoKeyId => f.write_str("invalid signature: no keyID present"),
            NksError::MissingNested => {
                f.write_str("invalid signature: rotation signature missing nested signature")
            }
            NksError::UnhandledSigKind(k) => write!(f, "unhandled signature type: {k}"),
            NksError::KeyNotFound => f.write_str("key: key not found"),
            NksError::WrongNodeKey => f.write_str("signature does not authorize nodeKey"),
            NksError::MissingRotationKey => f.write_str("missing rotation key"),
            NksError::RotationKeyLength(n) => write!(f, "bad rotation key length: {n}"),
            NksError::InvalidSignature => f.write_str("invalid signature"),
            NksError::SmallOrderKey => f.write_str("small-order verification key"),
            NksError::NestingNotAllowed(k) => write!(
                f,
                "invalid signature: signatures of type {k} cannot nest another signature"
            ),
            NksError::UnhandledKeyKind(k) => write!(f, "unhandled key type: {k}"),
            NksError::KeyLength(n) => write!(f, "ed25519 key has wrong length: {n}"),
            NksError::NestedPubkey(e) => write!(f, "nested pubkey: {e}"),
            NksError::Nested(e) => write!(f, "nested: {e}"),
        }
    }
}

impl std::error::Error for NksError {}

/// A decoded wrapped auth key (`<authkey>--TL<sig>-<priv>`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WrappedAuthKey {
    /// The plain auth key before `--TL`.
    pub auth_key: String,
    /// The credential signature.
    pub sig: NodeKeySignature,
    /// The private key bytes (Go does not check their length).
    pub private: Vec<u8>,
}

/// Go's `DecodeWrappedAuthkey`: returns `None` when `s` is not a wrapped key
/// or any part fails to decode (Go then treats it as a plain auth key).
pub fn decode_wrapped_authkey(s: &str) -> Option<WrappedAuthKey> {
    let (auth, suffix) = s.split_once("--TL")?;
    let (sig_b64, priv_b64) = suffix.split_once('-')?;
    let raw_sig = decode_raw_std_base64(sig_b64)?;
    let private = decode_raw_std_base64(priv_b64)?;
    let sig = NodeKeySignature::from_cbor(&raw_sig).ok()?;
    Some(WrappedAuthKey {
        auth_key: auth.to_owned(),
        sig,
        private,
    })
}

/// Unpadded standard base64, as Go's `RawStdEncoding` decodes it (line
/// breaks ignored, unused trailing bits not checked).
fn decode_raw_std_base64(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let mut spec = data_encoding::BASE64_NOPAD.specification();
    spec.check_trailing_bits = false;
    spec.encoding().ok()?.decode(cleaned.as_bytes()).ok()
}

/// Builds a wrapped auth key: `<authkey>--TL<credential>-<64-byte private>`,
/// both parts unpadded standard base64.
pub fn wrap_authkey(auth_key: &str, credential: &NodeKeySignature, private64: &[u8]) -> String {
    let b64 = data_encoding::BASE64_NOPAD;
    format!(
        "{auth_key}--TL{}-{}",
        b64.encode(&credential.to_cbor()),
        b64.encode(private64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::NlPrivate;

    /// A batch that verifies builds the tables of the keys that signed in
    /// it (and only theirs); one with no valid signature builds none.
    #[test]
    fn a_verified_batch_builds_its_signers_tables() {
        let a = NlPrivate::from_seed(&[21; 32]);
        let b = NlPrivate::from_seed(&[22; 32]);
        let signed = |k: &NlPrivate, i: u8| {
            let nk = NodeKey([i; 32]);
            (
                nk,
                NodeKeySignature::sign_direct(k, &nk, None)
                    .unwrap()
                    .to_cbor(),
            )
        };
        let has_table = |t: &TrustedKeys| -> Vec<bool> {
            t.prepared
                .iter()
                .map(|p| p.as_ref().is_some_and(ed25519::PreparedKey::has_table))
                .collect()
        };
        let sigs: Vec<(NodeKey, Vec<u8>)> = (1..4).map(|i| signed(&a, i)).collect();
        let refs: Vec<(NodeKey, &[u8])> = sigs.iter().map(|(n, s)| (*n, &s[..])).collect();

        let trusted = TrustedKeys::new(&[a.to_key(1), b.to_key(1)]);
        assert_eq!(has_table(&trusted), [false, false]);
        let bad: Vec<(NodeKey, &[u8])> =
            refs.iter().map(|(_, s)| (NodeKey([99; 32]), *s)).collect();
        assert!(trusted
            .node_keys_authorized(&bad)
            .iter()
            .all(Result::is_err));
        assert_eq!(has_table(&trusted), [false, false]);
        assert!(trusted
            .node_keys_authorized(&refs)
            .iter()
            .all(Result::is_ok));
        assert_eq!(has_table(&trusted), [true, false]);
    }
}
