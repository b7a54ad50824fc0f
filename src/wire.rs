//! Control-plane wire messages: the JSON bodies a node and the control plane
//! exchange for Tailnet Lock, written and read the way Go's `encoding/json`
//! writes and reads Go's `tailcfg` types.
//!
//! # Transport
//!
//! Every RPC is an HTTP `GET` **with a JSON request body** ([`METHOD`]) sent
//! over the Noise channel to one of the [`Path`]s, e.g.
//! `/machine/tka/bootstrap`; Go's client uses the host `unused` and a
//! one-minute timeout, and treats any status other than 200 as an error whose
//! text is the body. This module does no I/O: [`Rpc::body`] produces the
//! request body and [`parse_response`] (or [`FromWire::from_json`]) checks and
//! parses the response body.
//!
//! # Encoding rules (what Go writes)
//!
//! * Field names are Go's, verbatim, in Go's struct order (not sorted).
//! * Byte fields are standard base64 with padding. Go writes a nil byte slice
//!   as `null` and an empty one as `""`; where a field is not `omitempty` this
//!   module models the difference as `Option<Vec<u8>>` (`None` is `null`).
//!   `omitempty` byte fields are plain `Vec<u8>`, left out when empty.
//! * Lists are `Option<Vec<_>>`: `None` is Go's nil slice (`null`),
//!   `Some(vec![])` is `[]`.
//! * Node keys are `nodekey:<64 hex digits>`; AUM hashes are their 52-char
//!   base32 text. [`BootstrapRequest::head`] and [`MapRequestTka::tka_head`]
//!   are `""` when there is no head.
//! * Maps keyed by node ID have decimal-string keys, written in byte order of
//!   the key strings (so `"12345"` comes before `"7"`), as Go sorts them.
//! * [`FromWire::from_json`]/[`ToWire::to_json`] use the form Go's
//!   `json.Marshal` writes (no trailing newline); [`Rpc::body`] adds the
//!   newline Go's client (`json.Encoder`) appends.
//!
//! # Parsing rules (what Go accepts)
//!
//! * Unknown fields are ignored; field names match case-insensitively with
//!   Go's folding (ASCII case, plus `ſ` for `s` and the Kelvin sign for `k`).
//! * A missing field, or `null` for a number, bool, string or key field, leaves
//!   the zero value (Go's "null is a no-op" rule); `null` for a byte field,
//!   list or map gives Go's nil. A top-level `null` parses as the zero message.
//! * When a field appears twice, the later value wins; a repeated map or
//!   nested object is merged into the earlier one, as Go does. (A repeated
//!   list of objects is replaced, where Go would decode into the earlier
//!   elements; nobody sends that.)
//! * Base64 must be standard and padded; `\r` and `\n` anywhere are skipped
//!   and non-zero trailing bits are accepted, as Go's decoder does. Anything
//!   else (URL-safe alphabet, missing padding, data after padding) is refused.
//! * A byte value inside a list or map that is `null` becomes an empty vector
//!   (Go would hold a nil slice there; both are "no bytes").
//! * Hash fields that Go's client requires to parse (every `Head` except the
//!   bootstrap request's and `TKAInfo`'s) are checked at parse time: missing,
//!   `""` or malformed gives [`WireError::BadHash`], the same outcome (an
//!   error) Go's client reaches one step later.
//! * [`TkaInfo::head`] stays a string: Go keeps a netmap whose TKA head does
//!   not parse and only treats Tailnet Lock as not enabled (see
//!   [`TkaInfo::enabled`]), so a bad head must not make a whole map response
//!   unreadable.
//! * Bodies longer than the cap are refused **before** parsing with
//!   [`WireError::TooLarge`]. Go instead stops reading at the cap and
//!   decodes the first JSON value, ignoring whatever follows it. So the
//!   bodies treated differently are exactly those where a complete JSON value
//!   is followed by more data (anything but whitespace, or enough whitespace
//!   to pass the cap): Go accepts them, this module refuses them.
//! * Parsing never panics; nesting depth is bounded by `serde_json`'s
//!   recursion limit (128).
//!
//! # Big control-plane structs
//!
//! `tailcfg.MapResponse`, `tailcfg.MapRequest` and `tailcfg.Node` are large
//! structs this crate does not own. [`MapResponseTka`], [`MapRequestTka`] and
//! [`NodeTka`] parse only their Tailnet Lock fields and ignore everything
//! else; they are parse-only, since writing a partial `Node` or `MapRequest`
//! would not be what Go writes. [`TkaInfo`] on its own does serialize exactly
//! as Go writes the `TKAInfo` object inside a map response.

use crate::hash::{AumHash, HashParseError};
use crate::key::{KeyParseError, NodeKey};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

// ---------------------------------------------------------------------------
// Endpoints and caps
// ---------------------------------------------------------------------------

/// The HTTP method of every Tailnet Lock RPC: `GET`, with a JSON request body.
pub const METHOD: &str = "GET";

/// Response size cap Go's client applies to most Tailnet Lock RPCs: 1 MiB.
pub const SMALL_RESPONSE_CAP: usize = 1 << 20;

/// Response size cap Go's client applies to `init/begin`, `sync/offer` and
/// `sync/send`, whose responses carry many signatures or AUMs: 10 MiB.
pub const LARGE_RESPONSE_CAP: usize = 10 << 20;

/// Size cap this module applies when parsing a request body (the control
/// plane's side). Go's control plane is not public, so this is this crate's
/// choice: the largest response cap, since a `sync/send` request carries as
/// many AUMs as a `sync/offer` response.
pub const REQUEST_CAP: usize = LARGE_RESPONSE_CAP;

/// A Tailnet Lock RPC endpoint on the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Path {
    /// `/machine/tka/init/begin`: submit a genesis AUM ([`InitBeginRequest`]).
    InitBegin,
    /// `/machine/tka/init/finish`: submit the initial node-key signatures
    /// ([`InitFinishRequest`]).
    InitFinish,
    /// `/machine/tka/bootstrap`: fetch the genesis AUM or the disablement
    /// secret ([`BootstrapRequest`]).
    Bootstrap,
    /// `/machine/tka/sync/offer`: first half of AUM sync ([`SyncOfferRequest`]).
    SyncOffer,
    /// `/machine/tka/sync/send`: second half of AUM sync ([`SyncSendRequest`]).
    SyncSend,
    /// `/machine/tka/disable`: disable Tailnet Lock ([`DisableRequest`]).
    Disable,
    /// `/machine/tka/sign`: submit a node-key signature
    /// ([`SubmitSignatureRequest`]).
    Sign,
    /// `/machine/tka/affected-sigs`: list signatures made by a key
    /// ([`SignaturesUsingKeyRequest`]).
    AffectedSigs,
}

impl Path {
    /// Every endpoint.
    pub const ALL: [Path; 8] = [
        Path::InitBegin,
        Path::InitFinish,
        Path::Bootstrap,
        Path::SyncOffer,
        Path::SyncSend,
        Path::Disable,
        Path::Sign,
        Path::AffectedSigs,
    ];

