//! The control-plane side of the TKA exchange: what a control server calls
//! to answer a node's bootstrap, sync-offer and sync-send requests, over the
//! [`Storage`] trait.
//!
//! It behaves like Go's reference fake control (`tstest/tkatest`): bootstrap
//! returns the genesis AUM while the lock is on and the disablement secret
//! once it is off; sync-offer returns control's own offer plus the AUMs the
//! node lacks; sync-send verifies the node's AUMs through
//! [`Authority::inform`] and returns control's head. Nothing the node sends
//! is trusted before it is verified.

use crate::authority::Authority;
use crate::error::{AuthorityError, SyncError};
use crate::limits::DecodeBudget;
use crate::storage::{Storage, StoredAum};
use crate::sync::SyncOffer;
use crate::wire::{self, FromWire, Path, ToWire, WireError};
use crate::{Aum, Time};
use std::fmt;

/// Why control refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum ControlError {
    /// The request body did not parse.
    BadRequest(WireError),
    /// The lock is not enabled, so there is nothing to sync.
    NotEnabled,
    /// Computing the node's missing AUMs failed (e.g. no intersection).
    Sync(SyncError),
    /// An AUM the node sent did not decode.
    BadAum(usize, crate::DecodeError),
    /// The node's AUMs did not verify.
    Inform(AuthorityError),
    /// This path is not served by the responder.
    UnknownPath(Path),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::BadRequest(e) => write!(f, "bad request: {e}"),
            ControlError::NotEnabled => f.write_str("tailnet lock is not enabled"),
            ControlError::Sync(e) => write!(f, "computing missing AUMs: {e}"),
            ControlError::BadAum(i, e) => write!(f, "decoding missingAUM[{i}]: {e}"),
            ControlError::Inform(e) => write!(f, "inform failed: {e}"),
            ControlError::UnknownPath(p) => write!(f, "path {p} is not served"),
        }
    }
}

impl std::error::Error for ControlError {}

/// Control's TKA state for one tailnet.
#[derive(Debug)]
pub struct ControlResponder<S: Storage> {
    storage: S,
    authority: Option<Authority>,
    genesis: Option<Aum>,
    disablement_secret: Option<Vec<u8>>,
}

impl<S: Storage> ControlResponder<S> {
    /// Control with the lock on: `storage` holds the chain that starts at
    /// `genesis` (already bootstrapped, e.g. with [`Authority::bootstrap`]).
    pub fn enabled(storage: S, genesis: Aum) -> Result<Self, AuthorityError> {
        let authority = Authority::open(&storage)?;
        Ok(ControlResponder {
            storage,
            authority: Some(authority),
            genesis: Some(genesis),
            disablement_secret: None,
        })
    }

    /// Control with the lock off.
    pub fn disabled(storage: S) -> Self {
        ControlResponder {
            storage,
            authority: None,
            genesis: None,
            disablement_secret: None,
        }
    }

    /// Turns the lock off with `secret`, which must be a valid disablement
    /// secret of the authority; returns whether it was.
    pub fn disable(&mut self, secret: &[u8]) -> bool {
        match &self.authority {
            Some(a) if a.valid_disablement(secret) => {
                self.authority = None;
                self.genesis = None;
                self.disablement_secret = Some(secret.to_vec());
                let _ = self.storage.remove_all();
                true
            }
            _ => false,
        }
    }

    /// The `TKAInfo` to put in map responses: the head while the lock is
    /// on, `Disabled` once it was turned off, and `None` (no `TKAInfo` at
    /// all) if it was never on. Go's client treats any `TKAInfo` without
    /// `Disabled` as "lock on", so a never-enabled tailnet must send none.
    pub fn tka_info(&self) -> Option<wire::TkaInfo> {
        match &self.authority {
            Some(a) => Some(wire::TkaInfo::new(Some(a.head()), false)),
            None if self.disablement_secret.is_some() => Some(wire::TkaInfo::new(None, true)),
            None => None,
        }
    }

