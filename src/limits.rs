//! Every numeric limit of the protocol, in one place.
//!
//! The values are Go's (`tka/limits.go`, `tka/tka.go`, `tka/builder.go`,
//! the CBOR decoder options); changing one changes what this crate accepts.

/// Deepest container nesting the decoder accepts (the top-level map is 1).
pub const CBOR_MAX_DEPTH: usize = 16;
/// Most elements one CBOR array may declare.
pub const CBOR_MAX_ARRAY_ELEMENTS: u64 = 4096;
/// Most pairs one CBOR map may declare.
pub const CBOR_MAX_MAP_PAIRS: u64 = 1024;

/// Most keys an authority state may hold.
pub const MAX_KEYS: usize = 512;
/// Most disablement values a checkpoint may carry.
pub const MAX_DISABLEMENT_VALUES: usize = 32;
/// Length of one disablement value.
pub const DISABLEMENT_VALUE_LEN: usize = 32;
/// Most bytes of key metadata (sum of key and value lengths).
pub const MAX_META_BYTES: usize = 512;
/// Most votes one key may carry.
pub const MAX_VOTES: u64 = 4096;

/// Go's `maxSyncIter`: steps allowed when computing a state or fast-forwarding.
pub const MAX_SYNC_ITER: usize = 2000;
/// Go's `maxSyncHeadIntersectionIter`: steps walked back from the head for
/// sync offers and head intersections.
pub const MAX_SYNC_HEAD_INTERSECTION_ITER: usize = 1000;
/// `maxSyncHeadIntersectionIter` before 2026-04-17: the walk of the legacy
/// (exponential) sync offer, which older peers may still send.
pub const LEGACY_SYNC_HEAD_INTERSECTION_ITER: usize = 400;
/// Most ancestors accepted in a sync offer (not a Go limit). Go's current
/// offer lists at most 1001 (every checkpoint within 1000 AUMs of the head,
/// then the oldest ancestor), its legacy offer at most 5; each listed
/// ancestor that is stored can cost a receiver up to 2 x 2000 replay steps,
/// so larger offers are refused rather than walked.
pub const MAX_SYNC_OFFER_ANCESTORS: usize = 4096;
/// Go's `maxScanIterations`: steps allowed when opening an authority.
pub const MAX_SCAN_ITERATIONS: usize = 2000;

/// The builder appends a checkpoint when none is within this many AUMs.
pub const CHECKPOINT_EVERY: usize = 50;

/// Most node keys a rotation chain keeps when re-signed (`ResignNKS`).
pub const MAX_ROTATION_CHAIN_KEYS: usize = 15;

/// Length of a tailnet-lock key ID (the Ed25519 public key).
pub const KEY_ID_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Compaction keeps at least this many AUMs on the active chain.
pub const COMPACTION_MIN_CHAIN: usize = 24;
/// Compaction keeps AUMs received within this many seconds (14 days).
pub const COMPACTION_MIN_AGE_SECS: u64 = 14 * 24 * 60 * 60;

/// Largest bootstrap response accepted from control, in bytes.
pub const MAX_BOOTSTRAP_RESPONSE: usize = 1 << 20;
/// Largest sync-offer or sync-send response accepted from control, in bytes.
pub const MAX_SYNC_RESPONSE: usize = 10 << 20;

/// Multiplier of the decoding budget: decoding `n` untrusted bytes may
/// allocate at most `DECODE_FACTOR * n + DECODE_SLACK` bytes.
pub const DECODE_FACTOR: usize = 4;
/// Constant part of the decoding budget (256 KiB): room for the fixed-size
/// slots of one structure at Go's own container limits, however short its
/// encoding. Go's limit tests (public vectors) decode an AUM of 4,195 bytes
/// to 4,096 signatures (192 KiB of 48-byte slots) and one of 6,330 bytes to
/// 1,024 metadata entries (about 100 KiB); both must decode.
pub const DECODE_SLACK: usize = 256 << 10;

/// Largest canonical encoding of an AUM (or a key) the decoder accepts
/// (1 MiB, the size of the largest AUM file [`crate::tailchonk`] reads). An
/// AUM is hashed over its canonical encoding, which writes a metadata value
/// once per entry even where the input repeated it with `null`; capping the
/// encoding bounds that work (not a Go limit: see SPEC.md).
pub const MAX_AUM_BYTES: usize = 1 << 20;

/// Most canonical-encoding bytes a decoded AUM or key may take per input
/// byte (see [`max_encoding_len`]). What Go writes re-encodes to the bytes
/// it came in; decoding fills in defaults, so a one-byte `{}` or `null`
/// element can re-encode in up to 7 bytes (a zero key in a state's list).
/// Only `null`-repeated metadata values expand further.
pub const MAX_ENCODING_EXPANSION: usize = 8;

/// The longest canonical encoding accepted for an AUM or key decoded from
/// `n` input bytes: `8 * n + 1 KiB`, and at most [`MAX_AUM_BYTES`]. Hashing
/// a decoded AUM therefore reads at most about 8 bytes per input byte.
pub fn max_encoding_len(n: usize) -> usize {
    MAX_ENCODING_EXPANSION
        .saturating_mul(n)
        .saturating_add(1 << 10)
        .min(MAX_AUM_BYTES)
}

/// What the decoders may still allocate for one untrusted input: every
/// allocation a decoder makes (a byte string, a string, a list's elements
/// counted as `size_of` of the element type times the capacity, a map
/// entry, a boxed value) is charged first, and a charge over the limit
/// refuses the input before the allocation is made.
///
/// [`DecodeBudget::for_input`] gives the crate's bound for an `n`-byte
/// input, `4 * n + 256 KiB`. Each `from_cbor` and `from_json` call starts
/// from a fresh budget for its own input; the `*_within` variants share one
/// budget across several decodes (say, a JSON body and the AUMs listed in
/// it), so that their sum stays within the bound of the whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeBudget {
    limit: usize,
    used: usize,
}

impl DecodeBudget {
    /// The budget for an untrusted input of `n` bytes: `4 * n + 256 KiB`.
    pub fn for_input(n: usize) -> Self {
        Self::with_limit(DECODE_FACTOR.saturating_mul(n).saturating_add(DECODE_SLACK))
    }

    /// A budget of exactly `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        DecodeBudget { limit, used: 0 }
    }

    /// A budget that never refuses (for trusted input).
    pub fn unlimited() -> Self {
        Self::with_limit(usize::MAX)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes charged and not released.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Charges `bytes` about to be allocated; on `Err` nothing is charged
    /// and the caller must not allocate. The error is the limit.
    pub fn charge(&mut self, bytes: usize) -> Result<(), usize> {
        match self.used.checked_add(bytes) {
            Some(u) if u <= self.limit => {
                self.used = u;
                Ok(())
            }
            _ => Err(self.limit),
        }
    }

    /// Returns `bytes` charged earlier whose allocation was freed.
    pub fn release(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }
}