    /// The URL path, e.g. `/machine/tka/bootstrap`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Path::InitBegin => "/machine/tka/init/begin",
            Path::InitFinish => "/machine/tka/init/finish",
            Path::Bootstrap => "/machine/tka/bootstrap",
            Path::SyncOffer => "/machine/tka/sync/offer",
            Path::SyncSend => "/machine/tka/sync/send",
            Path::Disable => "/machine/tka/disable",
            Path::Sign => "/machine/tka/sign",
            Path::AffectedSigs => "/machine/tka/affected-sigs",
        }
    }

    /// The endpoint whose URL path is `path`, if any.
    pub fn from_path(path: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.as_str() == path)
    }

    /// The largest response body Go's client reads from this endpoint:
    /// [`LARGE_RESPONSE_CAP`] for `init/begin`, `sync/offer` and `sync/send`,
    /// [`SMALL_RESPONSE_CAP`] otherwise.
    pub const fn response_cap(self) -> usize {
        match self {
            Path::InitBegin | Path::SyncOffer | Path::SyncSend => LARGE_RESPONSE_CAP,
            Path::InitFinish
            | Path::Bootstrap
            | Path::Disable
            | Path::Sign
            | Path::AffectedSigs => SMALL_RESPONSE_CAP,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a wire message could not be parsed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WireError {
    /// The body is longer than the cap; it was not parsed.
    TooLarge {
        /// Length of the body in bytes.
        len: usize,
        /// The cap it exceeded.
        cap: usize,
    },
    /// The body is not JSON of the expected shape (syntax error, wrong JSON
    /// type for a field, number out of range, trailing data...).
    Json(serde_json::Error),
    /// An AUM hash field is missing, empty or not valid base32 hash text.
    BadHash {
        /// Go's name of the field.
        field: &'static str,
        /// What was wrong with the text.
        error: HashParseError,
    },
    /// A node key field is not `nodekey:` followed by 64 hex digits.
    BadKey {
        /// Go's name of the field.
        field: &'static str,
        /// What was wrong with the text.
        error: KeyParseError,
    },
    /// A byte field is not standard padded base64.
    BadBase64 {
        /// Go's name of the field.
        field: &'static str,
    },
    /// A map key that should be a decimal node ID is not one.
    BadNodeId {
        /// Go's name of the map field.
        field: &'static str,
        /// The offending key.
        key: String,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TooLarge { len, cap } => {
                write!(f, "message of {len} bytes exceeds the {cap}-byte cap")
            }
            WireError::Json(e) => write!(f, "decoding JSON: {e}"),
            WireError::BadHash { field, error } => write!(f, "field {field}: {error}"),
            WireError::BadKey { field, error } => write!(f, "field {field}: {error}"),
            WireError::BadBase64 { field } => {
                write!(f, "field {field}: not standard padded base64")
            }
            WireError::BadNodeId { field, key } => {
                write!(f, "field {field}: map key {key:?} is not a decimal node ID")
            }
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::Json(e) => Some(e),
            WireError::BadHash { error, .. } => Some(error),
            WireError::BadKey { error, .. } => Some(error),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------

/// A message that can be parsed from a JSON body.
pub trait FromWire: Sized {
    /// The largest body [`FromWire::from_json`] accepts: for a response, Go's
    /// cap for its endpoint; for a request, [`REQUEST_CAP`]; for the
    /// map-response, map-request and node types, no cap (`usize::MAX`), since
    /// framing those is the map poll's business.
    const MAX_LEN: usize;

    /// Parses `bytes`, refusing bodies longer than [`FromWire::MAX_LEN`]
    /// before looking at them.
    fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        Self::from_json_capped(bytes, Self::MAX_LEN)
    }

    /// Parses `bytes`, refusing bodies longer than `cap` before looking at
    /// them.
    fn from_json_capped(bytes: &[u8], cap: usize) -> Result<Self, WireError>;
}

/// A message that can be written as a JSON body, exactly as Go's
/// `json.Marshal` writes the corresponding `tailcfg` type.
pub trait ToWire: Serialize {
    /// The JSON text, compact, without a trailing newline.
    fn to_json(&self) -> Vec<u8> {
        // Writing to a Vec cannot fail and every map key is a string.
        serde_json::to_vec(self).expect("wire messages always serialize")
    }
}

/// A request: which endpoint it goes to and what it gets back.
pub trait Rpc: ToWire {
    /// The endpoint.
    const PATH: Path;
    /// The response type.
    type Response: FromWire;

    /// The request body as Go's client sends it (`json.Encoder` output: the
    /// JSON text followed by a newline).
    fn body(&self) -> Vec<u8> {
        let mut out = self.to_json();
        out.push(b'\n');
        out
    }
}

/// Parses the response body of request type `R`, refusing it before parsing
/// if it is longer than Go's cap for `R`'s endpoint.
///
/// ```
/// use tka::wire::{parse_response, BootstrapRequest, WireError};
/// let resp = parse_response::<BootstrapRequest>(br#"{"DisablementSecret":"AQID"}"#).unwrap();
/// assert_eq!(resp.disablement_secret, vec![1, 2, 3]);
/// let huge = vec![b' '; (1 << 20) + 1];
/// assert!(matches!(
///     parse_response::<BootstrapRequest>(&huge),
///     Err(WireError::TooLarge { .. })
/// ));
/// ```
pub fn parse_response<R: Rpc>(bytes: &[u8]) -> Result<R::Response, WireError> {
    R::Response::from_json_capped(bytes, R::PATH.response_cap())
}

// ---------------------------------------------------------------------------
// Message types
// ---------------------------------------------------------------------------

/// A node ID (Go's `tailcfg.NodeID`, an `int64`).
pub type NodeId = i64;

/// `tailcfg.TKAInitBeginRequest`: submits a genesis AUM to start
/// initialising Tailnet Lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitBeginRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `GenesisAUM`: the serialized genesis AUM (`None` is written `null`).
    pub genesis_aum: Option<Vec<u8>>,
}

/// `tailcfg.TKASignInfo`: a node that needs an initial node-key signature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInfo {
    /// `NodeID`: the node's ID.
    pub node_id: NodeId,
    /// `NodePublic`: the node key to sign.
    pub node_public: NodeKey,
    /// `RotationPubkey`: raw ed25519 key that may later sign rotations of
    /// this node key (`None` is written `null`).
    pub rotation_pubkey: Option<Vec<u8>>,
}

/// `tailcfg.TKAInitBeginResponse`: the nodes to sign before finishing
/// initialisation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitBeginResponse {
    /// `NeedSignatures`.
    pub need_signatures: Option<Vec<SignInfo>>,
}

/// `tailcfg.TKAInitFinishRequest`: the initial node-key signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitFinishRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Signatures`: serialized node-key signature per node ID (`None` is
    /// written `null`).
    pub signatures: Option<BTreeMap<NodeId, Vec<u8>>>,
    /// `SupportDisablement` (omitted when empty): a disablement secret for
    /// Tailscale support.
    pub support_disablement: Vec<u8>,
}

/// `tailcfg.TKAInitFinishResponse`: an empty object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitFinishResponse {}

/// `tailcfg.TKAInfo`: the control plane's view of Tailnet Lock, sent in map
/// responses.
///
/// `head` is kept as the string Go keeps, because Go does not reject a map
/// response whose head does not parse; use [`TkaInfo::head_hash`] and
/// [`TkaInfo::enabled`] to interpret it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TkaInfo {
    /// `Head` (omitted when empty): base32 text of control's head AUM hash.
    pub head: String,
    /// `Disabled` (omitted when false): control believes Tailnet Lock should
    /// be disabled.
    pub disabled: bool,
}

impl TkaInfo {
    /// A `TKAInfo` with the given head (`None` for no head).
    pub fn new(head: Option<AumHash>, disabled: bool) -> Self {
        TkaInfo {
            head: head.map(|h| h.to_string()).unwrap_or_default(),
            disabled,
        }
    }

    /// The head as a hash: `Ok(None)` when `head` is empty.
    pub fn head_hash(&self) -> Result<Option<AumHash>, WireError> {
        parse_opt_hash(&self.head, "Head")
    }

