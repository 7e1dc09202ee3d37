//! The binary as an HTTP proxy and as a mixed port, driven by the clients people use: curl,
//! pip and git, against local web servers (plain and TLS), plus raw pipelining.

mod common;

use common::{Proxy, TempDir, cert, curl, targets, web::WebServer};
use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::Command,
    time::Duration,
};
use xypro_stack::http::proto::{ResponseHead, content_length};

fn config(layer: &str) -> String {
    format!(
        "inbounds:\n  proxy:\n    listen: 127.0.0.1:0\n    pipeline:\n      - {layer}\n    outbound: free\n\
         outbounds:\n  free:\n    - direct: {{ connect_timeout: 5s }}\n"
    )
}

/// A directory with `index.html` holding `text`.
fn site(text: &str) -> TempDir {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("index.html"), text).unwrap();
    dir
}

/// curl's body, or a panic naming the exit code.
fn fetch(args: &[&str]) -> String {
    let (code, body) = curl(args);
    assert_eq!(code, 0, "curl {args:?}");
    String::from_utf8(body).unwrap()
}

#[test]
fn curl_gets_and_tunnels_https_through_the_http_proxy() {
    let site = site("hello through the http proxy");
    let (web, tls) = (WebServer::http(site.path()), WebServer::https(site.path()));
    let proxy = Proxy::start(&config("http"));
    let via = format!("http://{}", proxy.addr("proxy"));
    let plain = format!("http://127.0.0.1:{}/index.html", web.port);
    let secure = format!("https://localhost:{}/index.html", tls.port);
    let ca = cert("ca.pem");
    assert_eq!(fetch(&["-x", &via, &plain]), "hello through the http proxy");
    assert_eq!(
        fetch(&["-x", &via, "--cacert", &ca, &secure]),
        "hello through the http proxy"
    );
    assert_eq!(
        fetch(&["-x", &via, "--proxytunnel", &plain]),
        "hello through the http proxy",
        "CONNECT for plain HTTP too"
    );
    let missing = format!("http://127.0.0.1:{}/missing", web.port);
    let status = fetch(&[
        "-x",
        &via,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &missing,
    ]);
    assert_eq!(status, "404", "the origin's answer comes through as it is");
}

#[test]
fn proxy_user_and_the_407_retry_on_one_connection() {
    let site = site("for alice");
    let (web, tls) = (WebServer::http(site.path()), WebServer::https(site.path()));
    let proxy = Proxy::start(&config("http: { users: [{ user: alice, pass: s3cret }] }"));
    let via = format!("http://{}", proxy.addr("proxy"));
    let plain = format!("http://127.0.0.1:{}/index.html", web.port);
    let secure = format!("https://localhost:{}/index.html", tls.port);
    let ca = cert("ca.pem");
    let good = ["-x", &via, "--proxy-user", "alice:s3cret"];
    assert_eq!(fetch(&[&good[..], &[plain.as_str()]].concat()), "for alice");
    assert_eq!(
        fetch(&[&good[..], &["--cacert", &ca, &secure]].concat()),
        "for alice"
    );
    let status = |extra: &[&str], url: &str| {
        let format = "%{http_code} %{http_connect} %{num_connects}";
        let args = [
            &["-x", &via, "-o", "/dev/null", "-w", format],
            extra,
            &[url],
        ]
        .concat();
        curl(&args).1
    };
    assert_eq!(status(&[], &plain), b"407 000 1");
    assert_eq!(
        status(&["--proxy-user", "alice:wrong"], &plain),
        b"407 000 1"
    );
    // --proxy-anyauth asks without credentials first, then again on the same connection.
    let anyauth = ["--proxy-anyauth", "--proxy-user", "alice:s3cret"];
    assert_eq!(status(&anyauth, &plain), b"200 000 1");
    let tunnel = [&anyauth[..], &["--cacert", &ca]].concat();
    assert_eq!(status(&tunnel, &secure), b"200 200 1");
    proxy.wait_for_log("authentication failed for user \"alice\"");
}

