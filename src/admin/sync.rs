//! A node's own sync with control, for tools that work on a node's store
//! without a running node (Go's `tkaSyncIfNeeded` + `tkaSyncLocked`, with
//! bootstrap asked every time since there is no netmap saying whether the
//! lock is on).

use super::{parse, AdminError, Flow, Request, Step, CAPABILITY_VERSION};
use crate::authority::Authority;
use crate::compact::CompactionOptions;
use crate::hash::AumHash;
use crate::key::NodeKey;
use crate::storage::{Storage, StoredAum};
use crate::sync::SyncOffer;
use crate::wire;
use crate::Aum;

/// What a [`Sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Whether the node has an authority afterwards.
    pub enabled: bool,
    /// The node bootstrapped its authority from control's genesis.
    pub bootstrapped: bool,
    /// Control handed out a valid disablement secret and the node removed
    /// its authority.
    pub disabled: bool,
    /// Control handed out a disablement secret that does not match: the
    /// authority was kept (Go does the same).
    pub bad_secret: bool,
    /// AUMs received from control and informed.
    pub received: usize,
    /// AUMs sent to control.
    pub sent: usize,
    /// The node's head afterwards.
    pub head: Option<AumHash>,
    /// Control's head, when it told one (after the send, or the offer if
    /// nothing needed sending).
    pub control_head: Option<AumHash>,
}

enum Phase {
    Bootstrap,
    Offer,
    Send,
    Done,
}

/// Syncs a node's store with control.
///
/// 1. `bootstrap` with the node's head: a disablement secret means the
///    lock was turned off (checked against the authority before anything
///    is removed); a genesis with no local authority is bootstrapped
///    (refused if its state IDs were locally disabled); neither and no
///    authority means the lock is off.
/// 2. `sync/offer`; if control's head differs, the AUMs control lacks are
///    computed *before* control's are informed (all or nothing), then
///    `sync/send` carries them with the new head, and storage is compacted
///    with Go's defaults.
pub struct Sync<'a, S: Storage + ?Sized> {
    node_key: NodeKey,
    storage: &'a mut S,
    authority: &'a mut Option<Authority>,
    disallowed: &'a [(u64, u64)],
    now: u64,
    phase: Phase,
    out: SyncOutcome,
}

impl<'a, S: Storage + ?Sized> Sync<'a, S> {
    /// A sync of `storage` / `authority` (updated in place) for the node
    /// `node_key`, at `now` (Unix seconds), refusing to bootstrap the
    /// state IDs in `disallowed`.
    pub fn new(
        node_key: NodeKey,
        storage: &'a mut S,
        authority: &'a mut Option<Authority>,
        disallowed: &'a [(u64, u64)],
        now: u64,
    ) -> Self {
        Sync {
            node_key,
            storage,
            authority,
            disallowed,
            now,
            phase: Phase::Bootstrap,
            out: SyncOutcome::default(),
        }
    }

    fn offer(&mut self) -> Result<Step<SyncOutcome>, AdminError> {
        let a = self.authority.as_ref().ok_or(AdminError::NotEnabled)?;
        let offer = a.sync_offer(&*self.storage).map_err(sync_err)?;
        self.phase = Phase::Offer;
        Ok(Step::Send(Request::of(&wire::SyncOfferRequest {
            version: CAPABILITY_VERSION,
            node_key: self.node_key,
            head: offer.head,
            ancestors: Some(offer.ancestors),
        })))
    }

    fn done(&mut self) -> Step<SyncOutcome> {
        self.phase = Phase::Done;
        self.out.enabled = self.authority.is_some();
        self.out.head = self.authority.as_ref().map(Authority::head);
        Step::Done(std::mem::take(&mut self.out))
    }