    /// Whether this says Tailnet Lock is enabled, as Go's netmap computes it:
    /// not disabled, and the head empty or parseable. (Go also logs an
    /// unparseable head; an empty head means a zero head hash.)
    pub fn enabled(&self) -> bool {
        !self.disabled && self.head_hash().is_ok()
    }
}

/// `tailcfg.TKABootstrapRequest`: asks for what is needed to enable or
/// disable Tailnet Lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootstrapRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Head`: the node's head if it has an authority; `None` is written
    /// `""` (Go's client sends `""` rather than a zero hash).
    pub head: Option<AumHash>,
}

/// `tailcfg.TKABootstrapResponse`: the genesis AUM (to enable) or the
/// disablement secret (to disable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootstrapResponse {
    /// `GenesisAUM` (omitted when empty).
    pub genesis_aum: Vec<u8>,
    /// `DisablementSecret` (omitted when empty).
    pub disablement_secret: Vec<u8>,
}

/// `tailcfg.TKASyncOfferRequest`: the node's sync offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOfferRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Head`: the node's head.
    pub head: AumHash,
    /// `Ancestors`: selected ancestors of the head.
    pub ancestors: Option<Vec<AumHash>>,
}

/// `tailcfg.TKASyncOfferResponse`: control's sync offer and the AUMs it
/// believes the node lacks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOfferResponse {
    /// `Head`: control's head.
    pub head: AumHash,
    /// `Ancestors`: selected ancestors of control's head.
    pub ancestors: Option<Vec<AumHash>>,
    /// `MissingAUMs`: serialized AUMs for the node.
    pub missing_aums: Option<Vec<Vec<u8>>>,
}

/// `tailcfg.TKASyncSendRequest`: the AUMs the node believes control lacks,
/// and the node's head after applying control's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSendRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Head`: the node's head after applying control's AUMs.
    pub head: AumHash,
    /// `MissingAUMs`: serialized AUMs for control.
    pub missing_aums: Option<Vec<Vec<u8>>>,
    /// `Interactive`: sent on behalf of an interactive operation.
    pub interactive: bool,
}

/// `tailcfg.TKASyncSendResponse`: control's head after applying the node's
/// AUMs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSendResponse {
    /// `Head`.
    pub head: AumHash,
}

/// `tailcfg.TKADisableRequest`: disables Tailnet Lock with a disablement
/// secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisableRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Head`: the node's head.
    pub head: AumHash,
    /// `DisablementSecret` (`None` is written `null`).
    pub disablement_secret: Option<Vec<u8>>,
}

/// `tailcfg.TKADisableResponse`: an empty object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisableResponse {}

/// `tailcfg.TKASubmitSignatureRequest`: submits a node-key signature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitSignatureRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `Signature`: the serialized node-key signature (`None` is written
    /// `null`).
    pub signature: Option<Vec<u8>>,
}

/// `tailcfg.TKASubmitSignatureResponse`: an empty object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitSignatureResponse {}

/// `tailcfg.TKASignaturesUsingKeyRequest`: asks for every signature made by
/// a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignaturesUsingKeyRequest {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `KeyID`: the key's ID (`None` is written `null`).
    pub key_id: Option<Vec<u8>>,
}

/// `tailcfg.TKASignaturesUsingKeyResponse`: the signatures made by the key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignaturesUsingKeyResponse {
    /// `Signatures`: serialized node-key signatures.
    pub signatures: Option<Vec<Vec<u8>>>,
}

/// The Tailnet Lock part of `tailcfg.MapResponse` (parse-only; every other
/// field is ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapResponseTka {
    /// `TKAInfo`. In a map-response stream, `None` in the first response
    /// means Tailnet Lock is off and in later ones means "unchanged"; `Some`
    /// replaces what was remembered.
    pub tka_info: Option<TkaInfo>,
}

/// The Tailnet Lock part of `tailcfg.MapRequest` (parse-only; every other
/// field is ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapRequestTka {
    /// `Version`: the client's capability version.
    pub version: i64,
    /// `NodeKey`: the client's current node key.
    pub node_key: NodeKey,
    /// `TKAHead`: the client's head, `None` when absent or `""` (Tailnet Lock
    /// off on the client).
    pub tka_head: Option<AumHash>,
}

/// The Tailnet Lock part of `tailcfg.Node` (parse-only; every other field is
/// ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTka {
    /// `ID`.
    pub id: NodeId,
    /// `Key`: the node key.
    pub key: NodeKey,
    /// `KeySignature`: the serialized node-key signature (empty when absent).
    pub key_signature: Vec<u8>,
    /// `UnsignedPeerAPIOnly`: exempt from Tailnet Lock checks but limited to
    /// peerapi.
    pub unsigned_peer_api_only: bool,
}

// ---------------------------------------------------------------------------
// Base64 as Go's encoding/json reads and writes []byte
// ---------------------------------------------------------------------------

/// Standard alphabet, padded, non-zero trailing bits allowed (Go's
/// `base64.StdEncoding` is not `Strict`).
static B64_DECODE: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
    let mut spec = data_encoding::BASE64.specification();
    spec.check_trailing_bits = false;
    spec.encoding().expect("valid base64 specification")
});

/// Decodes Go's base64 for `[]byte`: `\r` and `\n` are skipped anywhere;
/// the rest must be whole padded 4-character groups with padding only at
/// the very end.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    if let Some(first_pad) = clean.iter().position(|&b| b == b'=') {
        // At most two padding characters, and nothing after them.
        if first_pad + 2 < clean.len() || clean[first_pad..].iter().any(|&b| b != b'=') {
            return None;
        }
    }
    B64_DECODE.decode(&clean).ok()
}

fn encode_b64(b: &[u8]) -> String {
    data_encoding::BASE64.encode(b)
}

fn parse_opt_hash(s: &str, field: &'static str) -> Result<Option<AumHash>, WireError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|error| WireError::BadHash { field, error })
}

fn parse_hash(s: &str, field: &'static str) -> Result<AumHash, WireError> {
    s.parse()
        .map_err(|error| WireError::BadHash { field, error })
}

// ---------------------------------------------------------------------------
// Decoding machinery: Go's encoding/json object semantics
// ---------------------------------------------------------------------------

/// Where the first semantic error (bad hash, key, base64, node ID) is kept
/// while serde unwinds with a generic error.
type ErrSlot = Option<WireError>;

fn fail<E: de::Error>(slot: &mut ErrSlot, e: WireError) -> E {
    let msg = e.to_string();
    *slot = Some(e);
    E::custom(msg)
}

/// A Go struct as `encoding/json` decodes it.
trait GoStruct: Default {
    /// Go's field names, in order; indexes are what [`GoStruct::set`] gets.
    const FIELDS: &'static [&'static str];
    /// Bitmask of hash fields that must end up holding a non-null value.
    const REQUIRED: u64 = 0;

    /// Decodes the value of field `i` from `map` into `self`. Returns
    /// whether a non-null value was stored.
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error>;
}

/// Whether JSON key `key` selects Go field `name`: Go folds both with
/// simple Unicode case folding, which for an ASCII name means ASCII case
/// plus U+017F (long s) for `s` and U+212A (Kelvin sign) for `k`.
fn go_name_eq(key: &str, name: &str) -> bool {
    let mut want = name.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{017F}' => b'S',
            '\u{212A}' => b'K',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        match want.next() {
            Some(b) if b.to_ascii_uppercase() == folded => {}
            _ => return false,
        }
    }
    want.next().is_none()
}

/// Seed matching an object key against a field list.
struct FieldName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| go_name_eq(v, name)))
    }
}

