//! The exchange with control: bootstrap, sync, disablement (Go's
//! `tkaSyncIfNeeded` and `tkaSyncLocked`).

use super::*;

impl TkaMachine {
    /// Starts the next exchange with control, if one is due (Go's
    /// `tkaSyncIfNeeded`).
    pub(super) fn drive(&mut self, now: Time) {
        // A retry that is due is consumed here whatever happens next, so a
        // timer that fired never stays in `poll_timeout` (say one armed by
        // a failed save before control's state was known, or while a
        // request is in flight).
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
        }
        let Some(want) = self.control else { return };
        // Fail-open is reported at once, even while a request is in flight
        // or a retry is pending.
        self.update_fail_open(want);
        if self.in_flight.is_some() {
            return;
        }
        if self.retry_at.is_some() {
            return;
        }
        let agrees = match &self.authority {
            None => !want.enabled,
            Some(a) => want.enabled && !self.just_enabled && want.head == Some(a.head()),
        };
        if agrees {
            // Nothing to do, even after giving up on an earlier exchange
            // (say a sync/send that failed after its offer had brought the
            // node to control's head, or a bootstrap before control turned
            // the lock off): the failure warnings no longer apply.
            self.settled_for = Some(want);
            self.succeed();
            if !self.unconfirmed_save {
                // Memory matches the store and nothing is left to save.
                self.health.remove(&HealthIssue::PersistFailed);
            }
            return;
        }
        if self.blocked_for == Some(want) {
            return;
        }
        let is_enabled = self.authority.is_some();
        if is_enabled != want.enabled {
            let head = self.authority.as_ref().map(Authority::head);
            let req = wire::BootstrapRequest {
                version: self.config.capability_version,
                node_key: self.config.node_key,
                head,
            };
            let enable = want.enabled;
            self.send(
                now,
                Some(want),
                Pending::Bootstrap { enable },
                Path::Bootstrap,
                req.to_json(),
            );
            return;
        }
        let Some(a) = &self.authority else {
            return;
        };
        // Heads differ here (or the lock was just enabled). After a sync
        // that completed without consensus, wait for control's next state.
        let needed = self.just_enabled || self.settled_for != Some(want);
        if !needed {
            self.settled_for = Some(want);
        } else {
            match a.sync_offer(&self.storage) {
                Ok(offer) => {
                    let req = wire::SyncOfferRequest {
                        version: self.config.capability_version,
                        node_key: self.config.node_key,
                        head: offer.head,
                        ancestors: Some(offer.ancestors),
                    };
                    self.send(
                        now,
                        Some(want),
                        Pending::SyncOffer,
                        Path::SyncOffer,
                        req.to_json(),
                    );
                }
                Err(e) => self.fail(
                    now,
                    Some(want),
                    Failure::Transient(HealthIssue::SyncFailing, format!("offer: {e}")),
                ),
            }
        }
    }

    pub(super) fn update_fail_open(&mut self, want: ControlState) {
        if want.enabled && self.authority.is_none() {
            self.health.insert(HealthIssue::NoAuthority);
        } else {
            self.health.remove(&HealthIssue::NoAuthority);
        }
    }

    /// Records a failed exchange that was started for control state
    /// `for_state`.
    pub(super) fn fail(&mut self, now: Time, for_state: Option<ControlState>, f: Failure) {
        if for_state != self.control {
            // Control's state changed while the exchange ran: the failure
            // says nothing about the new state, which is tried at once.
            let why = match &f {
                Failure::Transient(_, w) | Failure::Terminal(_, w) => w,
            };
            self.log(
                Level::Info,
                format!("TKA sync error: {why}; control's state changed since, trying again"),
            );
            return;
        }
        // Peers held for this state's sync are decided now, with the keys
        // we have; retries do not hold them again.
        self.waited_for = for_state;
        self.sync_failures += 1;
        match f {
            Failure::Transient(issue, why) => {
                self.attempts += 1;
                self.health.insert(issue);
                if self.attempts >= self.config.max_attempts {
                    self.log(
                        Level::Warn,
                        format!("TKA sync error: {why}; giving up until control's state changes"),
                    );
                    self.blocked_for = for_state;
                    self.retry_at = None;
                } else {
                    let shift = (self.attempts - 1).min(30);
                    let delay = self
                        .config
                        .retry_initial_ms
                        .saturating_mul(1u64 << shift)
                        .min(self.config.retry_max_ms);
                    self.log(
                        Level::Warn,
                        format!("TKA sync error: {why}; retrying in {delay} ms"),
                    );
                    self.retry_at = Some(now.plus_ms(delay));
                }
            }
            Failure::Terminal(issue, why) => {
                self.health.insert(issue);
                self.log(Level::Warn, format!("TKA sync error: {why}"));
                self.blocked_for = for_state;
                self.retry_at = None;
            }
        }
    }

    /// An exchange completed, or there is nothing to exchange: every
    /// warning about a failing exchange is cleared.
    pub(super) fn succeed(&mut self) {
        self.attempts = 0;
        self.retry_at = None;
        for h in [
            HealthIssue::SyncFailing,
            HealthIssue::BootstrapFailing,
            HealthIssue::NoIntersection,
            HealthIssue::UnrelatedChain,
            HealthIssue::DisablementRejected,
            HealthIssue::StateIdDisallowed,
        ] {
            self.health.remove(&h);
        }
    }

    pub(super) fn on_response(&mut self, now: Time, id: RequestId, body: &[u8]) {
        let Some((what, sent_for)) = self.take_in_flight(id) else {
            self.log(
                Level::Info,
                format!("ignoring response to stale request {}", id.0),
            );
            return;
        };
        let completes = matches!(what, Pending::Bootstrap { .. } | Pending::SyncSend);
        let result = match what {
            Pending::Bootstrap { enable } => self.on_bootstrap(now, sent_for, enable, body),
            Pending::SyncOffer => self.on_sync_offer(now, sent_for, body),
            Pending::SyncSend => self.on_sync_send(now, sent_for, body),
        };
        match result {
            Err(f) => self.fail(now, sent_for, f),
            // An offer answered with our own head completes the exchange too.
            Ok(()) if completes || self.in_flight.is_none() => {
                self.last_successful_sync = Some(now)
            }
            Ok(()) => {}
        }
    }

    pub(super) fn on_bootstrap(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        enable: bool,
        body: &[u8],
    ) -> Result<(), Failure> {
        let resp = wire::parse_response::<wire::BootstrapRequest>(body).map_err(|e| {
            Failure::Transient(self.failing_issue(), format!("bootstrap response: {e}"))
        })?;
        if enable {
            if self.authority.is_some() {
                return Ok(());
            }
            self.bootstrap_from(now, &resp.genesis_aum)
        } else {
            let Some(a) = &self.authority else {
                return Ok(());
            };
            if !resp.disablement_secret.is_empty() && a.valid_disablement(&resp.disablement_secret)
            {
                self.remove_authority();
                self.health.remove(&HealthIssue::DisablementRejected);
                self.log(
                    Level::Info,
                    "tailnet lock disabled by a valid disablement secret".into(),
                );
                self.settled_for = sent_for;
                Ok(())
            } else {
                // Retried with backoff (bounded): control may yet send the
                // right secret, and a wrong one changes nothing.
                Err(Failure::Transient(
                    HealthIssue::DisablementRejected,
                    "Disablement failed, leaving TKA enabled. Error: incorrect disablement secret"
                        .into(),
                ))
            }
        }
    }

    pub(super) fn bootstrap_from(
        &mut self,
        now: Time,
        genesis_bytes: &[u8],
    ) -> Result<(), Failure> {
        let transient = |why: String| Failure::Transient(HealthIssue::BootstrapFailing, why);
        if genesis_bytes.is_empty() {
            return Err(transient("bootstrap response has no genesis AUM".into()));
        }
        let genesis = Aum::from_cbor(genesis_bytes)
            .map_err(|e| transient(format!("reading genesis: {e}")))?;
        if let Some(st) = &genesis.state {
            if self.disallowed.contains(&(st.state_id1, st.state_id2)) {
                return Err(Failure::Terminal(
                    HealthIssue::StateIdDisallowed,
                    format!(
                        "TKA with stateID of \"{}:{}\" is disallowed on this node",
                        st.state_id1, st.state_id2
                    ),
                ));
            }
        }
        let mut fresh = MemStorage::new();
        let mut rec = Recording::new(&mut fresh);
        let a = Authority::bootstrap(&mut rec, genesis, now.unix_secs())
            .map_err(|e| transient(format!("tka bootstrap: {e}")))?;
        let delta = rec.delta;
        if !self.storage.is_empty() {
            // Stored AUMs that could not be opened: the embedder must drop
            // them too, or its store would not reopen to this authority.
            self.save(Action::RemoveAllState);
            self.health.remove(&HealthIssue::StorageUnreadable);
        }
        self.storage = fresh;
        self.save(Action::Persist(delta));
        self.actions.push_back(Action::AuthorityInstalled {
            head: a.head(),
            keys: a.keys().to_vec(),
            source: AuthoritySource::Bootstrapped,
        });
        self.authority = Some(a);
        self.just_enabled = true;
        self.health.remove(&HealthIssue::NoAuthority);
        self.health.remove(&HealthIssue::StateIdDisallowed);
        self.succeed();
        self.reevaluate();
        self.check_self();
        Ok(())
    }

    pub(super) fn on_sync_offer(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        body: &[u8],
    ) -> Result<(), Failure> {
        let transient = |why: String| Failure::Transient(HealthIssue::SyncFailing, why);
        // One budget for the body and the AUMs it lists (4 bytes per body
        // byte + 256 KiB, see `DecodeBudget`).
        let mut budget = crate::limits::DecodeBudget::for_input(body.len());
        let resp = wire::parse_response_within::<wire::SyncOfferRequest>(body, &mut budget)
            .map_err(|e| transient(format!("offer RPC: {e}")))?;
        let Some(a) = self.authority.as_mut() else {
            return Ok(());
        };
        let control_offer = SyncOffer {
            head: resp.head,
            ancestors: resp.ancestors.unwrap_or_default(),
        };
        self.just_enabled = false;
        if control_offer.head == a.head() {
            self.settled_for = sent_for;
            self.succeed();
            return Ok(());
        }
        // What control lacks is computed before anything is applied.
        let to_send = match a.missing_aums(&self.storage, &control_offer) {
            Ok(v) => v.unwrap_or_default(),
            Err(crate::error::SyncError::NoIntersection) => {
                return Err(Failure::Terminal(
                    HealthIssue::NoIntersection,
                    "computing missing AUMs: no intersection with control's chain".into(),
                ))
            }
            Err(e) => return Err(transient(format!("computing missing AUMs: {e}"))),
        };
        let missing = resp.missing_aums.unwrap_or_default();
        if !missing.is_empty() {
            // Not sized by control's count; each AUM is checked as decoded
            // (see `refuse_before_inform`) and moved, not copied, to inform.
            let mut aums = Vec::new();
            for (i, b) in missing.iter().enumerate() {
                let aum = crate::storage::StoredAum::decode_within(b, &mut budget)
                    .map_err(|e| transient(format!("MissingAUMs[{i}]: {e}")))?;
                crate::sync::refuse_before_inform(i, aum.aum())
                    .map_err(|e| transient(format!("inform failed: {e}")))?;
                aums.push(aum);
            }
            drop(missing);
            let before = a.head();
            let mut rec = Recording::new(&mut self.storage);
            let informed = a.inform_stored(&mut rec, aums, now.unix_secs());
            let delta = rec.delta;
            if let Err(e) = informed {
                let unrelated = matches!(
                    e,
                    AuthorityError::UpdateState { .. } | AuthorityError::UpdateMissingParent(_)
                );
                let why = format!("inform failed: {e}");
                return Err(if unrelated {
                    Failure::Terminal(HealthIssue::UnrelatedChain, why)
                } else {
                    transient(why)
                });
            }
            if !delta.is_empty() {
                self.unconfirmed_save = true;
                self.actions.push_back(Action::Persist(delta));
            }
            if a.head() != before {
                let (head, keys) = (a.head(), a.keys().to_vec());
                self.actions
                    .push_back(Action::AuthorityChanged { head, keys });
                self.reevaluate();
                self.check_self();
            }
        }
        let Some(a) = self.authority.as_ref() else {
            return Ok(());
        };
        let req = wire::SyncSendRequest {
            version: self.config.capability_version,
            node_key: self.config.node_key,
            head: a.head(),
            missing_aums: Some(to_send.iter().map(|s| s.aum().to_cbor()).collect()),
            interactive: false,
        };
        self.send(
            now,
            sent_for,
            Pending::SyncSend,
            Path::SyncSend,
            req.to_json(),
        );
        Ok(())
    }

    pub(super) fn on_sync_send(
        &mut self,
        now: Time,
        sent_for: Option<ControlState>,
        body: &[u8],
    ) -> Result<(), Failure> {
        let resp = wire::parse_response::<wire::SyncSendRequest>(body)
            .map_err(|e| Failure::Transient(HealthIssue::SyncFailing, format!("send RPC: {e}")))?;
        let Some(a) = self.authority.as_mut() else {
            return Ok(());
        };
        let desync = (resp.head != a.head()).then(|| {
            format!(
                "TKA desync: expected consensus after sync but our head is {} and the control plane's is {}",
                a.head(),
                resp.head
            )
        });
        let mut rec = Recording::new(&mut self.storage);
        let compacted = a.compact(&mut rec, now.unix_secs(), self.config.compaction);
        let delta = rec.delta;
        if let Err(e) = compacted {
            self.log(Level::Warn, format!("tka compact: {e}"));
        } else if !delta.is_empty() {
            self.save(Action::Persist(delta));
        }
        if let Some(msg) = desync {
            // Not an error for Go either, but Go syncs again at the next
            // netmap since its head still differs; retrying with backoff
            // does the same here instead of settling silently behind.
            return Err(Failure::Transient(HealthIssue::SyncFailing, msg));
        }
        self.settled_for = sent_for;
        self.succeed();
        Ok(())
    }

    pub(super) fn remove_authority(&mut self) {
        self.authority = None;
        self.storage = MemStorage::new();
        self.just_enabled = false;
        self.save(Action::RemoveAllState);
        self.actions.push_back(Action::AuthorityRemoved);
        self.health.remove(&HealthIssue::LockedOut);
        self.reevaluate();
    }

    pub(super) fn local_disable(&mut self) {
        let Some(a) = &self.authority else { return };
        let ids = a.state_ids();
        if !self.disallowed.contains(&ids) {
            self.disallowed.push(ids);
        }
        self.save(Action::PersistDisallowedStateIds(self.disallowed.clone()));
        self.log(
            Level::Warn,
            format!(
                "tailnet lock locally disabled for state {}:{}",
                ids.0, ids.1
            ),
        );
        self.remove_authority();
    }
}
