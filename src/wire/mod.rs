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
//! * Everything a parse keeps is charged to a [`DecodeBudget`] of
//!   `4 * n + 256 KiB` for an `n`-byte body (list slots and their growth,
//!   decoded bytes, map entries, strings); a body that would need more is
//!   refused with [`WireError::OverBudget`], where Go parses it. Only bodies
//!   of many tiny elements (`[{},{},…]`, `["",…]`, `[null,…]`) get there.
//!   [`parse_response_within`] and [`FromWire::from_json_within`] leave what
//!   is left of the budget for decoding the AUMs a body lists.
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
use crate::limits::DecodeBudget;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

mod gojson;
mod messages;
#[cfg(test)]
mod tests;

use gojson::*;

// ---------------------------------------------------------------------------
// Endpoints and caps
// ---------------------------------------------------------------------------

/// The HTTP method of every Tailnet Lock RPC: `GET`, with a JSON request body.
pub const METHOD: &str = "GET";

/// Response size cap Go's client applies to most Tailnet Lock RPCs: 1 MiB.
pub const SMALL_RESPONSE_CAP: usize = crate::limits::MAX_BOOTSTRAP_RESPONSE;

/// Response size cap Go's client applies to `init/begin`, `sync/offer` and
/// `sync/send`, whose responses carry many signatures or AUMs: 10 MiB.
pub const LARGE_RESPONSE_CAP: usize = crate::limits::MAX_SYNC_RESPONSE;

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
    /// Parsing would allocate more than the body's budget
    /// ([`DecodeBudget`]: `4 * n + 256 KiB` for an `n`-byte body). Only
    /// bodies of many tiny elements (`[{},{},…]`, `["",…]`, `[null,…]`)
    /// get here; Go accepts them (not a Go check: see SPEC.md).
    OverBudget {
        /// The budget, in bytes.
        limit: usize,
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
            WireError::OverBudget { limit } => write!(
                f,
                "parsing would allocate more than {limit} bytes (4 bytes per body byte + 256 KiB)"
            ),
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
    /// them, within the budget of a body of its length (`4 * n + 256 KiB`,
    /// see [`DecodeBudget`]).
    fn from_json_capped(bytes: &[u8], cap: usize) -> Result<Self, WireError> {
        Self::from_json_within(bytes, cap, &mut DecodeBudget::for_input(bytes.len()))
    }

    /// Parses `bytes`, refusing bodies longer than `cap` before looking at
    /// them, charging every value kept to `budget` (list slots and growth,
    /// decoded bytes, map entries, strings) and refusing with
    /// [`WireError::OverBudget`] a charge over it. What is left of `budget`
    /// can go on to decode the CBOR values the message carries (see
    /// [`parse_response_within`]).
    fn from_json_within(
        bytes: &[u8],
        cap: usize,
        budget: &mut DecodeBudget,
    ) -> Result<Self, WireError>;
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

/// [`parse_response`] charging `budget`, which then holds what is left for
/// decoding the AUMs or signatures the response lists (with
/// [`Aum::from_cbor_within`](crate::Aum::from_cbor_within)), so that the
/// whole response, parsed and decoded, stays within one bound.
pub fn parse_response_within<R: Rpc>(
    bytes: &[u8],
    budget: &mut DecodeBudget,
) -> Result<R::Response, WireError> {
    R::Response::from_json_within(bytes, R::PATH.response_cap(), budget)
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
