//! The lifecycle, step by step: each step acts (an operator command run
//! as a `tka::admin` flow over HTTP, a netmap from control, a mode change,
//! a restart), waits for every node to reach the state it should, and says
//! what happened and why.

use super::out::Out;
use super::tailnet::{describe, random32, short, Tailnet};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tka::admin::{
    cosign_recovery, generate_recovery, AdminError, Disable, Init, InitRandom, Modify, SignNode,
    SubmitRecovery,
};
use tka::machine::{Mode, NodeId};
use tka::{AumHash, Authority, NlPrivate, NodeKey, NodeKeySignature};
use tka_node::admin::run as operate;
use tka_node::DirStore;

/// The nodes the demo runs.
const ALL: [&str; 3] = ["alice", "bob", "carol"];
const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;

const MALLORY: NodeId = 101;
const COPYCAT: NodeId = 102;
const EVE: NodeId = 103;
const DAVE: NodeId = 4;
const TRUDY: NodeId = 5;

const BOOTSTRAP: &str = "/machine/tka/bootstrap";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn ctx<E: Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn open(store: &DirStore, who: &str) -> Result<Authority, String> {
    Authority::open(store).map_err(|e| format!("opening {who}'s authority: {e}"))
}

fn hex8(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&b[..4])
}

/// One `ok` line per distinct verdict the running nodes gave peer `id`.
fn report(out: &mut Out, net: &Tailnet, id: NodeId) {
    let mut groups: Vec<([String; 2], Vec<&str>)> = Vec::new();
    for (who, v) in net.verdicts_on(id) {
        let d = describe(&v);
        match groups.iter_mut().find(|g| g.0 == d) {
            Some(g) => g.1.push(who),
            None => groups.push((d, vec![who])),
        }
    }
    for ([word, why], who) in groups {
        let word = if word == "admitted" {
            out.good(word)
        } else {
            out.bad(word)
        };
        let line = format!(
            "{} {word} by {}: {why}",
            out.name(net.name(id)),
            out.names(who)
        );
        out.ok(line);
    }
}