/// Seed decoding a JSON object into an existing struct (Go decodes into the
/// value in place, so a repeated object merges). `null` leaves it alone.
/// Yields the bitmask of fields given non-null values.
struct Merge<'a, T> {
    target: &'a mut T,
    err: &'a mut ErrSlot,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for Merge<'_, T> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for Merge<'_, T> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut seen = 0u64;
        while let Some(field) = map.next_key_seed(FieldName(T::FIELDS))? {
            match field {
                Some(i) => {
                    if self.target.set(i, &mut map, self.err)? {
                        seen |= 1 << i;
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(seen)
    }
}

/// Decodes a whole struct from `d`, then checks its required hash fields.
fn decode_struct<'de, T: GoStruct, D: Deserializer<'de>>(
    d: D,
    err: &mut ErrSlot,
) -> Result<T, D::Error> {
    let mut out = T::default();
    let seen = Merge {
        target: &mut out,
        err: &mut *err,
    }
    .deserialize(d)?;
    let missing = T::REQUIRED & !seen;
    if missing != 0 {
        let field = T::FIELDS[missing.trailing_zeros() as usize];
        // Go's string stays "", which its client then fails to parse.
        let error = HashParseError::Encoding;
        return Err(fail(err, WireError::BadHash { field, error }));
    }
    Ok(out)
}

fn from_json_impl<T: GoStruct>(bytes: &[u8], cap: usize) -> Result<T, WireError> {
    if bytes.len() > cap {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            cap,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut slot = None;
    let result = decode_struct::<T, _>(&mut de, &mut slot).and_then(|v| de.end().map(|()| v));
    match (result, slot) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(WireError::Json(e)),
        (Ok(v), None) => Ok(v),
    }
}

// Field setters. Each reads one value; `null` behaves as in Go.

fn set_int<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut i64) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<i64>>()? {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
}

fn set_bool<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut bool) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<bool>>()? {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
}

fn set_string<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut String) -> Result<bool, A::Error> {
    Ok(match map.next_value::<Option<String>>()? {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    })
}

fn set_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut NodeKey,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = s
        .parse()
        .map_err(|error| fail(err, WireError::BadKey { field, error }))?;
    Ok(true)
}

/// A hash Go's client requires (no `""`).
fn set_hash<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut AumHash,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = parse_hash(&s, field).map_err(|e| fail(err, e))?;
    Ok(true)
}

/// A hash where `""` means none.
fn set_opt_hash<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<AumHash>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(s) = map.next_value::<Option<String>>()? else {
        return Ok(false);
    };
    *slot = parse_opt_hash(&s, field).map_err(|e| fail(err, e))?;
    Ok(true)
}

fn set_hash_list<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<AumHash>>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(items) = map.next_value::<Option<Vec<Option<String>>>>()? else {
        *slot = None;
        return Ok(false);
    };
    let mut out = Vec::with_capacity(items.len());
    for s in items {
        // A null element is Go's empty string, which is not a hash.
        out.push(parse_hash(s.as_deref().unwrap_or(""), field).map_err(|e| fail(err, e))?);
    }
    *slot = Some(out);
    Ok(true)
}

fn b64_or_fail<E: de::Error>(
    s: &str,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<Vec<u8>, E> {
    decode_b64(s).ok_or_else(|| fail(err, WireError::BadBase64 { field }))
}

/// A non-`omitempty` byte field: `null` is nil.
fn set_opt_bytes<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<u8>>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    *slot = match map.next_value::<Option<String>>()? {
        None => None,
        Some(s) => Some(b64_or_fail(&s, field, err)?),
    };
    Ok(slot.is_some())
}

/// An `omitempty` byte field: nil and empty are both empty.
fn set_bytes<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<u8>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    *slot = match map.next_value::<Option<String>>()? {
        None => Vec::new(),
        Some(s) => b64_or_fail(&s, field, err)?,
    };
    Ok(true)
}

fn set_bytes_list<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Vec<Vec<u8>>>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(items) = map.next_value::<Option<Vec<Option<String>>>>()? else {
        *slot = None;
        return Ok(false);
    };
    let mut out = Vec::with_capacity(items.len());
    for s in items {
        out.push(match s {
            None => Vec::new(),
            Some(s) => b64_or_fail(&s, field, err)?,
        });
    }
    *slot = Some(out);
    Ok(true)
}

/// A JSON object's entries in document order (string values or null).
struct Entries(Vec<(String, Option<String>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Option<String>>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A `map[NodeID][]byte`: `null` is nil; an object adds to any existing map
/// (Go does not clear a map it decodes into).
fn set_sig_map<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<BTreeMap<NodeId, Vec<u8>>>,
    field: &'static str,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    let Some(Entries(entries)) = map.next_value::<Option<Entries>>()? else {
        *slot = None;
        return Ok(false);
    };
    let out = slot.get_or_insert_with(BTreeMap::new);
    for (k, v) in entries {
        let id: NodeId = match k.parse() {
            Ok(id) => id,
            Err(_) => return Err(fail(err, WireError::BadNodeId { field, key: k })),
        };
        let bytes = match v {
            None => Vec::new(),
            Some(s) => b64_or_fail(&s, field, err)?,
        };
        out.insert(id, bytes);
    }
    Ok(true)
}

/// Seed for a list of structs: `null` is nil, an element `null` is a zero
/// struct.
struct StructList<'a, T> {
    err: &'a mut ErrSlot,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for StructList<'_, T> {
    type Value = Option<Vec<T>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for StructList<'_, T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        loop {
            let mut item = T::default();
            let seed = Merge {
                target: &mut item,
                err: &mut *self.err,
            };
            match seq.next_element_seed(seed)? {
                Some(_) => out.push(item),
                None => return Ok(Some(out)),
            }
        }
    }
}

fn set_struct_list<'de, A: MapAccess<'de>, T: GoStruct>(
    map: &mut A,
    slot: &mut Option<Vec<T>>,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    *slot = map.next_value_seed(StructList {
        err,
        _t: std::marker::PhantomData,
    })?;
    Ok(slot.is_some())
}

/// Seed for a pointer to a struct: `null` is nil, an object is decoded into
/// the existing value if there is one.
struct StructPtr<'a, T> {
    target: &'a mut Option<T>,
    err: &'a mut ErrSlot,
}

impl<'de, T: GoStruct> DeserializeSeed<'de> for StructPtr<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: GoStruct> Visitor<'de> for StructPtr<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.target = None;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let target = self.target.get_or_insert_with(T::default);
        Merge {
            target,
            err: self.err,
        }
        .visit_map(map)
        .map(|_| ())
    }
}

fn set_struct_ptr<'de, A: MapAccess<'de>, T: GoStruct>(
    map: &mut A,
    slot: &mut Option<T>,
    err: &mut ErrSlot,
) -> Result<bool, A::Error> {
    map.next_value_seed(StructPtr { target: slot, err })?;
    Ok(slot.is_some())
}

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

/// Bytes as a base64 string.
struct B64<'a>(&'a [u8]);

impl Serialize for B64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_b64(self.0))
    }
}

/// Bytes or `null`.
fn opt_b64(b: &Option<Vec<u8>>) -> Option<B64<'_>> {
    b.as_deref().map(B64)
}

/// A value written with its `Display` text.
struct Text<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// A list whose elements are written through a wrapper.
struct Seq<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<T, W: Serialize> Serialize for Seq<'_, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

fn opt_b64_list(v: &Option<Vec<Vec<u8>>>) -> Option<Seq<'_, Vec<u8>, B64<'_>>> {
    v.as_deref().map(|v| Seq(v, |b| B64(b)))
}

fn opt_hash_list(v: &Option<Vec<AumHash>>) -> Option<Seq<'_, AumHash, Text<'_, AumHash>>> {
    v.as_deref().map(|v| Seq(v, Text))
}

