//! [`check_control`]: a hostile node drives [`ControlResponder::handle`]
//! with arbitrary paths and bodies.

use super::world::{Cursor, Pool, SECRETS, WORLD};
use crate::control::{ControlError, ControlResponder};
use crate::storage::MemStorage;
use crate::wire::{self, FromWire, Path, ToWire};
use crate::Authority;

/// Most requests one input makes.
const MAX_STEPS: usize = 128;

/// Runs the request program in `data` against a responder over genesis A
/// (or a disabled one) and panics when a property is violated:
///
/// * `handle` never panics;
/// * an answer parses with the node's parser for that path
///   ([`wire::parse_response`]) and re-encodes to the same bytes;
/// * only a successful `sync/send` moves control's head;
/// * the stored AUMs reopen ([`Authority::open`]) at control's head and
///   trusted keys.
pub fn check_control(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mut pool = Pool::new();
    let now = 1_700_000_000u64;
    let mut storage = MemStorage::new();
    let mut r = if c.u8() % 8 == 7 {
        ControlResponder::disabled(storage)
    } else {
        let genesis = WORLD.genesis[0].clone();
        Authority::bootstrap(&mut storage, genesis.clone(), now).expect("world genesis");
        ControlResponder::enabled(storage, genesis).expect("bootstrapped storage opens")
    };
    let mut disables = 0;
    for step in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        let op = c.u8();
        let (path, body) = match op % 8 {
            0 => (Path::ALL[c.below(Path::ALL.len())], c.blob().to_vec()),
            1 => {
                let req = wire::BootstrapRequest {
                    version: i64::from(c.u8()),
                    node_key: crate::NodeKey([1; 32]),
                    head: c.bit().then(|| pool.hash(&mut c)),
                };
                (Path::Bootstrap, req.to_json())
            }
            2 => {
                let head = pool.hash(&mut c);
                let n = c.below(6);
                let req = wire::SyncOfferRequest {
                    version: 145,
                    node_key: crate::NodeKey([1; 32]),
                    head,
                    ancestors: Some((0..n).map(|_| pool.hash(&mut c)).collect()),
                };
                (Path::SyncOffer, req.to_json())
            }
            3 | 4 => {
                let head = pool.hash(&mut c);
                let req = wire::SyncSendRequest {
                    version: 145,
                    node_key: crate::NodeKey([1; 32]),
                    head,
                    missing_aums: Some(pool.aum_list(&mut c)),
                    interactive: c.bit(),
                };
                (Path::SyncSend, req.to_json())
            }
            5 => {
                pool.build(&mut c);
                continue;
            }
            6 => {
                pool.variant(&mut c);
                continue;
            }
            _ => {
                // An administrator disables the lock. The KDF is slow (16
                // MiB, tens of milliseconds): once per input, and only
                // behind a magic byte so most inputs stay fast.
                if disables < 1 && c.u8() == 0xd1 {
                    disables += 1;
                    let which = c.below(SECRETS.len() + 1);
                    let secret = SECRETS.get(which).copied().unwrap_or(&b"wrong secret"[..]);
                    // The world's values were derived once: no second KDF run.
                    let valid = match (r.authority(), WORLD.disablement.get(which)) {
                        (Some(a), Some(v)) => a.state().disablement_values().any(|d| d == v),
                        _ => false,
                    };
                    let off = r.disable(secret);
                    assert_eq!(
                        off,
                        valid,
                        "disable({:?}) gave {off}",
                        String::from_utf8_lossy(secret)
                    );
                }
                continue;
            }
        };
        let head_before = r.authority().map(Authority::head);
        let result = r.handle(path, &body, crate::Time::from_unix_secs(now + step as u64));
        let head_after = r.authority().map(Authority::head);
        match &result {
            Ok(resp) => check_response(path, resp),
            Err(ControlError::UnknownPath(p)) => assert_eq!(*p, path),
            Err(_) => {}
        }
        if head_after != head_before {
            assert!(
                path == Path::SyncSend && result.is_ok(),
                "{path} ({result:?}) moved control's head"
            );
        }
        if let Some(a) = r.authority() {
            let reopened = Authority::open(r.storage())
                .unwrap_or_else(|e| panic!("control's store does not reopen: {e}"));
            assert_eq!(
                reopened.head(),
                a.head(),
                "control's store reopens elsewhere"
            );
            assert_eq!(
                reopened.keys(),
                a.keys(),
                "control's store reopens with other keys"
            );
        }
    }
}

/// A response must be what the node parses on that path, and re-encode to
/// the same bytes.
fn check_response(path: Path, body: &[u8]) {
    fn same<T: FromWire + ToWire>(body: &[u8], path: Path) {
        let v = T::from_json_capped(body, path.response_cap())
            .unwrap_or_else(|e| panic!("control's {path} answer does not parse: {e}"));
        assert_eq!(
            v.to_json(),
            body,
            "control's {path} answer is not canonical"
        );
    }
    match path {
        Path::Bootstrap => same::<wire::BootstrapResponse>(body, path),
        Path::SyncOffer => same::<wire::SyncOfferResponse>(body, path),
        Path::SyncSend => same::<wire::SyncSendResponse>(body, path),
        other => panic!("answered an unserved path {other}"),
    }
}