#[test]
fn one_mixed_port_serves_socks5_socks4a_socks4_and_http() {
    let site = site("one port for all");
    let (web, tls) = (WebServer::http(site.path()), WebServer::https(site.path()));
    let proxy = Proxy::start(&config("mixed"));
    let port = proxy.addr("proxy");
    let by_name = format!("http://localhost:{}/index.html", web.port);
    let by_ip = format!("http://127.0.0.1:{}/index.html", web.port);
    let secure = format!("https://localhost:{}/index.html", tls.port);
    let ca = cert("ca.pem");
    for args in [
        vec!["--socks5-hostname", &port.to_string(), &by_name],
        vec!["--socks4a", &port.to_string(), &by_name],
        vec!["--socks4", &port.to_string(), &by_ip],
        vec!["-x", &format!("http://{port}"), &by_name],
        vec!["-x", &format!("http://{port}"), "--cacert", &ca, &secure],
    ] {
        let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
        assert_eq!(fetch(&args), "one port for all", "curl {args:?}");
    }
}

/// Reads one response from `stream`: its head and a `Content-Length` body.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> (ResponseHead, String) {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((head, used)) = ResponseHead::parse(buf).unwrap() {
            buf.drain(..used);
            let length = content_length(&head.headers).unwrap().unwrap_or(0) as usize;
            while buf.len() < length {
                let n = stream.read(&mut chunk).unwrap();
                assert_ne!(n, 0, "closed inside a body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8(buf.drain(..length).collect()).unwrap();
            return (head, body);
        }
        let n = stream.read(&mut chunk).unwrap();
        assert_ne!(n, 0, "closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn pipelined_requests_to_two_local_hosts_come_back_in_order() {
    let (a, b) = (site("site A"), site("site B"));
    let (web_a, web_b) = (WebServer::http(a.path()), WebServer::http(b.path()));
    let proxy = Proxy::start(&config("http"));
    let get = |port: u16| {
        format!("GET http://127.0.0.1:{port}/index.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    };
    let mut stream = TcpStream::connect(proxy.addr("proxy")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let pipelined = [web_a.port, web_b.port, web_a.port, web_b.port]
        .map(get)
        .concat();
    stream.write_all(pipelined.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let bodies: Vec<String> = (0..4)
        .map(|_| read_response(&mut stream, &mut buf).1)
        .collect();
    assert_eq!(bodies, ["site A", "site B", "site A", "site B"]);
    stream.write_all(get(web_a.port).as_bytes()).unwrap();
    let (head, body) = read_response(&mut stream, &mut buf);
    assert_eq!(
        (head.code, body.as_str()),
        (200, "site A"),
        "still open afterwards"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_connect_without_host_like_pip() {
    let echo = targets::echo_server().await;
    let proxy = Proxy::start(&config("http"));
    let addr = proxy.addr("proxy");
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let request = format!("CONNECT 127.0.0.1:{} HTTP/1.0\r\n\r\n", echo.port());
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = vec![0u8; 39];
        stream.read_exact(&mut answer).unwrap();
        stream.write_all(b"through").unwrap();
        let mut back = [0u8; 7];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"through");
        answer
    })
    .await
    .unwrap();
    assert_eq!(answer, b"HTTP/1.0 200 Connection established\r\n\r\n");
}

/// Runs a command with the proxy environment (and nothing from the user's configuration)
/// and returns its combined output, panicking unless it succeeds.
fn run_via(proxy: &str, cwd: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        // These would override the test CA given below (requests prefers them to `--cert`).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("PIP_FIND_LINKS")
        .env("http_proxy", proxy)
        .env("https_proxy", proxy)
        .env("HTTPS_PROXY", proxy)
        .env("HOME", cwd)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{text}"
    );
    text
}

/// Writes a minimal wheel and a PEP 503 index for it under `root`.
fn wheel_index(root: &Path) {
    const BUILD: &str = r#"
import os, sys, zipfile
root = sys.argv[1]
os.makedirs(f"{root}/packages")
os.makedirs(f"{root}/simple/tinypkg")
with zipfile.ZipFile(f"{root}/packages/tinypkg-0.1-py3-none-any.whl", "w") as wheel:
    wheel.writestr("tinypkg/__init__.py", "VALUE = 1\n")
    wheel.writestr("tinypkg-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n")
    wheel.writestr("tinypkg-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    wheel.writestr("tinypkg-0.1.dist-info/RECORD", "")
with open(f"{root}/simple/tinypkg/index.html", "w") as index:
    index.write('<a href="/packages/tinypkg-0.1-py3-none-any.whl">tinypkg-0.1-py3-none-any.whl</a>\n')
"#;
    let status = Command::new("python3")
        .args(["-c", BUILD])
        .arg(root)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn pip_downloads_a_wheel_through_https_proxy() {
    let index = TempDir::new();
    wheel_index(index.path());
    let tls = WebServer::https(index.path());
    let proxy = Proxy::start_with_log(&config("http"), "info,xypro_core=debug");
    let via = format!("http://{}", proxy.addr("proxy"));
    let work = TempDir::new();
    let index_url = format!("https://localhost:{}/simple/", tls.port);
    run_via(
        &via,
        work.path(),
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "tinypkg==0.1",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            &index_url,
            "-d",
            "out",
        ],
        &[
            ("PIP_CERT", &cert("ca.pem")),
            ("PIP_CONFIG_FILE", "/dev/null"),
        ],
    );
    assert!(
        work.path()
            .join("out/tinypkg-0.1-py3-none-any.whl")
            .exists()
    );
    proxy.wait_for_log(&format!("localhost:{}", tls.port));
}

/// A bare repository with one commit, served by dumb HTTP (`update-server-info`).
fn bare_repository(root: &Path) {
    let git = |cwd: &Path, args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.test"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(cwd)
            .env("HOME", root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(root, &["init", "-q", "src"]);
    let src = root.join("src");
    std::fs::write(src.join("README"), "cloned through the proxy\n").unwrap();
    git(&src, &["add", "README"]);
    git(&src, &["commit", "-q", "-m", "one"]);
    git(root, &["clone", "-q", "--bare", "src", "repo.git"]);
    git(&root.join("repo.git"), &["update-server-info"]);
}

#[test]
fn git_clones_through_http_and_https_proxies() {
    let served = TempDir::new();
    bare_repository(served.path());
    let (web, tls) = (
        WebServer::http(served.path()),
        WebServer::https(served.path()),
    );
    let proxy = Proxy::start_with_log(&config("mixed"), "info,xypro_core=debug");
    let via = format!("http://{}", proxy.addr("proxy"));
    let work = TempDir::new();
    let env = [("GIT_CONFIG_NOSYSTEM", "1"), ("GIT_TERMINAL_PROMPT", "0")];
    let plain = format!("http://127.0.0.1:{}/repo.git", web.port);
    run_via(
        &via,
        work.path(),
        "git",
        &["clone", "-q", &plain, "plain"],
        &env,
    );
    let ca = cert("ca.pem");
    let secure = format!("https://localhost:{}/repo.git", tls.port);
    let env = [&env[..], &[("GIT_SSL_CAINFO", ca.as_str())]].concat();
    run_via(
        &via,
        work.path(),
        "git",
        &["clone", "-q", &secure, "secure"],
        &env,
    );
    for clone in ["plain", "secure"] {
        let readme = std::fs::read_to_string(work.path().join(clone).join("README")).unwrap();
        assert_eq!(readme, "cloned through the proxy\n", "{clone}");
    }
    proxy.wait_for_log(&format!("localhost:{}", tls.port));
    let plain_seen = format!("destination=127.0.0.1:{}", web.port);
    assert!(
        proxy.log_text().contains(&plain_seen),
        "{}",
        proxy.log_text()
    );
}