/// A node-ID-keyed map, keys in byte order of their decimal text (Go sorts
/// map keys as strings).
struct SigMap<'a>(&'a BTreeMap<NodeId, Vec<u8>>);

impl Serialize for SigMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(String, &Vec<u8>)> =
            self.0.iter().map(|(k, v)| (k.to_string(), v)).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            m.serialize_entry(k, &B64(v))?;
        }
        m.end()
    }
}

/// `""` for no hash, else its text.
struct OptHashText<'a>(&'a Option<AumHash>);

impl Serialize for OptHashText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(h) => s.collect_str(h),
            None => s.serialize_str(""),
        }
    }
}

// ---------------------------------------------------------------------------
// Per-type glue
// ---------------------------------------------------------------------------

/// Implements `Deserialize` for a `GoStruct`, for embedding in other serde
/// types (errors then become `serde` errors carrying the message).
macro_rules! go_deserialize {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                decode_struct(d, &mut None)
            }
        }
    };
}

/// Implements `Deserialize` and `FromWire` for a `GoStruct`.
macro_rules! wire_decode {
    ($t:ty, $cap:expr) => {
        go_deserialize!($t);
        impl FromWire for $t {
            const MAX_LEN: usize = $cap;
            fn from_json_capped(bytes: &[u8], cap: usize) -> Result<Self, WireError> {
                from_json_impl(bytes, cap)
            }
        }
    };
}

/// Implements `ToWire` and `Rpc` for a request type.
macro_rules! wire_rpc {
    ($req:ty, $path:expr, $resp:ty) => {
        impl ToWire for $req {}
        impl ToWire for $resp {}
        impl Rpc for $req {
            const PATH: Path = $path;
            type Response = $resp;
        }
        wire_decode!($req, REQUEST_CAP);
        wire_decode!($resp, $path.response_cap());
    };
}

wire_rpc!(InitBeginRequest, Path::InitBegin, InitBeginResponse);
wire_rpc!(InitFinishRequest, Path::InitFinish, InitFinishResponse);
wire_rpc!(BootstrapRequest, Path::Bootstrap, BootstrapResponse);
wire_rpc!(SyncOfferRequest, Path::SyncOffer, SyncOfferResponse);
wire_rpc!(SyncSendRequest, Path::SyncSend, SyncSendResponse);
wire_rpc!(DisableRequest, Path::Disable, DisableResponse);
wire_rpc!(SubmitSignatureRequest, Path::Sign, SubmitSignatureResponse);
wire_rpc!(
    SignaturesUsingKeyRequest,
    Path::AffectedSigs,
    SignaturesUsingKeyResponse
);
impl ToWire for TkaInfo {}
go_deserialize!(SignInfo);
wire_decode!(TkaInfo, SMALL_RESPONSE_CAP);
wire_decode!(MapResponseTka, usize::MAX);
wire_decode!(MapRequestTka, usize::MAX);
wire_decode!(NodeTka, usize::MAX);

// Version and NodeKey open every request.
const VERSION: &str = "Version";
const NODE_KEY: &str = "NodeKey";

impl GoStruct for InitBeginRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "GenesisAUM"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            _ => set_opt_bytes(map, &mut self.genesis_aum, "GenesisAUM", err),
        }
    }
}

impl Serialize for InitBeginRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKAInitBeginRequest", 3)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("GenesisAUM", &opt_b64(&self.genesis_aum))?;
        st.end()
    }
}

impl GoStruct for SignInfo {
    const FIELDS: &'static [&'static str] = &["NodeID", "NodePublic", "RotationPubkey"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.node_id),
            1 => set_key(map, &mut self.node_public, "NodePublic", err),
            _ => set_opt_bytes(map, &mut self.rotation_pubkey, "RotationPubkey", err),
        }
    }
}

impl Serialize for SignInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASignInfo", 3)?;
        st.serialize_field("NodeID", &self.node_id)?;
        st.serialize_field("NodePublic", &Text(&self.node_public))?;
        st.serialize_field("RotationPubkey", &opt_b64(&self.rotation_pubkey))?;
        st.end()
    }
}

impl GoStruct for InitBeginResponse {
    const FIELDS: &'static [&'static str] = &["NeedSignatures"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        _: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        set_struct_list(map, &mut self.need_signatures, err)
    }
}

impl Serialize for InitBeginResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKAInitBeginResponse", 1)?;
        st.serialize_field("NeedSignatures", &self.need_signatures)?;
        st.end()
    }
}

impl GoStruct for InitFinishRequest {
    const FIELDS: &'static [&'static str] =
        &[VERSION, NODE_KEY, "Signatures", "SupportDisablement"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            2 => set_sig_map(map, &mut self.signatures, "Signatures", err),
            _ => set_bytes(
                map,
                &mut self.support_disablement,
                "SupportDisablement",
                err,
            ),
        }
    }
}

impl Serialize for InitFinishRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKAInitFinishRequest", 4)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Signatures", &self.signatures.as_ref().map(SigMap))?;
        if !self.support_disablement.is_empty() {
            st.serialize_field("SupportDisablement", &B64(&self.support_disablement))?;
        }
        st.end()
    }
}

/// Empty Go structs: any object (fields ignored) or `null`; written `{}`.
macro_rules! empty_struct {
    ($t:ty, $go:literal) => {
        impl GoStruct for $t {
            const FIELDS: &'static [&'static str] = &[];
            fn set<'de, A: MapAccess<'de>>(
                &mut self,
                _: usize,
                map: &mut A,
                _: &mut ErrSlot,
            ) -> Result<bool, A::Error> {
                map.next_value::<IgnoredAny>()?;
                Ok(false)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_struct($go, 0)?.end()
            }
        }
    };
}

empty_struct!(InitFinishResponse, "TKAInitFinishResponse");
empty_struct!(DisableResponse, "TKADisableResponse");
empty_struct!(SubmitSignatureResponse, "TKASubmitSignatureResponse");

impl GoStruct for TkaInfo {
    const FIELDS: &'static [&'static str] = &["Head", "Disabled"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        _: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_string(map, &mut self.head),
            _ => set_bool(map, &mut self.disabled),
        }
    }
}

impl Serialize for TkaInfo {
    /// Written with `serde_json`'s string escaping, which equals Go's for any
    /// hash text; Go would additionally escape `<`, `>`, `&`, U+2028 and
    /// U+2029, which can only appear in a head that is not a hash.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKAInfo", 2)?;
        if !self.head.is_empty() {
            st.serialize_field("Head", &self.head)?;
        }
        if self.disabled {
            st.serialize_field("Disabled", &true)?;
        }
        st.end()
    }
}

impl GoStruct for BootstrapRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "Head"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            _ => set_opt_hash(map, &mut self.head, "Head", err),
        }
    }
}

impl Serialize for BootstrapRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKABootstrapRequest", 3)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Head", &OptHashText(&self.head))?;
        st.end()
    }
}

impl GoStruct for BootstrapResponse {
    const FIELDS: &'static [&'static str] = &["GenesisAUM", "DisablementSecret"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_bytes(map, &mut self.genesis_aum, "GenesisAUM", err),
            _ => set_bytes(map, &mut self.disablement_secret, "DisablementSecret", err),
        }
    }
}

impl Serialize for BootstrapResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKABootstrapResponse", 2)?;
        if !self.genesis_aum.is_empty() {
            st.serialize_field("GenesisAUM", &B64(&self.genesis_aum))?;
        }
        if !self.disablement_secret.is_empty() {
            st.serialize_field("DisablementSecret", &B64(&self.disablement_secret))?;
        }
        st.end()
    }
}

