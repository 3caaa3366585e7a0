use super::*;
use protocol::media_protocol::IceServer;
use rtc_stun::attributes::{ATTR_NONCE, ATTR_REALM};
use rtc_stun::error_code::CODE_UNAUTHORIZED;
use rtc_stun::message::{CLASS_ERROR_RESPONSE, METHOD_ALLOCATE, MessageType};
use rtc_stun::textattrs::TextAttribute;

const LOCAL: &str = "192.0.2.10:50000";
const SERVER: &str = "198.51.100.1:3478";

fn spec(url: &str, user: Option<&str>, pwd: Option<&str>) -> ServerSpec {
    let (mut ok, errors) = server_specs(&[IceServer {
        urls: vec![url.into()],
        username: user.map(Into::into),
        credential: pwd.map(Into::into),
        credential_type: None,
    }]);
    assert!(errors.is_empty(), "{errors:?}");
    ok.remove(0)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Runs timers in virtual time (no server answers) until an event; returns it, the
/// virtual time it took and the number of datagrams sent.
fn silent_server(g: &mut Gatherer, t0: Instant) -> (GatherEvent, Duration, usize) {
    let mut sent = 0;
    let mut now = t0;
    for _ in 0..1000 {
        while g.poll_transmit().is_some() {
            sent += 1;
        }
        if let Some(e) = g.poll_event() {
            return (e, now - t0, sent);
        }
        now = g.poll_timeout().unwrap();
        g.handle_timeout(now);
    }
    panic!("no event");
}

#[test]
fn server_list_errors_name_the_url() {
    let (ok, errors) = server_specs(&[
        IceServer {
            urls: vec![
                "stun:stun.example.org".into(),
                "turn:turn.example.org?transport=tcp".into(),
                "turns:turn.example.org".into(),
                "http://nope".into(),
            ],
            username: Some("u".into()),
            credential: Some("p".into()),
            credential_type: None,
        },
        IceServer {
            urls: vec!["stuns:x".into()],
            username: None,
            credential: None,
            credential_type: None,
        },
    ]);
    assert_eq!(ok.len(), 2);
    assert!(!ok[0].is_turn() && ok[0].transport() == Transport::Udp);
    assert!(ok[1].is_turn() && ok[1].transport() == Transport::Tcp);
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), 3);
    assert!(texts[0].starts_with("turns:turn.example.org: STUN/TURN over TLS"));
    assert!(texts[1].starts_with("http://nope: "));
    assert!(texts[2].starts_with("stuns:x: "));
}

#[test]
fn add_server_refuses_what_cannot_work() {
    let mut g = Gatherer::default();
    let now = Instant::now();
    let e = g
        .add_server(now, &spec("turn:h", None, None), addr(SERVER), addr(LOCAL))
        .unwrap_err();
    assert_eq!(
        e,
        GatherError::NoCredentials {
            url: "turn:h".into()
        }
    );
    let e = g
        .add_server(
            now,
            &spec("stun:h", None, None),
            addr("[2001:db8::1]:3478"),
            addr(LOCAL),
        )
        .unwrap_err();
    assert!(matches!(e, GatherError::Family { .. }), "{e}");
    assert!(!g.is_gathering());
}

#[test]
fn silent_stun_server_times_out_after_the_retransmissions() {
    let t0 = Instant::now();
    let mut g = Gatherer::default();
    let id = g
        .add_server(t0, &spec("stun:h", None, None), addr(SERVER), addr(LOCAL))
        .unwrap();
    let (event, took, sent) = silent_server(&mut g, t0);
    assert_eq!(
        event,
        GatherEvent::Failed {
            server: id,
            error: GatherError::Timeout {
                url: "stun:h".into(),
                server: addr(SERVER)
            }
        }
    );
    // 7 requests; RTO 200 ms doubling to 1.6 s: 0.2+0.4+0.8+1.6·4 = 7.8 s.
    assert_eq!(sent, 7);
    assert_eq!(took, Duration::from_millis(7800));
    assert!(!g.is_gathering());
    assert_eq!(g.poll_timeout(), None);
}

#[test]
fn silent_turn_server_times_out() {
    let t0 = Instant::now();
    let mut g = Gatherer::default();
    let id = g
        .add_server(
            t0,
            &spec("turn:h", Some("u"), Some("p")),
            addr(SERVER),
            addr(LOCAL),
        )
        .unwrap();
    let (event, _, _) = silent_server(&mut g, t0);
    assert!(
        matches!(&event, GatherEvent::Failed { server, error: GatherError::Timeout { .. } } if *server == id),
        "{event:?}"
    );
    assert!(!g.is_gathering());
}

/// A scripted TURN server's answer to the Allocate `req`: an error with `code` (and
/// realm and nonce when `challenge`), or a bare success response.
fn answer(req: &[u8], code: Option<rtc_stun::error_code::ErrorCode>, challenge: bool) -> Vec<u8> {
    let mut m = Message::new();
    m.raw = req.to_vec();
    m.decode().unwrap();
    let class = if code.is_some() {
        CLASS_ERROR_RESPONSE
    } else {
        rtc_stun::message::CLASS_SUCCESS_RESPONSE
    };
    let mut attrs: Vec<Box<dyn rtc_stun::message::Setter>> = vec![
        Box::new(m.clone()),
        Box::new(MessageType::new(METHOD_ALLOCATE, class)),
    ];
    if let Some(code) = code {
        attrs.push(Box::new(code));
    }
    if challenge {
        attrs.push(Box::new(TextAttribute::new(ATTR_REALM, "test".into())));
        attrs.push(Box::new(TextAttribute::new(ATTR_NONCE, "n0nce".into())));
    }
    let mut r = Message::new();
    r.build(&attrs).unwrap();
    r.raw
}

