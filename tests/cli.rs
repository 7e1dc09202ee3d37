//! The command line as users meet it: check, uuid, version, refusal to start, signals.

mod common;

use common::{Proxy, TempDir, run_cli, targets};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xypro_stack::socks5::{Socks5Client, Socks5Error};

const GOOD: &str = "\
inbounds:
  socks:
    listen: 127.0.0.1:0
    pipeline:
      - socks5
    outbound: free
outbounds:
  free:
    - direct
";

fn check(yaml: &str) -> (i32, String, String) {
    let dir = TempDir::new();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    run_cli(&["check", "-c", path.to_str().unwrap()])
}

#[test]
fn example_config_checks() {
    let (code, out, err) = run_cli(&["check", "-c", "config.yaml.example"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn check_names_the_key_and_line_of_each_mistake() {
    let cases = [
        (
            GOOD.replace("    outbound: free", "    outbound: free\n    colour: blue"),
            ":7: inbounds.socks",
            "unknown field `colour`",
        ),
        (
            GOOD.replace(
                "    - direct",
                "    - direct: { connect_timeout: 5 parsecs }",
            ),
            ":9:",
            "connect_timeout",
        ),
        (
            GOOD.replace("outbound: free", "outbound: tunnel"),
            ":6: inbounds.socks.outbound",
            "no outbound named `tunnel`",
        ),
        (
            GOOD.replace("- socks5", "- sock5"),
            ":5: inbounds.socks.pipeline[0]",
            "unknown layer `sock5`",
        ),
        (
            GOOD.replace("    - direct", "    - direct\n    - direct"),
            ":9: outbounds.free[0]",
            "must be its last layer",
        ),
    ];
    for (yaml, place, what) in cases {
        let (code, _, err) = check(&yaml);
        assert_ne!(code, 0, "{yaml}");
        assert!(
            err.contains(place) && err.contains(what),
            "expected {place} and {what} in: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one message: {err}");
    }
}

#[test]
fn open_socks5_on_a_public_address_refuses_to_start() {
    let open = GOOD.replace("127.0.0.1:0", "0.0.0.0:0");
    let (code, _, err) = check(&open);
    assert_ne!(code, 0);
    assert!(err.contains("allow_open"), "{err}");
    let dir = TempDir::new();
    let path = dir.path().join("open.yaml");
    std::fs::write(&path, &open).unwrap();
    let (code, _, err) = run_cli(&["run", "-c", path.to_str().unwrap()]);
    assert_ne!(code, 0, "run refuses too");
    assert!(err.contains("allow_open"), "{err}");
    let (code, _, err) = check(&open.replace("- socks5", "- socks5: { allow_open: true }"));
    assert_eq!(code, 0, "{err}");
    for layer in ["http", "mixed"] {
        let (code, _, err) = check(&open.replace("- socks5", &format!("- {layer}")));
        assert_ne!(code, 0, "an open {layer} proxy");
        assert!(err.contains("allow_open") && err.contains(":5:"), "{err}");
        let users = format!("- {layer}: {{ users: [{{ user: u, pass: p }}] }}");
        let (code, _, err) = check(&open.replace("- socks5", &users));
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn uuid_and_version() {
    let (code, out, _) = run_cli(&["uuid"]);
    assert_eq!(code, 0);
    let id = uuid::Uuid::parse_str(out.trim()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert_ne!(run_cli(&["uuid"]).1, out, "fresh every time");
    let (code, out, _) = run_cli(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("xypro-stack ", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_open_connections_then_exits_zero() {
    let mut proxy = Proxy::start(GOOD);
    let echo = targets::echo_server().await;
    let addr = proxy.addr("socks");
    let mut open = tokio::net::TcpStream::connect(addr).await.unwrap();
    Socks5Client::new()
        .connect(&mut open, &echo.into())
        .await
        .unwrap();
    proxy.signal("TERM");
    proxy.wait_for_log("waiting up to");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after SIGTERM"
    );
    open.write_all(b"finish me").await.unwrap();
    let mut back = [0u8; 9];
    open.read_exact(&mut back).await.unwrap();
    assert_eq!(
        &back, b"finish me",
        "the open connection still works while draining"
    );
    drop(open);
    let code = tokio::task::spawn_blocking(move || proxy.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_an_invalid_file_keeps_the_old_config() {
    let proxy = Proxy::start(GOOD);
    let addr = proxy.addr("socks");
    let config = proxy.dir().join("config.yaml");
    let echo = targets::echo_server().await;
    let pinned = GOOD.replace("127.0.0.1:0", &addr.to_string());

    std::fs::write(
        &config,
        pinned.replace("- socks5", "- socks5: { users: [{ user: u, pass: p }] }"),
    )
    .unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("configuration reloaded");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let refused = Socks5Client::new()
        .connect(&mut stream, &echo.into())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Socks5Error::NoAcceptableMethod),
        "{refused}"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    Socks5Client::with_credentials("u", "p")
        .connect(&mut stream, &echo.into())
        .await
        .unwrap();

    std::fs::write(&config, "inbounds: [not, a, map]\n").unwrap();
    proxy.signal("HUP");
    proxy.wait_for_log("reload rejected");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    Socks5Client::with_credentials("u", "p")
        .connect(&mut stream, &echo.into())
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let refused = Socks5Client::with_credentials("u", "wrong")
        .connect(&mut stream, &echo.into())
        .await;
    assert!(matches!(refused, Err(Socks5Error::AuthFailed(_))));
}
