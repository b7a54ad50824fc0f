//! Unit tests for the wire messages.

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
    let b = BootstrapResponse::from_json(br#"{"GenesisAUM":"","DisablementSecret":null}"#).unwrap();
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
    let r = SubmitSignatureRequest::from_json("{\"\u{17F}ignature\":\"AQ==\"}".as_bytes()).unwrap();
    assert_eq!(r.signature, Some(vec![1]));
    // Other non-ASCII look-alikes do not match.
    let r = SubmitSignatureRequest::from_json("{\"S\u{131}gnature\":\"AQ==\"}".as_bytes()).unwrap();
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
    let r = MapResponseTka::from_json(br#"{"TKAInfo":{"Disabled":true},"TKAInfo":null}"#).unwrap();
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