fn next_allocate(g: &mut Gatherer) -> Transmit {
    std::iter::from_fn(|| g.poll_transmit())
        .find(|t| {
            let mut m = Message::new();
            m.raw = t.data.to_vec();
            m.decode().is_ok() && m.typ.method == METHOD_ALLOCATE
        })
        .unwrap()
}

/// The long-term credential dance (RFC 5389 §10.2.2) with a scripted server: the first
/// 401 brings realm and nonce, the authenticated retry's 401 means wrong credentials.
#[test]
fn second_401_is_unauthorized() {
    let t0 = Instant::now();
    let mut g = Gatherer::default();
    let s = spec("turn:h", Some("alice"), Some("bad"));
    let id = g.add_server(t0, &s, addr(SERVER), addr(LOCAL)).unwrap();
    let first = next_allocate(&mut g);
    let challenge = answer(&first.data, Some(CODE_UNAUTHORIZED), true);
    assert_eq!(
        g.handle_input(t0, addr(LOCAL), addr(SERVER), &challenge),
        Input::Consumed
    );
    let retry = next_allocate(&mut g);
    assert_ne!(retry.data, first.data);
    assert_eq!(g.poll_event(), None);
    let refused = answer(&retry.data, Some(CODE_UNAUTHORIZED), false);
    g.handle_input(t0, addr(LOCAL), addr(SERVER), &refused);
    assert_eq!(
        g.poll_event(),
        Some(GatherEvent::Failed {
            server: id,
            error: GatherError::Unauthorized {
                url: "turn:h".into(),
                server: addr(SERVER),
                user: "alice".into()
            }
        })
    );
}

/// A success without XOR-RELAYED-ADDRESS ends gathering with an error, not a hang.
#[test]
fn unusable_allocate_success_fails_the_server() {
    let t0 = Instant::now();
    let mut g = Gatherer::default();
    let s = spec("turn:h", Some("u"), Some("p"));
    let id = g.add_server(t0, &s, addr(SERVER), addr(LOCAL)).unwrap();
    let first = next_allocate(&mut g);
    let challenge = answer(&first.data, Some(CODE_UNAUTHORIZED), true);
    g.handle_input(t0, addr(LOCAL), addr(SERVER), &challenge);
    let retry = next_allocate(&mut g);
    g.handle_input(
        t0,
        addr(LOCAL),
        addr(SERVER),
        &answer(&retry.data, None, false),
    );
    match g.poll_event() {
        Some(GatherEvent::Failed {
            server,
            error: GatherError::Rejected { reason, .. },
        }) if server == id => {
            assert!(reason.starts_with("unusable Allocate response"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!g.is_gathering());
}

#[test]
fn foreign_and_hostile_input_is_harmless() {
    let t0 = Instant::now();
    let mut g = Gatherer::default();
    g.add_server(
        t0,
        &spec("turn:h", Some("u"), Some("p")),
        addr(SERVER),
        addr(LOCAL),
    )
    .unwrap();
    assert_eq!(
        g.handle_input(t0, addr(LOCAL), addr("203.0.113.1:9"), b"rtp"),
        Input::NotMine
    );
    assert_eq!(
        g.handle_input(t0, addr("192.0.2.11:1"), addr(SERVER), b"x"),
        Input::NotMine
    );
    let mut stun_header = vec![0x01, 0x13, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42];
    stun_header.extend_from_slice(&[7; 12]);
    let junk: [&[u8]; 6] = [
        b"",
        &[0x40, 0x00, 0xff, 0xff, 1],
        &[0x7f, 0xff, 0x00, 0x00],
        &stun_header,
        &[0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42],
        &[0xff; 64],
    ];
    for j in junk {
        assert_ne!(
            g.handle_input(t0, addr(LOCAL), addr(SERVER), j),
            Input::NotMine
        );
    }
    // The server is still being asked: junk did not end anything.
    assert!(g.is_gathering());
    assert_eq!(
        g.send(t0, addr("198.51.100.1:50000"), addr(LOCAL), b"x"),
        Err(GatherError::NotARelay {
            addr: addr("198.51.100.1:50000")
        })
    );
    // A TCP stream that is not TURN (first two bits 1x) fails that server.
    let mut t = Gatherer::default();
    let id = t
        .add_server(
            t0,
            &spec("turn:h?transport=tcp", Some("u"), Some("p")),
            addr(SERVER),
            addr(LOCAL),
        )
        .unwrap();
    assert_eq!(
        t.handle_stream(t0, addr(LOCAL), addr(SERVER), &[0xde, 0xad, 0xbe, 0xef]),
        Some(Vec::new())
    );
    assert!(matches!(
        t.poll_event(),
        Some(GatherEvent::Failed { server, error: GatherError::Stream { .. } }) if server == id
    ));
    assert_eq!(
        t.handle_stream(t0, addr(LOCAL), addr(SERVER), b"more"),
        None
    );
}
