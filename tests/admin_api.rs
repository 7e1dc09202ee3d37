//! The admin API of the running binary as dashboards call it: every endpoint of ADMIN.md in its
//! exact shape, the secret, CORS, streams over chunked HTTP and WebSocket, reload and log level.

mod common;

use common::{
    Proxy,
    admin::{api, curl_admin, next_text, stream_lines, websocket},
    targets,
};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "s3cret";

fn config(extra_outbounds: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\n\
         outbounds:\n  free: [direct]\n  group:\n    - select: {{ outbounds: [free, other], default: free }}\n  other: [direct]\n{extra_outbounds}"
    )
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn every_endpoint_answers_in_the_shape_dashboards_read() {
    let proxy = Proxy::start(&config(""));
    let admin = proxy.admin_addr();
    let get = |path: &str| api(admin, SECRET, "GET", path, None);

    // Without the secret, or with a wrong one: 401 and sing-box's body.
    for args in [&[][..], &["-H", "Authorization: Bearer wrong"][..]] {
        let denied = curl_admin(admin, "GET", "/version", args);
        assert_eq!(denied.status, 401);
        assert_eq!(denied.header("content-type"), "application/json");
        assert_eq!(denied.json(), json!({ "message": "Unauthorized" }));
    }
    // `?token=` counts only on WebSocket upgrades.
    assert_eq!(
        curl_admin(admin, "GET", "/version?token=s3cret", &[]).status,
        401
    );

    assert_eq!(get("/").json(), json!({ "hello": "clash" }));
    let version = get("/version").json();
    assert_eq!(
        (version["meta"].clone(), version["premium"].clone()),
        (json!(true), json!(true))
    );
    assert!(
        version["version"]
            .as_str()
            .unwrap()
            .starts_with("xypro-stack ")
    );

    let configs = get("/configs").json();
    assert_eq!(
        keys(&configs),
        [
            "allow-lan",
            "bind-address",
            "ipv6",
            "log-level",
            "mixed-port",
            "mode",
            "mode-list",
            "port",
            "socks-port",
            "tun"
        ]
    );
    assert_eq!(configs["mode"], "Rule");
    assert_eq!(configs["mode-list"], json!(["Rule"]));
    assert_eq!(configs["tun"], Value::Null);
    assert_eq!(configs["socks-port"], json!(proxy.addr("socks").port()));
    assert_eq!(
        api(
            admin,
            SECRET,
            "PATCH",
            "/configs",
            Some(r#"{"mode":"rule"}"#)
        )
        .status,
        204
    );
    assert_eq!(
        api(
            admin,
            SECRET,
            "PATCH",
            "/configs",
            Some(r#"{"mode":"global"}"#)
        )
        .status,
        400
    );

    let proxies = get("/proxies").json();
    let proxies = &proxies["proxies"];
    assert_eq!(keys(proxies), ["GLOBAL", "free", "group", "other"]);
    assert_eq!(
        proxies["free"],
        json!({ "type": "Direct", "name": "free", "udp": true, "history": [] })
    );
    assert_eq!(
        proxies["group"],
        json!({
            "type": "Selector", "name": "group", "udp": true, "history": [],
            "now": "free", "all": ["free", "other"]
        })
    );
    assert_eq!(proxies["GLOBAL"]["type"], "Fallback");
    assert_eq!(proxies["GLOBAL"]["all"], json!(["free", "group", "other"]));
    assert_eq!(get("/proxies/group").json(), proxies["group"]);
    assert_eq!(get("/proxies/nowhere").status, 404);
    let choose = |group: &str, name: &str| {
        let body = format!(r#"{{"name":"{name}"}}"#);
        api(
            admin,
            SECRET,
            "PUT",
            &format!("/proxies/{group}"),
            Some(&body),
        )
    };
    assert_eq!(choose("group", "other").status, 204);
    assert_eq!(get("/proxies/group").json()["now"], "other");
    let unknown = choose("group", "nowhere");
    assert_eq!(
        (unknown.status, unknown.json()["message"].as_str().unwrap()),
        (400, "Selector update error: Proxy does not exist")
    );
    assert_eq!(choose("free", "other").status, 400);
    assert_eq!(choose("nowhere", "other").status, 404);

    // No connections: `[]`, never `null`.
    let connections = get("/connections");
    assert_eq!(connections.status, 200);
    assert!(
        connections.body.contains(r#""connections":[]"#),
        "{}",
        connections.body
    );
    let connections = connections.json();
    assert_eq!(
        keys(&connections),
        ["connections", "downloadTotal", "memory", "uploadTotal"]
    );
    assert_eq!(
        api(admin, SECRET, "DELETE", "/connections", None).status,
        204
    );
    assert_eq!(
        api(admin, SECRET, "DELETE", "/connections/not-an-id", None).status,
        204
    );
    assert_eq!(
        api(
            admin,
            SECRET,
            "DELETE",
            "/connections/6e7c1d2a-0000-4000-8000-000000000001",
            None
        )
        .status,
        204
    );

    assert_eq!(get("/rules").json(), json!({ "rules": [] }));
    assert_eq!(get("/providers/proxies").json(), json!({ "providers": {} }));
    assert_eq!(get("/providers/rules").json(), json!({ "providers": {} }));
    assert_eq!(get("/no/such/thing").status, 404);
}

#[test]
fn cors_preflights_pass_before_auth_and_answers_allow_any_origin() {
    let proxy = Proxy::start(&config(""));
    let admin = proxy.admin_addr();
    // yacd sends Content-Type on every GET, so every request is preflighted.
    let preflight = curl_admin(
        admin,
        "OPTIONS",
        "/proxies",
        &[
            "-H",
            "Origin: http://yacd.example",
            "-H",
            "Access-Control-Request-Method: GET",
            "-H",
            "Access-Control-Request-Headers: authorization,content-type",
        ],
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert_eq!(preflight.header("access-control-allow-methods"), "GET");
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        "Authorization, Content-Type"
    );
    assert_eq!(preflight.header("access-control-max-age"), "300");

    let auth = format!("Authorization: Bearer {SECRET}");
    let actual = curl_admin(
        admin,
        "GET",
        "/version",
        &["-H", "Origin: http://yacd.example", "-H", &auth],
    );
    assert_eq!(
        (actual.status, actual.header("access-control-allow-origin")),
        (200, "*")
    );
    // A refusal carries the CORS headers too, so the dashboard can read the 401.
    let denied = curl_admin(
        admin,
        "GET",
        "/version",
        &["-H", "Origin: http://yacd.example"],
    );
    assert_eq!(
        (denied.status, denied.header("access-control-allow-origin")),
        (401, "*")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_arrive_as_json_lines_and_as_websocket_frames() {
    let proxy = Proxy::start(&config(""));
    let admin = proxy.admin_addr();

    // Chunked HTTP: one JSON object and a newline per second.
    let lines = tokio::task::spawn_blocking(move || stream_lines(admin, SECRET, "/traffic", 2.6))
        .await
        .unwrap();
    assert!((2..=3).contains(&lines.len()), "{lines:?}");
    for line in &lines {
        let sample: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            keys(&sample),
            ["down", "downTotal", "up", "upTotal"],
            "{line}"
        );
    }

    // WebSocket: `?token=` instead of a header; without it, no upgrade.
    assert!(websocket(admin, "/traffic").await.is_err());
    assert!(websocket(admin, "/traffic?token=wrong").await.is_err());
    let mut traffic = websocket(admin, "/traffic?token=s3cret").await.unwrap();
    let frame = next_text(&mut traffic, Duration::from_secs(3)).await;
    assert!(frame.ends_with('\n'), "{frame:?}");
    assert_eq!(
        keys(&serde_json::from_str(&frame).unwrap()),
        ["down", "downTotal", "up", "upTotal"]
    );

    let mut memory = websocket(admin, "/memory?token=s3cret").await.unwrap();
    let first: Value =
        serde_json::from_str(&next_text(&mut memory, Duration::from_secs(3)).await).unwrap();
    assert_eq!(first, json!({ "inuse": 0, "oslimit": 0 }));
    let second: Value =
        serde_json::from_str(&next_text(&mut memory, Duration::from_secs(3)).await).unwrap();
    assert!(second["inuse"].as_u64().unwrap() > 1 << 20, "{second}");

    // /connections: a snapshot at once, `[]` when empty.
    let mut connections = websocket(admin, "/connections?token=s3cret&interval=200")
        .await
        .unwrap();
    let snapshot: Value =
        serde_json::from_str(&next_text(&mut connections, Duration::from_millis(500)).await)
            .unwrap();
    assert_eq!(snapshot["connections"], json!([]));

    // /logs: the process's events; a failed handshake is logged at info.
    let mut logs = websocket(admin, "/logs?token=s3cret&level=info")
        .await
        .unwrap();
    let mut garbage = tokio::net::TcpStream::connect(proxy.addr("socks"))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    loop {
        let line: Value =
            serde_json::from_str(&next_text(&mut logs, Duration::from_secs(5)).await).unwrap();
        assert_eq!(keys(&line), ["payload", "type"]);
        if line["payload"]
            .as_str()
            .unwrap()
            .contains("handshake failed")
        {
            assert_eq!(line["type"], "info");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_the_log_level_really_changes_it() {
    let (web, _hits) = targets::http_server("hello").await;
    let proxy = Proxy::start_with_log(&config(""), "info");
    let admin = proxy.admin_addr();
    let socks = format!("socks5h://{}", proxy.addr("socks"));
    let url = format!("http://{web}/");
    let fetch = {
        let (socks, url) = (socks.clone(), url.clone());
        move || common::curl(&["--proxy", &socks, &url])
    };
    let patch = |level: &str| {
        let body = format!(r#"{{"log-level":"{level}"}}"#);
        api(admin, SECRET, "PATCH", "/configs", Some(&body)).status
    };
    assert_eq!(
        tokio::task::spawn_blocking(fetch.clone()).await.unwrap().0,
        0
    );
    assert_eq!(patch("debug"), 204);
    assert_eq!(
        api(admin, SECRET, "GET", "/configs", None).json()["log-level"],
        "debug"
    );
    assert_eq!(tokio::task::spawn_blocking(fetch).await.unwrap().0, 0);
    // The dispatch logs every connection's end at debug: now it shows.
    proxy.wait_for_log("closed");
    let closed = proxy
        .log_text()
        .lines()
        .filter(|l| l.contains(" closed"))
        .count();
    assert_eq!(
        closed,
        1,
        "only the connection after the switch:\n{}",
        proxy.log_text()
    );
    assert_eq!(patch("loud"), 400);
}

#[test]
fn put_configs_reloads_the_file_and_a_bad_file_is_refused() {
    let proxy = Proxy::start(&config(""));
    let admin = proxy.admin_addr();
    let path = proxy.dir().join("config.yaml");
    std::fs::write(&path, config("  later: [direct]\n")).unwrap();
    let reload = api(
        admin,
        SECRET,
        "PUT",
        "/configs?force=true",
        Some(r#"{"path":"","payload":""}"#),
    );
    assert_eq!(reload.status, 204, "{}", reload.body);
    let proxies = api(admin, SECRET, "GET", "/proxies", None).json();
    assert_eq!(proxies["proxies"]["later"]["type"], "Direct");

    std::fs::write(&path, config("  broken: [nonsense]\n")).unwrap();
    let refused = api(admin, SECRET, "PUT", "/configs", Some("{}"));
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown layer `nonsense`"),
        "{}",
        refused.body
    );
    let proxies = api(admin, SECRET, "GET", "/proxies", None).json();
    assert!(
        proxies["proxies"]["later"].is_object(),
        "the running config stays"
    );
    let other_file = api(
        admin,
        SECRET,
        "PUT",
        "/configs",
        Some(r#"{"path":"/etc/passwd"}"#),
    );
    assert_eq!(other_file.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_tests_make_a_real_request_through_the_outbound() {
    let (web, mut hits) = targets::http_server("ok").await;
    let (hole, _fillers, _socket) = targets::blackhole();
    let proxy = Proxy::start(&config(""));
    let admin = proxy.admin_addr();
    let delay = move |name: &str, url: String, timeout: u32| {
        let path = format!("/proxies/{name}/delay?url={url}&timeout={timeout}");
        api(admin, SECRET, "GET", &path, None)
    };
    let url = format!("http://{web}/generate_204");
    let measured = tokio::task::spawn_blocking({
        let url = url.clone();
        move || delay("group", url, 3000)
    })
    .await
    .unwrap();
    assert_eq!(measured.status, 200, "{}", measured.body);
    let ms = measured.json()["delay"].as_u64().unwrap();
    assert!((1..3000).contains(&ms), "{ms}");
    hits.recv().await.expect("the request reached the server");

    let timed_out =
        tokio::task::spawn_blocking(move || delay("free", format!("http://{hole}/"), 300))
            .await
            .unwrap();
    assert_eq!(
        (timed_out.status, timed_out.json()),
        (504, json!({ "message": "Timeout" }))
    );
    assert_eq!(delay("free", "ftp://x/".into(), 300).status, 400);
    assert_eq!(delay("nowhere", url, 300).status, 404);

    let history = api(admin, SECRET, "GET", "/proxies/group", None).json()["history"].clone();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["delay"], json!(ms));
    let history = api(admin, SECRET, "GET", "/proxies/free", None).json()["history"].clone();
    assert_eq!(history[0]["delay"], 0, "a timeout is recorded as 0");
}