impl GoStruct for SyncOfferRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "Head", "Ancestors"];
    const REQUIRED: u64 = 1 << 2;
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            2 => set_hash(map, &mut self.head, "Head", err),
            _ => set_hash_list(map, &mut self.ancestors, "Ancestors", err),
        }
    }
}

impl Serialize for SyncOfferRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASyncOfferRequest", 4)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Head", &Text(&self.head))?;
        st.serialize_field("Ancestors", &opt_hash_list(&self.ancestors))?;
        st.end()
    }
}

impl GoStruct for SyncOfferResponse {
    const FIELDS: &'static [&'static str] = &["Head", "Ancestors", "MissingAUMs"];
    const REQUIRED: u64 = 1;
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_hash(map, &mut self.head, "Head", err),
            1 => set_hash_list(map, &mut self.ancestors, "Ancestors", err),
            _ => set_bytes_list(map, &mut self.missing_aums, "MissingAUMs", err),
        }
    }
}

impl Serialize for SyncOfferResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASyncOfferResponse", 3)?;
        st.serialize_field("Head", &Text(&self.head))?;
        st.serialize_field("Ancestors", &opt_hash_list(&self.ancestors))?;
        st.serialize_field("MissingAUMs", &opt_b64_list(&self.missing_aums))?;
        st.end()
    }
}

impl GoStruct for SyncSendRequest {
    const FIELDS: &'static [&'static str] =
        &[VERSION, NODE_KEY, "Head", "MissingAUMs", "Interactive"];
    const REQUIRED: u64 = 1 << 2;
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            2 => set_hash(map, &mut self.head, "Head", err),
            3 => set_bytes_list(map, &mut self.missing_aums, "MissingAUMs", err),
            _ => set_bool(map, &mut self.interactive),
        }
    }
}

impl Serialize for SyncSendRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASyncSendRequest", 5)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Head", &Text(&self.head))?;
        st.serialize_field("MissingAUMs", &opt_b64_list(&self.missing_aums))?;
        st.serialize_field("Interactive", &self.interactive)?;
        st.end()
    }
}

impl GoStruct for SyncSendResponse {
    const FIELDS: &'static [&'static str] = &["Head"];
    const REQUIRED: u64 = 1;
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        _: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        set_hash(map, &mut self.head, "Head", err)
    }
}

impl Serialize for SyncSendResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASyncSendResponse", 1)?;
        st.serialize_field("Head", &Text(&self.head))?;
        st.end()
    }
}

impl GoStruct for DisableRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "Head", "DisablementSecret"];
    const REQUIRED: u64 = 1 << 2;
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            2 => set_hash(map, &mut self.head, "Head", err),
            _ => set_opt_bytes(map, &mut self.disablement_secret, "DisablementSecret", err),
        }
    }
}

impl Serialize for DisableRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKADisableRequest", 4)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Head", &Text(&self.head))?;
        st.serialize_field("DisablementSecret", &opt_b64(&self.disablement_secret))?;
        st.end()
    }
}

impl GoStruct for SubmitSignatureRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "Signature"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            _ => set_opt_bytes(map, &mut self.signature, "Signature", err),
        }
    }
}

impl Serialize for SubmitSignatureRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASubmitSignatureRequest", 3)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("Signature", &opt_b64(&self.signature))?;
        st.end()
    }
}

impl GoStruct for SignaturesUsingKeyRequest {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "KeyID"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            _ => set_opt_bytes(map, &mut self.key_id, "KeyID", err),
        }
    }
}

impl Serialize for SignaturesUsingKeyRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASignaturesUsingKeyRequest", 3)?;
        st.serialize_field(VERSION, &self.version)?;
        st.serialize_field(NODE_KEY, &Text(&self.node_key))?;
        st.serialize_field("KeyID", &opt_b64(&self.key_id))?;
        st.end()
    }
}

impl GoStruct for SignaturesUsingKeyResponse {
    const FIELDS: &'static [&'static str] = &["Signatures"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        _: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        set_bytes_list(map, &mut self.signatures, "Signatures", err)
    }
}

impl Serialize for SignaturesUsingKeyResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TKASignaturesUsingKeyResponse", 1)?;
        st.serialize_field("Signatures", &opt_b64_list(&self.signatures))?;
        st.end()
    }
}

impl GoStruct for MapResponseTka {
    const FIELDS: &'static [&'static str] = &["TKAInfo"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        _: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        set_struct_ptr(map, &mut self.tka_info, err)
    }
}

impl GoStruct for MapRequestTka {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "TKAHead"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, err),
            _ => set_opt_hash(map, &mut self.tka_head, "TKAHead", err),
        }
    }
}

