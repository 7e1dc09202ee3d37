//! HTTP proxy requests: the head, its target, framing and credentials, then the body after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_http::proto::{
    BodyProgress, ConnectionOptions, Framing, MAX_HEAD, RequestHead, ResponseHead,
    basic_credentials, connect_destination, forward_target,
};

fuzz_target!(|data: &[u8]| {
    // The same bytes as a response head: the incremental contract, nothing more.
    check_incremental(data, MAX_HEAD, ResponseHead::parse);
    let Some((head, used)) = check_incremental(data, MAX_HEAD, RequestHead::parse) else {
        return;
    };
    let mut wire = Vec::new();
    head.write_to_buf(&mut wire);
    assert_eq!(
        RequestHead::parse(&wire),
        Ok(Some((head.clone(), wire.len()))),
        "re-encoded head"
    );
    let options = ConnectionOptions::of(&head.headers);
    let _ = options.keep_alive(head.version);
    if let Some(value) = head.header("proxy-authorization") {
        let _ = basic_credentials(value);
    }
    if head.is_connect() {
        if let Ok(destination) = connect_destination(&head.target) {
            assert_ne!(destination.port(), 0);
        }
        return;
    }
    if let Ok(target) = forward_target(&head.target, head.header("host")) {
        assert!(target.path.starts_with('/') && !target.path.contains('#'));
        assert_ne!(target.destination.port(), 0);
        // What the origin is told reads back as the same destination and path.
        let again = forward_target(&format!("http://{}{}", target.host, target.path), None)
            .expect("the forwarded authority parses");
        assert_eq!(again, target);
    }
    let Ok(framing) = Framing::request(&head) else {
        return;
    };
    // The body's end does not depend on how its bytes arrive.
    let body = &data[used..];
    let mut whole = BodyProgress::new(framing);
    let at_once = whole.advance(body).map(|n| (n, whole.is_done()));
    let mut bytewise = BodyProgress::new(framing);
    let mut consumed = 0;
    let mut one_by_one = Ok((0, bytewise.is_done()));
    for byte in body {
        if bytewise.is_done() {
            break;
        }
        match bytewise.advance(std::slice::from_ref(byte)) {
            Ok(n) => consumed += n,
            Err(e) => {
                one_by_one = Err(e);
                break;
            }
        }
        one_by_one = Ok((consumed, bytewise.is_done()));
    }
    match (&at_once, &one_by_one) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{framing:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{framing:?}: at once {at_once:?}, byte by byte {one_by_one:?}"),
    }
});
