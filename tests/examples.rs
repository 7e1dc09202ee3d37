//! Every example, run in-process on 127.0.0.1:0 ports, with the bytes that came back checked.
// The examples' public items are their API as programs; here they are private modules.
#![allow(unreachable_pub)]

#[path = "../examples/custom_layer.rs"]
#[allow(dead_code)]
mod custom_layer;
#[path = "../examples/hyper_client_through_vless.rs"]
#[allow(dead_code)]
mod hyper_client_through_vless;
#[path = "../examples/vless_in_hyper.rs"]
#[allow(dead_code)]
mod vless_in_hyper;

use std::time::Duration;

/// Limit for a whole example run, so a broken one fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_layer_admits_listed_destinations_and_trusted_users_and_refuses_others_with_02() {
    let outcome = tokio::time::timeout(PATIENCE, custom_layer::run())
        .await
        .expect("in time")
        .unwrap();
    for (response, body) in [
        (&outcome.allowed_response, "hello from the listed server"),
        (&outcome.trusted_response, "hello from the other server"),
    ] {
        assert!(
            response.starts_with("HTTP/1.1 200 OK\r\n")
                && response.ends_with(&format!("\r\n\r\n{body}")),
            "{response:?}"
        );
    }
    assert_eq!(
        outcome.refused_code, 0x02,
        "SOCKS5 `not allowed by ruleset` for an untrusted user"
    );
}

#[test]
fn custom_layer_options_are_checked_when_the_config_loads() {
    use xypro_stack::core::{BuildContext, LayerOptions};
    let ctx = BuildContext::default();
    let options: custom_layer::AllowListOptions =
        serde_yaml::from_str("{ destinations: [example.com:80, nope] }").unwrap();
    let err = options.validate(&ctx).unwrap_err();
    assert_eq!(err.key(), Some("destinations[1]"));
    assert!(
        err.to_string().contains("`nope` is not a host:port"),
        "{err}"
    );
    let empty: custom_layer::AllowListOptions =
        serde_yaml::from_str("{ destinations: [] }").unwrap();
    assert!(empty.validate(&ctx).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_layer_bad_options_fail_server_start_naming_the_key_and_line() {
    let dir = std::env::temp_dir().join(format!("xypro-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad-allow-list.yaml");
    let yaml = custom_layer::config("127.0.0.1:80".parse().unwrap())
        .replace("\"127.0.0.1:80\"", "\"nowhere\"");
    std::fs::write(&path, yaml).unwrap();
    let err = xypro_stack::Server::start(&path, custom_layer::registry())
        .await
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        err.contains(":9:")
            && err.contains("outbounds.guarded[0].allow_list")
            && err.contains("`nowhere`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vless_in_hyper_serves_the_page_and_tunnels_on_the_secret_path() {
    let checked = tokio::time::timeout(PATIENCE, vless_in_hyper::run())
        .await
        .expect("in time")
        .unwrap();
    assert_eq!(checked.page, vless_in_hyper::PAGE);
    assert_eq!(checked.echoed, vless_in_hyper::PING);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vless_in_hyper_answers_plain_requests_for_the_secret_path_with_404() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, task) = vless_in_hyper::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for path in [vless_in_hyper::SECRET_PATH, "/elsewhere"] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
            .await
            .expect("in time")
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 404"), "{path}: {response}");
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_client_fetches_a_page_through_the_vless_tunnel() {
    let (status, body) = tokio::time::timeout(PATIENCE, hyper_client_through_vless::run())
        .await
        .expect("in time")
        .unwrap();
    assert_eq!(status, hyper::StatusCode::OK);
    assert_eq!(body, hyper_client_through_vless::PAGE.as_bytes());
}
