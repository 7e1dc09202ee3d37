//! The README's configs stay true: every YAML pipeline in it passes `check`, beside the files
//! README shows (`# NAME` text blocks).

mod common;

use common::{TempDir, readme_files, repo_root, run_cli};

#[test]
fn every_readme_pipeline_passes_check() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let certs = repo_root().join("examples/certs");
    let mut checked = 0;
    for block in readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
    {
        if !block.contains("inbounds:") {
            continue;
        }
        let mut yaml = block
            .replace(
                "/etc/letsencrypt/live/proxy.example.com/fullchain.pem",
                &certs.join("server.pem").display().to_string(),
            )
            .replace(
                "/etc/letsencrypt/live/proxy.example.com/privkey.pem",
                &certs.join("server.key").display().to_string(),
            );
        if !yaml.contains("outbounds:") {
            yaml.push_str("outbounds:\n  free:\n    - direct\n");
        }
        let dir = TempDir::new();
        for (name, contents) in readme_files() {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        let path = dir.path().join("readme.yaml");
        std::fs::write(&path, &yaml).unwrap();
        let (code, out, err) = run_cli(&["check", "-c", path.to_str().unwrap()]);
        assert_eq!(code, 0, "README block fails check:\n{yaml}\n{out}{err}");
        checked += 1;
    }
    assert!(checked >= 4, "found only {checked} pipelines in README.md");
}

#[test]
fn link_for_an_inbound_round_trips_into_a_client_pipeline() {
    let dir = TempDir::new();
    let path = dir.path().join("server.yaml");
    let certs = repo_root().join("examples/certs");
    std::fs::write(
        &path,
        format!(
            "inbounds:\n  vless:\n    listen: 0.0.0.0:443\n    pipeline:\n\
             \x20     - tls: {{ cert: {0}/server.pem, key: {0}/server.key }}\n\
             \x20     - websocket: {{ path: /secret }}\n\
             \x20     - vless: {{ users: [{{ name: alice, id: 2ad043a0-b930-46f8-bd55-1fcefc93339a }}] }}\n\
             \x20   outbound: free\noutbounds:\n  free: [direct]\n",
            certs.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_cli(&["link", "-c", path.to_str().unwrap(), "--inbound", "vless"]);
    assert_ne!(code, 0, "a wildcard listener needs --address");
    assert!(err.contains("--address"), "{err}");
    let (code, out, err) = run_cli(&[
        "link",
        "-c",
        path.to_str().unwrap(),
        "--inbound",
        "vless",
        "--address",
        "proxy.example.com",
    ]);
    assert_eq!(code, 0, "{err}");
    let link = out.trim();
    assert!(
        link.starts_with("vless://2ad043a0-b930-46f8-bd55-1fcefc93339a@proxy.example.com:443?"),
        "{link}"
    );
    assert!(link.ends_with("#alice"), "{link}");
    let (code, with_qr, err) = run_cli(&[
        "link",
        "-c",
        path.to_str().unwrap(),
        "--inbound",
        "vless",
        "--address",
        "proxy.example.com",
        "--qr",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut lines = with_qr.lines();
    assert_eq!(lines.next(), Some(link));
    let code: Vec<&str> = lines.collect();
    assert!(code.len() > 20, "a QR code follows the link:\n{with_qr}");
    assert!(
        code.iter()
            .all(|l| l.chars().all(|c| " \u{2580}\u{2584}\u{2588}".contains(c)))
    );
    let (code, pipeline, err) = run_cli(&["link", link]);
    assert_eq!(code, 0, "{err}");
    for expected in [
        "path: /secret",
        "early_data: 2048",
        "server_name: proxy.example.com",
        "address: proxy.example.com:443",
    ] {
        assert!(
            pipeline.contains(expected),
            "{expected} missing from:\n{pipeline}"
        );
    }
}