    fn handle_bootstrap(&mut self, body: &[u8]) -> Result<Step<SyncOutcome>, AdminError> {
        let resp = parse::<wire::BootstrapRequest>(body)?;
        if !resp.disablement_secret.is_empty() {
            if let Some(a) = self.authority.as_ref() {
                if a.valid_disablement(&resp.disablement_secret) {
                    self.storage.remove_all()?;
                    *self.authority = None;
                    self.out.disabled = true;
                } else {
                    self.out.bad_secret = true;
                }
            }
            return Ok(self.done());
        }
        if self.authority.is_none() {
            if resp.genesis_aum.is_empty() {
                return Ok(self.done());
            }
            let genesis = Aum::from_cbor(&resp.genesis_aum)
                .map_err(|e| AdminError::BadControlData(format!("genesis AUM: {e}")))?;
            if let Some(s) = &genesis.state {
                let ids = (s.state_id1, s.state_id2);
                if self.disallowed.contains(&ids) {
                    return Err(AdminError::LocallyDisabled { state_ids: ids });
                }
            }
            *self.authority = Some(Authority::bootstrap(self.storage, genesis, self.now)?);
            self.out.bootstrapped = true;
        }
        self.offer()
    }

    fn handle_offer(&mut self, body: &[u8]) -> Result<Step<SyncOutcome>, AdminError> {
        // One budget for the body and the AUMs it lists (see `DecodeBudget`).
        let mut budget = crate::limits::DecodeBudget::for_input(body.len());
        let resp = wire::parse_response_within::<wire::SyncOfferRequest>(body, &mut budget)
            .map_err(AdminError::Response)?;
        let a = self.authority.as_mut().ok_or(AdminError::NotEnabled)?;
        self.out.control_head = Some(resp.head);
        if resp.head == a.head() {
            return Ok(self.done());
        }
        let control = SyncOffer {
            head: resp.head,
            ancestors: resp.ancestors.unwrap_or_default(),
        };
        let to_send = a
            .missing_aums(&*self.storage, &control)
            .map_err(sync_err)?
            .unwrap_or_default();
        let missing = resp.missing_aums.unwrap_or_default();
        if !missing.is_empty() {
            let mut aums = Vec::with_capacity(missing.len());
            for (i, b) in missing.iter().enumerate() {
                aums.push(
                    StoredAum::decode_within(b, &mut budget)
                        .map_err(|e| AdminError::BadControlData(format!("AUM {i}: {e}")))?,
                );
            }
            let received = aums.len();
            a.inform_stored(self.storage, aums, self.now)?;
            self.out.received = received;
        }
        self.out.sent = to_send.len();
        self.phase = Phase::Send;
        Ok(Step::Send(Request::of(&wire::SyncSendRequest {
            version: CAPABILITY_VERSION,
            node_key: self.node_key,
            head: a.head(),
            missing_aums: Some(to_send.iter().map(|s| s.aum().to_cbor()).collect()),
            interactive: false,
        })))
    }

    fn handle_send(&mut self, body: &[u8]) -> Result<Step<SyncOutcome>, AdminError> {
        let resp = parse::<wire::SyncSendRequest>(body)?;
        self.out.control_head = Some(resp.head);
        if let Some(a) = self.authority.as_mut() {
            a.compact(self.storage, self.now, CompactionOptions::default())?;
        }
        Ok(self.done())
    }
}

fn sync_err(e: crate::SyncError) -> AdminError {
    AdminError::Sync(e)
}

impl<S: Storage + ?Sized> Flow for Sync<'_, S> {
    type Output = SyncOutcome;

    fn start(&mut self) -> Result<Step<SyncOutcome>, AdminError> {
        Ok(Step::Send(Request::of(&wire::BootstrapRequest {
            version: CAPABILITY_VERSION,
            node_key: self.node_key,
            head: self.authority.as_ref().map(Authority::head),
        })))
    }

    fn handle_response(&mut self, body: &[u8]) -> Result<Step<SyncOutcome>, AdminError> {
        match self.phase {
            Phase::Bootstrap => self.handle_bootstrap(body),
            Phase::Offer => self.handle_offer(body),
            Phase::Send => self.handle_send(body),
            Phase::Done => Err(AdminError::Finished),
        }
    }
}