impl GoStruct for NodeTka {
    const FIELDS: &'static [&'static str] = &["ID", "Key", "KeySignature", "UnsignedPeerAPIOnly"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        err: &mut ErrSlot,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.id),
            1 => set_key(map, &mut self.key, "Key", err),
            2 => set_bytes(map, &mut self.key_signature, "KeySignature", err),
            _ => set_bool(map, &mut self.unsigned_peer_api_only),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "nodekey:f22aef59071195a371923ed4949cb5c7e0fc582c041d1a23a77eefee6fa1bee7";
    const HEAD: &str = "RQBPSF4NFVVRVQFSNNI27MI4WZBTIA3ZZUNDCX5FW7ZGTNLJIKZQ";

    fn text<T: ToWire>(m: &T) -> String {
        String::from_utf8(m.to_json()).unwrap()
    }

    #[test]
    fn paths_and_caps() {
        for p in Path::ALL {
            assert_eq!(Path::from_path(p.as_str()), Some(p));
            assert!(p.as_str().starts_with("/machine/tka/"));
        }
        assert_eq!(Path::Bootstrap.as_str(), "/machine/tka/bootstrap");
        assert_eq!(Path::SyncOffer.as_str(), "/machine/tka/sync/offer");
        assert_eq!(Path::SyncSend.as_str(), "/machine/tka/sync/send");
        assert_eq!(Path::AffectedSigs.to_string(), "/machine/tka/affected-sigs");
        assert_eq!(Path::from_path("/machine/tka/nope"), None);
        assert_eq!(Path::Bootstrap.response_cap(), 1 << 20);
        for p in [Path::InitBegin, Path::SyncOffer, Path::SyncSend] {
            assert_eq!(p.response_cap(), 10 << 20);
        }
        for p in [
            Path::InitFinish,
            Path::Disable,
            Path::Sign,
            Path::AffectedSigs,
        ] {
            assert_eq!(p.response_cap(), 1 << 20);
        }
        assert_eq!(<BootstrapRequest as Rpc>::PATH, Path::Bootstrap);
        assert_eq!(<SignaturesUsingKeyRequest as Rpc>::PATH, Path::AffectedSigs);
        assert_eq!(SyncOfferResponse::MAX_LEN, LARGE_RESPONSE_CAP);
        assert_eq!(BootstrapResponse::MAX_LEN, SMALL_RESPONSE_CAP);
        assert_eq!(METHOD, "GET");
    }

    #[test]
    fn oversize_refused_before_parsing() {
        // Not JSON at all: a parse attempt would give Json, not TooLarge.
        let junk = vec![b'x'; SMALL_RESPONSE_CAP + 1];
        match parse_response::<BootstrapRequest>(&junk) {
            Err(WireError::TooLarge { len, cap }) => {
                assert_eq!((len, cap), (SMALL_RESPONSE_CAP + 1, SMALL_RESPONSE_CAP));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            BootstrapResponse::from_json(&junk),
            Err(WireError::TooLarge { .. })
        ));
        // The same size is within sync/offer's cap, so it gets parsed.
        assert!(matches!(
            parse_response::<SyncOfferRequest>(&junk),
            Err(WireError::Json(_))
        ));
        let big = vec![b'x'; LARGE_RESPONSE_CAP + 1];
        assert!(matches!(
            parse_response::<SyncSendRequest>(&big),
            Err(WireError::TooLarge { .. })
        ));
        // Exactly the cap is fine.
        let mut ok = vec![b' '; SMALL_RESPONSE_CAP];
        ok[..2].copy_from_slice(b"{}");
        assert_eq!(
            parse_response::<DisableRequest>(&ok).unwrap(),
            DisableResponse {}
        );
        assert!(matches!(
            TkaInfo::from_json_capped(b"{}", 1),
            Err(WireError::TooLarge { len: 2, cap: 1 })
        ));
    }

    #[test]
    fn bad_hash() {
        let cases = [
            format!(r#"{{"Head":"{}"}}"#, HEAD.to_lowercase()),
            format!(r#"{{"Head":"{}"}}"#, &HEAD[1..]),
            r#"{"Head":""}"#.to_string(),
            r#"{"Head":null}"#.to_string(),
            "{}".to_string(),
            "null".to_string(),
        ];
        for c in &cases {
            match SyncSendResponse::from_json(c.as_bytes()) {
                Err(WireError::BadHash { field: "Head", .. }) => {}
                other => panic!("{c}: {other:?}"),
            }
        }
        let anc = format!(r#"{{"Head":"{HEAD}","Ancestors":["{HEAD}",null]}}"#);
        assert!(matches!(
            SyncOfferResponse::from_json(anc.as_bytes()),
            Err(WireError::BadHash {
                field: "Ancestors",
                ..
            })
        ));
        let boot = format!(r#"{{"Version":1,"NodeKey":"{KEY}","Head":"nothash"}}"#);
        assert!(matches!(
            BootstrapRequest::from_json(boot.as_bytes()),
            Err(WireError::BadHash { field: "Head", .. })
        ));
        assert!(matches!(
            MapRequestTka::from_json(br#"{"TKAHead":"AAAA"}"#),
            Err(WireError::BadHash {
                field: "TKAHead",
                ..
            })
        ));
        // Wrong JSON type is a JSON error, not a hash error.
        assert!(matches!(
            SyncSendResponse::from_json(br#"{"Head":5}"#),
            Err(WireError::Json(_))
        ));
    }

    #[test]
    fn bad_key() {
        for k in [
            "",
            "nodekey:00",
            "nlpub:f22aef59071195a371923ed4949cb5c7e0fc582c041d1a23a77eefee6fa1bee7",
            "nodekey:z22aef59071195a371923ed4949cb5c7e0fc582c041d1a23a77eefee6fa1bee7",
            "NODEKEY:f22aef59071195a371923ed4949cb5c7e0fc582c041d1a23a77eefee6fa1bee7",
        ] {
            let j = format!(r#"{{"Version":1,"NodeKey":"{k}","Head":""}}"#);
            match BootstrapRequest::from_json(j.as_bytes()) {
                Err(WireError::BadKey {
                    field: "NodeKey", ..
                }) => {}
                other => panic!("{k}: {other:?}"),
            }
        }
        assert!(matches!(
            NodeTka::from_json(br#"{"ID":1,"Key":"nodekey:"}"#),
            Err(WireError::BadKey { field: "Key", .. })
        ));
        // Upper-case hex is accepted, as Go does, and written lower-case.
        let upper = KEY.replace("f22aef", "F22AEF");
        let j = format!(r#"{{"Version":1,"NodeKey":"{upper}","Head":""}}"#);
        let r = BootstrapRequest::from_json(j.as_bytes()).unwrap();
        assert_eq!(r.node_key.to_string(), KEY);
    }

    fn sig(b64: &str) -> Result<Option<Vec<u8>>, WireError> {
        let j = format!(r#"{{"Version":1,"NodeKey":"{KEY}","Signature":"{b64}"}}"#);
        SubmitSignatureRequest::from_json(j.as_bytes()).map(|r| r.signature)
    }

    #[test]
    fn base64_rules() {
        for bad in [
            "AQ", "AQ=", "-_8=", "AQ==AQ==", "A===", "====", "AQ=A", "AQ== ", " AQ==", "AQ\\t==",
        ] {
            match sig(bad) {
                Err(WireError::BadBase64 { field: "Signature" }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // Go skips \r and \n anywhere and ignores trailing bits.
        assert_eq!(sig("AQ==").unwrap(), Some(vec![1]));
        assert_eq!(sig("A\\r\\nQ=\\n=").unwrap(), Some(vec![1]));
        assert_eq!(sig("AR==").unwrap(), Some(vec![1]));
        assert_eq!(sig("+/+/").unwrap(), Some(vec![0xfb, 0xff, 0xbf]));
        assert_eq!(sig("").unwrap(), Some(vec![]));
        assert!(matches!(
            SignaturesUsingKeyResponse::from_json(br#"{"Signatures":["AQ==","%"]}"#),
            Err(WireError::BadBase64 {
                field: "Signatures"
            })
        ));
        let j = format!(r#"{{"Version":1,"NodeKey":"{KEY}","Signatures":{{"x":"AQ=="}}}}"#);
        assert!(matches!(
            InitFinishRequest::from_json(j.as_bytes()),
            Err(WireError::BadNodeId {
                field: "Signatures",
                ..
            })
        ));
    }

    #[test]
    fn nil_and_empty_bytes_round_trip() {
        let base = format!(r#""Version":1,"NodeKey":"{KEY}""#);
        for (field, value) in [("Signature", "null"), ("Signature", r#""""#)] {
            let j = format!("{{{base},\"{field}\":{value}}}");
            let r = SubmitSignatureRequest::from_json(j.as_bytes()).unwrap();
            assert_eq!(r.signature.is_none(), value == "null");
            assert_eq!(text(&r), j);
        }
        for value in ["null", "[]", r#"["AQ==",""]"#] {
            let j = format!(r#"{{"Head":"{HEAD}","Ancestors":[],"MissingAUMs":{value}}}"#);
            let r = SyncOfferResponse::from_json(j.as_bytes()).unwrap();
            assert_eq!(text(&r), j);
        }
        for value in ["null", "{}"] {
            let j = format!("{{{base},\"Signatures\":{value}}}");
            let r = InitFinishRequest::from_json(j.as_bytes()).unwrap();
            assert_eq!(r.signatures.is_none(), value == "null");
            assert_eq!(text(&r), j);
        }
        let info = InitBeginResponse {
            need_signatures: Some(vec![
                SignInfo {
                    node_id: 1,
                    node_public: NodeKey([1; 32]),
                    rotation_pubkey: None,
                },
                SignInfo {
                    node_id: 2,
                    node_public: NodeKey([2; 32]),
                    rotation_pubkey: Some(vec![]),
                },
            ]),
        };
        let j = text(&info);
        assert!(j.contains(r#""RotationPubkey":null"#));
        assert!(j.contains(r#""RotationPubkey":"""#));
        assert_eq!(InitBeginResponse::from_json(j.as_bytes()).unwrap(), info);
        // omitempty fields: nil and empty are both left out.
        let b =
            BootstrapResponse::from_json(br#"{"GenesisAUM":"","DisablementSecret":null}"#).unwrap();
        assert_eq!(text(&b), "{}");
        let f = InitFinishRequest {
            support_disablement: vec![],
            ..Default::default()
        };
        assert!(!text(&f).contains("SupportDisablement"));
    }

    #[test]
    fn writes_go_shapes() {
        let head: AumHash = HEAD.parse().unwrap();
        let r = BootstrapRequest {
            version: 145,
            node_key: KEY.parse().unwrap(),
            head: None,
        };
        assert_eq!(
            text(&r),
            format!(r#"{{"Version":145,"NodeKey":"{KEY}","Head":""}}"#)
        );
        let mut body = text(&r).into_bytes();
        body.push(b'\n');
        assert_eq!(r.body(), body);
        let mut sigs = BTreeMap::new();
        sigs.insert(7, vec![1]);
        sigs.insert(12345, vec![2]);
        sigs.insert(-3, vec![3]);
        let f = InitFinishRequest {
            version: 1,
            node_key: NodeKey::default(),
            signatures: Some(sigs),
            support_disablement: vec![9],
        };
        assert!(text(&f).ends_with(
            r#""Signatures":{"-3":"Aw==","12345":"Ag==","7":"AQ=="},"SupportDisablement":"CQ=="}"#
        ));
        assert_eq!(
            text(&TkaInfo::new(Some(head), false)),
            format!(r#"{{"Head":"{HEAD}"}}"#)
        );
        assert_eq!(text(&TkaInfo::new(None, true)), r#"{"Disabled":true}"#);
        assert_eq!(text(&DisableResponse {}), "{}");
    }

    #[test]
    fn go_decoding_semantics() {
        // Case-insensitive names (with Go's two non-ASCII folds), unknown
        // fields ignored, null leaves a value alone, later duplicates win.
        let j = format!(
            r#"{{"version":3,"NODEKEY":"{KEY}","\u212aeyID":"AQ==","Extra":{{"a":[1,{{}}]}},"Version":null}}"#
        );
        let r = SignaturesUsingKeyRequest::from_json(j.as_bytes()).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.key_id, Some(vec![1]));
        let r =
            SubmitSignatureRequest::from_json("{\"\u{17F}ignature\":\"AQ==\"}".as_bytes()).unwrap();
        assert_eq!(r.signature, Some(vec![1]));
        // Other non-ASCII look-alikes do not match.
        let r =
            SubmitSignatureRequest::from_json("{\"S\u{131}gnature\":\"AQ==\"}".as_bytes()).unwrap();
        assert_eq!(r.signature, None);
        let r = SyncSendResponse::from_json(
            format!(r#"{{"head":"{}","Head":"{HEAD}"}}"#, "A".repeat(52)).as_bytes(),
        )
        .unwrap();
        assert_eq!(r.head.to_string(), HEAD);
        // Maps and nested objects merge; null resets them.
        let j = r#"{"Signatures":{"1":"AQ=="},"signatures":{"2":"Ag==","1":"Aw=="}}"#;
        let r = InitFinishRequest::from_json(j.as_bytes()).unwrap();
        let m = r.signatures.unwrap();
        assert_eq!((m[&1].clone(), m[&2].clone()), (vec![3], vec![2]));
        let j = format!(r#"{{"TKAInfo":{{"Head":"{HEAD}"}},"TKAInfo":{{"Disabled":true}}}}"#);
        let r = MapResponseTka::from_json(j.as_bytes()).unwrap();
        assert_eq!(
            r.tka_info,
            Some(TkaInfo::new(Some(HEAD.parse().unwrap()), true))
        );
        let r =
            MapResponseTka::from_json(br#"{"TKAInfo":{"Disabled":true},"TKAInfo":null}"#).unwrap();
        assert_eq!(r.tka_info, None);
        // Node IDs: Go's ParseInt accepts a sign.
        let r = InitFinishRequest::from_json(br#"{"Signatures":{"+5":null}}"#).unwrap();
        assert_eq!(r.signatures.unwrap()[&5], Vec::<u8>::new());
        // A top-level null is the zero message.
        assert_eq!(
            BootstrapResponse::from_json(b"null").unwrap(),
            BootstrapResponse::default()
        );
        // Numbers must be integers in range; other JSON types are errors.
        for bad in [
            r#"{"Version":1.0}"#,
            r#"{"Version":1e2}"#,
            r#"{"Version":"1"}"#,
            r#"{"Version":9223372036854775808}"#,
            r#"{"Interactive":1}"#,
            r#"[]"#,
            r#"{}x"#,
            r#"{"#,
            "",
        ] {
            let j = bad.replace("{}", &format!(r#"{{"Head":"{HEAD}"}}"#));
            assert!(
                matches!(
                    SyncSendRequest::from_json(j.as_bytes()),
                    Err(WireError::Json(_))
                ),
                "{bad}"
            );
        }
        // Whitespace (including Go's encoder newline) is fine.
        let r = BootstrapResponse::from_json(b" {\"GenesisAUM\":\"AQ==\"}\n").unwrap();
        assert_eq!(r.genesis_aum, vec![1]);
    }

    #[test]
    fn tka_info_tolerates_bad_head() {
        let r = MapResponseTka::from_json(br#"{"TKAInfo":{"Head":"garbage"},"Peers":[]}"#).unwrap();
        let info = r.tka_info.unwrap();
        assert!(!info.enabled());
        assert!(matches!(info.head_hash(), Err(WireError::BadHash { .. })));
        assert!(TkaInfo::default().enabled());
        assert_eq!(TkaInfo::default().head_hash().unwrap(), None);
        assert!(!TkaInfo::new(None, true).enabled());
    }

    #[test]
    fn embeds_in_serde_types() {
        #[derive(Deserialize)]
        struct Outer {
            #[serde(rename = "TKAInfo")]
            info: Option<TkaInfo>,
            req: BootstrapRequest,
        }
        let j = format!(
            r#"{{"TKAInfo":{{"Disabled":true}},"req":{{"Version":2,"NodeKey":"{KEY}","Head":""}}}}"#
        );
        let o: Outer = serde_json::from_str(&j).unwrap();
        assert!(o.info.unwrap().disabled);
        assert_eq!(o.req.version, 2);
        let bad = r#"{"TKAInfo":null,"req":{"NodeKey":"nope"}}"#;
        let e = serde_json::from_str::<Outer>(bad).err().unwrap();
        assert!(e.to_string().contains("NodeKey"), "{e}");
    }

    fn parse_all(b: &[u8]) {
        let _ = InitBeginRequest::from_json(b);
        let _ = InitBeginResponse::from_json(b);
        let _ = InitFinishRequest::from_json(b);
        let _ = InitFinishResponse::from_json(b);
        let _ = TkaInfo::from_json(b);
        let _ = BootstrapRequest::from_json(b);
        let _ = BootstrapResponse::from_json(b);
        let _ = SyncOfferRequest::from_json(b);
        let _ = SyncOfferResponse::from_json(b);
        let _ = SyncSendRequest::from_json(b);
        let _ = SyncSendResponse::from_json(b);
        let _ = DisableRequest::from_json(b);
        let _ = SubmitSignatureRequest::from_json(b);
        let _ = SignaturesUsingKeyResponse::from_json(b);
        let _ = MapResponseTka::from_json(b);
        let _ = MapRequestTka::from_json(b);
        let _ = NodeTka::from_json(b);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut j = String::from(r#"{"Extra":"#);
        j.push_str(&"[".repeat(100_000));
        assert!(matches!(
            NodeTka::from_json(j.as_bytes()),
            Err(WireError::Json(_))
        ));
        parse_all(j.as_bytes());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_bytes(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            parse_all(&b);
        }

        #[test]
        fn never_panics_on_json_like(
            s in r#"\{("(Head|Version|NodeKey|Signatures|MissingAUMs|TKAInfo|Ancestors|NeedSignatures|Key|ID)":(null|true|1|-1|"[A-Za-z0-9+/=:]{0,8}"|\[("[A-Z2-7=]{0,4}"|null|\{\})?\]|\{("[0-9+-]{0,3}":(null|"AQ=="))?\}),?){0,4}\}"#
        ) {
            parse_all(s.as_bytes());
        }
    }
}