fn requests_text(r: &BTreeMap<&'static str, u32>) -> String {
    if r.is_empty() {
        return "no request".into();
    }
    r.iter()
        .map(|(p, n)| format!("{n} {}", p.trim_start_matches("/machine/tka/")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the steps share: the tailnet, the output, the verdicts expected
/// of the nodes now, and what earlier steps produced.
struct Story<'o> {
    net: Tailnet,
    out: &'o mut Out,
    /// The head every node should have.
    head: Option<AumHash>,
    /// The peers the nodes should refuse, with the verdict kind.
    bad: BTreeMap<NodeId, &'static str>,
    secrets: Vec<[u8; 32]>,
}

/// Runs the lifecycle in `dir`.
pub async fn run(dir: &Path, out: &mut Out) -> Result<(), String> {
    let net = Tailnet::start(dir, &ALL).await?;
    let mut s = Story {
        net,
        out,
        head: None,
        bad: BTreeMap::new(),
        secrets: vec![random32(), random32()],
    };
    s.lock_off(dir).await?;
    s.init().await?;
    s.lying_control().await?;
    s.enforce().await?;
    let fork_point = s.add_keys_and_sign().await?;
    s.restart_from_disk().await?;
    let evil = s.steal_carols_key().await?;
    s.revoke(fork_point, &evil).await?;
    s.disable().await?;
    s.stores_empty().await
}

impl Story<'_> {
    /// Sends every node its netmap and waits for the expected state.
    async fn netmaps(&mut self) -> Result<(), String> {
        self.net.push_netmaps().await?;
        self.settle().await
    }

    async fn settle(&self) -> Result<(), String> {
        self.net.settle(self.head, &self.bad).await
    }

    fn report(&mut self, id: NodeId) {
        report(self.out, &self.net, id);
    }

    /// Step 1: Control and the nodes start; no lock.
    async fn lock_off(&mut self, dir: &Path) -> Result<(), String> {
        let (net, out) = (&self.net, &mut *self.out);
        out.step(1, "Control and three nodes start; the lock is off");
        out.fact(
            "control",
            format!(
                "{} (tka-control standalone, SQLite {})",
                net.url(),
                dir.join("control.sqlite").display()
            ),
        );
        for m in &net.members {
            out.fact(
                m.name,
                format!(
                    "node key {}, lock key {}, store {}, observe mode",
                    out.hash(format!("nodekey:{}…", hex8(&m.node_key.0))),
                    out.hash(format!("tlpub:{}…", hex8(&m.lock_key.public().0))),
                    m.dir.display()
                ),
            );
        }
        self.netmaps().await?;
        let line = format!(
            "{} admit each other: the lock is off, peers are not filtered",
            self.out.names(ALL)
        );
        self.out.ok(line);
        Ok(())
    }

    /// Step 2: `tka init`: alice's key trusted, two disablement secrets.
    async fn init(&mut self) -> Result<(), String> {
        self.out.step(
            2,
            "alice initialises the lock, trusting her key (tka init --gen-disablements 2)",
        );
        let alice = &self.net.members[ALICE];
        let init = Init::new(
            alice.identity(),
            false,
            vec![alice.lock_key.to_key(1)],
            Vec::new(),
            InitRandom {
                state_ids: crate::offline::random_bytes::<16>(),
                secrets: self.secrets.clone(),
                support: None,
            },
            now_secs(),
        )
        .map_err(ctx("init"))?;
        let outcome = operate(init, self.net.operator())
            .await
            .map_err(ctx("init"))?;
        let genesis = outcome.genesis.hash();
        let out = &mut *self.out;
        out.fact(
            "genesis",
            format!(
                "{} trusts alice's key; disablement secrets {}… and {}… (kept offline in real use)",
                out.hash(short(&genesis)),
                out.hash(hex8(&self.secrets[0])),
                out.hash(hex8(&self.secrets[1]))
            ),
        );
        let signed: Vec<&str> = outcome
            .signed
            .iter()
            .map(|(id, _)| self.net.name(*id))
            .collect();
        out.fact(
            "signed",
            format!(
                "{} by alice's key (every node control listed in init/begin)",
                out.names(signed.iter().copied())
            ),
        );
        expect(signed.len() == 3, || {
            format!("init signed {} nodes, expected 3", signed.len())
        })?;
        self.head = Some(genesis);
        self.netmaps().await?;
        let line = format!(
            "{} bootstrapped from control: head {}; every peer's signature verifies",
            self.out.names(ALL),
            self.out.hash(short(&genesis))
        );
        self.out.ok(line);
        Ok(())
    }

    /// Step 3: Peers a lying control adds: in observe mode, "would be refused".
    async fn lying_control(&mut self) -> Result<(), String> {
        self.out.step(
            3,
            "A lying control slips three peers into every netmap (nodes still in observe mode)",
        );
        let net = &mut self.net;
        let stranger = NlPrivate::from_seed(&random32());
        let mallory = NodeKey(random32());
        let forged = NodeKeySignature::sign_direct(&stranger, &mallory, None)
            .map_err(ctx("signing mallory"))?
            .to_cbor();
        net.inject("mallory", MALLORY, mallory, forged);
        let bob_sig = net
            .stored_signature(&net.members[BOB].node_key)
            .await?
            .ok_or("control has no signature for bob")?;
        net.inject("copycat", COPYCAT, NodeKey(random32()), bob_sig);
        net.inject("eve", EVE, NodeKey(random32()), Vec::new());
        let hidden = net.hidden_by_control().await?;
        let out = &mut *self.out;
        out.fact("mallory", "signed by a lock key the lock does not trust");
        out.fact(
            "copycat",
            "carries bob's signature, which names bob's node key",
        );
        out.fact("eve", "no signature at all");
        out.fact(
            "control",
            format!(
                "its own filter (peer_views) would hide {}; this one sends them anyway",
                out.names(hidden)
            ),
        );
        self.bad.insert(MALLORY, "invalid_signature");
        self.bad.insert(COPYCAT, "invalid_signature");
        self.bad.insert(EVE, "missing_signature");
        self.netmaps().await?;
        for id in [MALLORY, COPYCAT, EVE] {
            self.report(id);
        }
        Ok(())
    }

    /// Step 4: Enforce mode: refused.
    async fn enforce(&mut self) -> Result<(), String> {
        self.out.step(4, "Every node switches to enforce mode");
        self.net.set_mode(Mode::Enforce).await?;
        self.settle().await?;
        for id in [MALLORY, COPYCAT, EVE] {
            self.report(id);
        }
        let line = format!("{} still admit each other", self.out.names(ALL));
        self.out.ok(line);
        Ok(())
    }

    /// Step 5: `tka add` of bob's and carol's keys, `tka sign` of dave by bob.
    /// Returns the update adding bob's key.
    async fn add_keys_and_sign(&mut self) -> Result<AumHash, String> {
        self.out.step(
            5,
            "alice adds bob's and carol's lock keys (tka add); bob signs a new node, dave (tka sign)",
        );
        let net = &mut self.net;
        let store = net.stop(ALICE).await?;
        let a = open(&store, "alice")?;
        let m = &net.members;
        let add = Modify::new(
            m[ALICE].identity(),
            Some(&a),
            &store,
            &[m[BOB].lock_key.to_key(1), m[CAROL].lock_key.to_key(1)],
            &[],
        )
        .map_err(ctx("add"))?;
        let updates = operate(add, net.operator()).await.map_err(ctx("add"))?;
        drop(store);
        net.restart(ALICE)?;
        let [add_bob, add_carol] = updates[..] else {
            return Err(format!("add made {} updates, expected 2", updates.len()));
        };
        let out = &mut *self.out;
        out.fact(
            "updates",
            format!(
                "{} adds bob's key, {} adds carol's key (alice's node stopped for the command, then restarted from disk)",
                out.hash(short(&add_bob)),
                out.hash(short(&add_carol))
            ),
        );
        let dave = NodeKey(random32());
        self.net.register("dave", DAVE, dave, None).await?;
        self.head = Some(add_carol);
        self.netmaps().await?;
        let line = format!(
            "{} synced to head {}",
            self.out.names(ALL),
            self.out.hash(short(&add_carol))
        );
        self.out.ok(line);

        let net = &mut self.net;
        let store = net.stop(BOB).await?;
        let b = open(&store, "bob")?;
        let sign = SignNode::new(net.members[BOB].identity(), Some(&b), &dave, None)
            .map_err(ctx("sign"))?;
        operate(sign, net.operator()).await.map_err(ctx("sign"))?;
        drop(store);
        net.restart(BOB)?;
        self.out.fact(
            "signed",
            "dave, by bob's key (control checked the signature before storing it)",
        );
        self.netmaps().await?;
        self.report(DAVE);
        Ok(add_bob)
    }

    /// Step 6: A node restarted from its store: its head comes from disk, and
    /// it does not bootstrap again.
    async fn restart_from_disk(&mut self) -> Result<(), String> {
        self.out.step(
            6,
            "carol's node stops and starts again from its store on disk",
        );
        let net = &mut self.net;
        let store = net.stop(CAROL).await?;
        let (stored, mode) = (store.len(), store.mode());
        drop(store);
        net.restart(CAROL)?;
        let carol = &net.members[CAROL];
        self.out.fact(
            "on disk",
            format!(
                "{stored} AUMs and mode {} in {}",
                mode.map_or("none".into(), |m| m.to_string()),
                carol.dir.display()
            ),
        );
        let h = *carol.handle()?.head().borrow();
        let want = self.head;
        expect(h == want, || {
            format!(
                "carol's head after the restart is {}, expected {}",
                h.map_or("none".into(), |h| short(&h)),
                want.map_or("none".into(), |h| short(&h)),
            )
        })?;
        let line = format!(
            "carol's head right after the restart, before any netmap: {} (read from disk)",
            self.out.hash(h.map_or("none".into(), |h| short(&h)))
        );
        self.out.ok(line);
        self.netmaps().await?;
        let carol = &self.net.members[CAROL];
        let sent = carol.requests();
        expect(!sent.contains_key(BOOTSTRAP), || {
            format!("carol bootstrapped again after the restart ({sent:?})")
        })?;
        expect(carol.handle()?.current_mode() == Mode::Enforce, || {
            "carol's mode after the restart is not enforce".into()
        })?;
        self.out.ok(format!(
            "no new bootstrap: since the restart carol sent {}; still in enforce mode, mallory, copycat and eve still refused",
            requests_text(&sent)
        ));
        Ok(())
    }

    /// Step 7: An attacker with carol's lock key adds its own key and signs a
    /// node. Returns the attacker's key.
    async fn steal_carols_key(&mut self) -> Result<NlPrivate, String> {
        self.out.step(
            7,
            "carol's lock key is stolen: the attacker adds a key of its own and signs a node, trudy",
        );
        let net = &mut self.net;
        let evil = NlPrivate::from_seed(&random32());
        let trudy = NodeKey(random32());
        net.register("trudy", TRUDY, trudy, None).await?;
        let store = net.stop(CAROL).await?;
        let c = open(&store, "carol")?;
        let carol = net.members[CAROL].identity();
        let add = Modify::new(carol.clone(), Some(&c), &store, &[evil.to_key(1)], &[])
            .map_err(ctx("attacker's add"))?;
        let updates = operate(add, net.operator())
            .await
            .map_err(ctx("attacker's add"))?;
        let sign = SignNode::new(carol, Some(&c), &trudy, None).map_err(ctx("attacker's sign"))?;
        let trudy_sig = operate(sign, net.operator())
            .await
            .map_err(ctx("attacker's sign"))?;
        drop(store);
        net.restart(CAROL)?;
        // Once control stops sending trudy, the lying control keeps on.
        net.inject("trudy", TRUDY, trudy, trudy_sig);
        let head = *updates.last().ok_or("the attacker's add made no update")?;
        let out = &mut *self.out;
        out.fact(
            "update",
            format!(
                "{} adds the attacker's key {}, signed with carol's key",
                out.hash(short(&head)),
                out.hash(format!("tlpub:{}…", hex8(&evil.public().0)))
            ),
        );
        out.fact("signed", "trudy, by carol's key");
        self.head = Some(head);
        self.netmaps().await?;
        self.report(TRUDY);
        self.out.fact(
            "why",
            "removing carol's key (tka remove) would leave the attacker's key trusted: revoke both",
        );
        Ok(evil)
    }

    /// Step 8: `tka revoke-keys`: a recovery checkpoint forking at
    /// `fork_point`, generated by alice, cosigned by bob, submitted.
    async fn revoke(&mut self, fork_point: AumHash, evil: &NlPrivate) -> Result<(), String> {
        self.out.step(
            8,
            "alice and bob revoke carol's and the attacker's keys (tka revoke-keys)",
        );
        let net = &mut self.net;
        let revoke = vec![
            net.members[CAROL].lock_key.public().0.to_vec(),
            evil.public().0.to_vec(),
        ];
        let store_a = net.stop(ALICE).await?;
        let a = open(&store_a, "alice")?;
        let aum = generate_recovery(
            Some(&a),
            &store_a,
            &net.members[ALICE].lock_key,
            &revoke,
            None,
        )
        .map_err(ctx("revoke-keys"))?;
        let fork = aum.parent().ok_or("the recovery AUM has no parent")?;
        expect(fork == fork_point, || {
            format!(
                "the recovery forks from {}, expected {} (the last update before carol's key)",
                short(&fork),
                short(&fork_point)
            )
        })?;
        self.out.fact(
            "recovery",
            format!(
                "a checkpoint of the current state without either key, forking the chain at {} (the newest update that trusts neither), signed by alice",
                self.out.hash(short(&fork))
            ),
        );
        let store_b = net.stop(BOB).await?;
        let b = open(&store_b, "bob")?;
        let aum = cosign_recovery(Some(&b), aum, &net.members[BOB].lock_key)
            .map_err(ctx("revoke-keys --cosign"))?;
        drop(store_b);
        net.restart(BOB)?;
        self.out.fact(
            "cosigned",
            format!(
                "by bob (tka revoke-keys --cosign): {}, 2 votes against the 1 of carol's key at the fork",
                self.out.hash(short(&aum.hash()))
            ),
        );
        let submit = SubmitRecovery::new(net.members[ALICE].identity(), Some(&a), aum.clone())
            .map_err(ctx("revoke-keys --finish"))?;
        let head = operate(submit, net.operator())
            .await
            .map_err(ctx("revoke-keys --finish"))?;
        drop(store_a);
        net.restart(ALICE)?;
        let recovery = aum.hash();
        let at_control = net.control_head().await?;
        expect(head == recovery && at_control == Some(recovery), || {
            format!(
                "control's head after the recovery is {}, expected {}",
                short(&head),
                short(&recovery)
            )
        })?;
        self.out.ok(format!(
            "control's head is now {}: the recovery won fork choice (tka revoke-keys --finish)",
            self.out.hash(short(&recovery))
        ));
        let keys = net.control_keys().await?;
        let trusted: Vec<&str> = net
            .members
            .iter()
            .filter(|m| keys.contains(&m.lock_key.public().0))
            .map(|m| m.name)
            .collect();
        expect(trusted == ["alice", "bob"] && keys.len() == 2, || {
            format!(
                "control trusts {} keys ({trusted:?}), expected alice's and bob's",
                keys.len()
            )
        })?;
        let out = &mut *self.out;
        let line = format!(
            "trusted keys now: {}'s and {}'s",
            out.name("alice"),
            out.name("bob")
        );
        out.ok(line);
        out.fact(
            "control",
            format!(
                "now hides {} itself; the lying control still sends it with carol's signature",
                out.name("trudy")
            ),
        );
        self.head = Some(recovery);
        self.bad.insert(TRUDY, "invalid_signature");
        self.netmaps().await?;
        self.report(TRUDY);
        self.report(DAVE);
        Ok(())
    }

    /// Step 9: `tka disable`: a wrong secret refused locally, then the lock off
    /// on every node.
    async fn disable(&mut self) -> Result<(), String> {
        self.out.step(
            9,
            "alice disables the lock with a disablement secret (tka disable)",
        );
        let net = &mut self.net;
        let store = net.stop(ALICE).await?;
        let a = open(&store, "alice")?;
        let alice = net.members[ALICE].identity();
        match Disable::new(alice.clone(), Some(&a), random32().to_vec()) {
            Err(e @ AdminError::IncorrectSecret) => {
                let line = format!(
                    "a wrong secret is {} on alice's node before anything is sent: {e}",
                    self.out.bad("refused")
                );
                self.out.ok(line);
            }
            Err(e) => return Err(format!("disable with a wrong secret: {e}")),
            Ok(_) => return Err("disable accepted a wrong secret".into()),
        }
        let disable =
            Disable::new(alice, Some(&a), self.secrets[0].to_vec()).map_err(ctx("disable"))?;
        operate(disable, net.operator())
            .await
            .map_err(ctx("disable"))?;
        drop(store);
        net.restart(ALICE)?;
        let info = net.tka_info().await?;
        expect(info.as_ref().is_some_and(|i| i.disabled), || {
            "control does not report the lock disabled".into()
        })?;
        self.out
            .ok("control accepted the first secret; its TKAInfo now says disabled");
        self.head = None;
        self.bad.clear();
        self.netmaps().await?;
        let line = format!(
            "{} fetched the secret, checked it against their disablement values and dropped the lock: no head, every peer admitted unfiltered (mallory, copycat, eve, dave, trudy too)",
            self.out.names(ALL)
        );
        self.out.ok(line);
        Ok(())
    }

    /// Stops everything; every node's store on disk must be empty.
    async fn stores_empty(self) -> Result<(), String> {
        for (name, store) in self.net.shutdown().await? {
            let dir = store.dir().to_path_buf();
            drop(store);
            let again =
                DirStore::open(&dir).map_err(|e| format!("reopening {name}'s store: {e}"))?;
            expect(again.is_empty(), || {
                format!("{name}'s store still holds {} AUMs", again.len())
            })?;
        }
        let line = format!(
            "the stores of {} on disk are empty: the lock is off on every node",
            self.out.names(ALL)
        );
        self.out.ok(line);
        Ok(())
    }
}