    /// The authority, while the lock is on.
    pub fn authority(&self) -> Option<&Authority> {
        self.authority.as_ref()
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Mutable access to the storage and authority together, e.g. to inform
    /// AUMs an administrator submitted.
    pub fn parts_mut(&mut self) -> (&mut S, Option<&mut Authority>) {
        (&mut self.storage, self.authority.as_mut())
    }

    /// Answers a request body for `path` with a JSON response body. `now`
    /// is recorded (as Unix seconds) for AUMs a node sends.
    pub fn handle(&mut self, path: Path, body: &[u8], now: Time) -> Result<Vec<u8>, ControlError> {
        match path {
            Path::Bootstrap => {
                let req =
                    wire::BootstrapRequest::from_json(body).map_err(ControlError::BadRequest)?;
                Ok(self.bootstrap(&req).to_json())
            }
            Path::SyncOffer => {
                let req =
                    wire::SyncOfferRequest::from_json(body).map_err(ControlError::BadRequest)?;
                Ok(self.sync_offer(&req)?.to_json())
            }
            Path::SyncSend => {
                // One budget for the body and the AUMs it lists (4 bytes per
                // body byte + 256 KiB, see `DecodeBudget`).
                let mut budget = DecodeBudget::for_input(body.len());
                let req = wire::SyncSendRequest::from_json_within(
                    body,
                    wire::SyncSendRequest::MAX_LEN,
                    &mut budget,
                )
                .map_err(ControlError::BadRequest)?;
                Ok(self.sync_send_within(&req, now, &mut budget)?.to_json())
            }
            p => Err(ControlError::UnknownPath(p)),
        }
    }

    /// Bootstrap: the genesis while enabled, the disablement secret once
    /// disabled.
    pub fn bootstrap(&self, _req: &wire::BootstrapRequest) -> wire::BootstrapResponse {
        wire::BootstrapResponse {
            genesis_aum: self.genesis.as_ref().map(Aum::to_cbor).unwrap_or_default(),
            disablement_secret: self.disablement_secret.clone().unwrap_or_default(),
        }
    }

    /// Sync-offer: control's offer and the AUMs the node lacks.
    pub fn sync_offer(
        &self,
        req: &wire::SyncOfferRequest,
    ) -> Result<wire::SyncOfferResponse, ControlError> {
        let a = self.authority.as_ref().ok_or(ControlError::NotEnabled)?;
        let node_offer = SyncOffer {
            head: req.head,
            ancestors: req.ancestors.clone().unwrap_or_default(),
        };
        let ours = a.sync_offer(&self.storage).map_err(ControlError::Sync)?;
        let send = a
            .missing_aums(&self.storage, &node_offer)
            .map_err(ControlError::Sync)?
            .unwrap_or_default();
        Ok(wire::SyncOfferResponse {
            head: ours.head,
            ancestors: Some(ours.ancestors),
            missing_aums: Some(send.iter().map(|s| s.aum().to_cbor()).collect()),
        })
    }

    /// Sync-send: verify and store the node's AUMs; answer with control's
    /// head.
    pub fn sync_send(
        &mut self,
        req: &wire::SyncSendRequest,
        now: Time,
    ) -> Result<wire::SyncSendResponse, ControlError> {
        let mut budget = DecodeBudget::for_input(
            req.missing_aums
                .iter()
                .flatten()
                .fold(0, |n, b| n + b.len()),
        );
        self.sync_send_within(req, now, &mut budget)
    }

    /// [`ControlResponder::sync_send`] decoding the AUMs within `budget`
    /// (what is left of the request body's).
    fn sync_send_within(
        &mut self,
        req: &wire::SyncSendRequest,
        now: Time,
        budget: &mut DecodeBudget,
    ) -> Result<wire::SyncSendResponse, ControlError> {
        let a = self.authority.as_mut().ok_or(ControlError::NotEnabled)?;
        let missing = req.missing_aums.as_deref().unwrap_or(&[]);
        if !missing.is_empty() {
            // Not sized by the node's count: the loop may stop at the first.
            let mut aums = Vec::new();
            for (i, b) in missing.iter().enumerate() {
                let aum =
                    StoredAum::decode_within(b, budget).map_err(|e| ControlError::BadAum(i, e))?;
                crate::sync::refuse_before_inform(i, aum.aum()).map_err(ControlError::Inform)?;
                aums.push(aum);
            }
            a.inform_stored(&mut self.storage, aums, now.unix_secs())
                .map_err(ControlError::Inform)?;
        }
        Ok(wire::SyncSendResponse { head: a.head() })
    }
}
