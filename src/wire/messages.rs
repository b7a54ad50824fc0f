//! The per-message field lists: how each Go `tailcfg` type is read and
//! written.

use super::gojson::*;
use super::*;

/// Implements `Deserialize` for a `GoStruct`, for embedding in other serde
/// types (errors then become `serde` errors carrying the message).
macro_rules! go_deserialize {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                decode_struct(d, &mut Ctx::new(DecodeBudget::unlimited()))
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
            fn from_json_within(
                bytes: &[u8],
                cap: usize,
                budget: &mut DecodeBudget,
            ) -> Result<Self, WireError> {
                from_json_impl(bytes, cap, budget)
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            _ => set_opt_bytes(map, &mut self.genesis_aum, "GenesisAUM", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.node_id),
            1 => set_key(map, &mut self.node_public, "NodePublic", cx),
            _ => set_opt_bytes(map, &mut self.rotation_pubkey, "RotationPubkey", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        set_struct_list(map, &mut self.need_signatures, cx)
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            2 => set_sig_map(map, &mut self.signatures, "Signatures", cx),
            _ => set_bytes(map, &mut self.support_disablement, "SupportDisablement", cx),
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
                _: &mut Ctx,
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_string(map, &mut self.head, cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            _ => set_opt_hash(map, &mut self.head, "Head", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_bytes(map, &mut self.genesis_aum, "GenesisAUM", cx),
            _ => set_bytes(map, &mut self.disablement_secret, "DisablementSecret", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            2 => set_hash(map, &mut self.head, "Head", cx),
            _ => set_hash_list(map, &mut self.ancestors, "Ancestors", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_hash(map, &mut self.head, "Head", cx),
            1 => set_hash_list(map, &mut self.ancestors, "Ancestors", cx),
            _ => set_bytes_list(map, &mut self.missing_aums, "MissingAUMs", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            2 => set_hash(map, &mut self.head, "Head", cx),
            3 => set_bytes_list(map, &mut self.missing_aums, "MissingAUMs", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        set_hash(map, &mut self.head, "Head", cx)
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            2 => set_hash(map, &mut self.head, "Head", cx),
            _ => set_opt_bytes(map, &mut self.disablement_secret, "DisablementSecret", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            _ => set_opt_bytes(map, &mut self.signature, "Signature", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            _ => set_opt_bytes(map, &mut self.key_id, "KeyID", cx),
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        set_bytes_list(map, &mut self.signatures, "Signatures", cx)
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
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        set_struct_ptr(map, &mut self.tka_info, cx)
    }
}

impl GoStruct for MapRequestTka {
    const FIELDS: &'static [&'static str] = &[VERSION, NODE_KEY, "TKAHead"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.version),
            1 => set_key(map, &mut self.node_key, NODE_KEY, cx),
            _ => set_opt_hash(map, &mut self.tka_head, "TKAHead", cx),
        }
    }
}

impl GoStruct for NodeTka {
    const FIELDS: &'static [&'static str] = &["ID", "Key", "KeySignature", "UnsignedPeerAPIOnly"];
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        i: usize,
        map: &mut A,
        cx: &mut Ctx,
    ) -> Result<bool, A::Error> {
        match i {
            0 => set_int(map, &mut self.id),
            1 => set_key(map, &mut self.key, "Key", cx),
            2 => set_bytes(map, &mut self.key_signature, "KeySignature", cx),
            _ => set_bool(map, &mut self.unsigned_peer_api_only),
        }
    }
}
