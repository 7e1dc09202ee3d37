//! Real interop peers: v2ray 4.34 and sing-box 1.14, started on loopback with generated configs.

use super::{cert, tunnel::Transport};
use std::{
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where `scripts/install-peers.sh` puts sing-box.
fn sing_box_path() -> PathBuf {
    super::repo_root().join("target/peers/sing-box")
}

/// The peer binary, or `None` (with a SKIPPED line) outside CI; under `CI=true` a missing peer fails.
pub fn require(peer: &str) -> Option<PathBuf> {
    let path = match peer {
        "v2ray" => PathBuf::from("/usr/bin/v2ray"),
        "sing-box" => sing_box_path(),
        "nginx" => PathBuf::from("/usr/sbin/nginx"),
        "chromium" => PathBuf::from("/usr/bin/chromium"),
        other => panic!("unknown peer {other}"),
    };
    if path.exists() {
        return Some(path);
    }
    let hint = "run scripts/install-peers.sh (as root) to install the interop peers";
    if std::env::var_os("CI").is_some() {
        panic!("{peer} is not installed: {hint}");
    }
    eprintln!("SKIPPED: {peer} is not installed; {hint}");
    None
}

/// A port that was free a moment ago, for peers that cannot listen on port 0 and report it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running peer process, killed on drop.
pub struct Peer {
    child: Child,
    /// The address of its listening socket.
    pub addr: SocketAddr,
    _dir: super::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts `binary args.. CONFIG` and waits until `port` accepts connections.
    fn start(binary: &Path, args: &[&str], file: &str, config: &str, port: u16) -> Peer {
        Self::start_in(super::TempDir::new(), binary, args, file, config, port)
    }

    /// As [`Peer::start`], with the config written into `dir`.
    fn start_in(
        dir: super::TempDir,
        binary: &Path,
        args: &[&str],
        file: &str,
        config: &str,
        port: u16,
    ) -> Peer {
        let path = dir.path().join(file);
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(binary)
            .args(args)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before listening; config:\n{config}",
                    binary.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {addr}",
                binary.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Peer {
            child,
            addr,
            _dir: dir,
        }
    }
}

/// v2ray as a VLESS server over WebSocket over TLS (path `/xy`), dialling freely.
pub fn v2ray_server(v2ray: &Path, id: &str) -> Peer {
    v2ray_transport_server(v2ray, id, r#""network":"ws","wsSettings":{"path":"/xy"}"#)
}

/// v2ray as a SOCKS5 client whose outbound is VLESS/WS/TLS to `server` (SNI `example.test`).
pub fn v2ray_client(v2ray: &Path, id: &str, server: SocketAddr) -> Peer {
    let transport =
        r#""network":"ws","wsSettings":{"path":"/xy","headers":{"Host":"example.test"}}"#;
    v2ray_transport_client(v2ray, id, server, transport)
}

/// v2ray as a VLESS server over TLS, dialling freely; `transport` is the `network` and its
/// settings inside `streamSettings`.
fn v2ray_transport_server(v2ray: &Path, id: &str, transport: &str) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"vless",
    "settings":{{"clients":[{{"id":"{id}"}}],"decryption":"none"}},
    "streamSettings":{{{transport},"security":"tls",
      "tlsSettings":{{"certificates":[{{"certificateFile":"{cert}","keyFile":"{key}"}}]}}}}}}],
  "outbounds":[{{"protocol":"freedom"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
    );
    Peer::start(v2ray, &["-config"], "server.json", &config, port)
}

/// v2ray as a SOCKS5 client (UDP too) whose outbound is VLESS over `transport` (as in
/// [`v2ray_transport_server`]) over TLS to `server`, SNI `example.test`.
fn v2ray_transport_client(v2ray: &Path, id: &str, server: SocketAddr, transport: &str) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"socks","settings":{{"udp":true,"ip":"127.0.0.1"}}}}],
  "outbounds":[{{"protocol":"vless",
    "settings":{{"vnext":[{{"address":"127.0.0.1","port":{sport},"users":[{{"id":"{id}","encryption":"none"}}]}}]}},
    "streamSettings":{{{transport},"security":"tls",
      "tlsSettings":{{"serverName":"example.test","certificates":[{{"usage":"verify","certificateFile":"{ca}"}}]}}}}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
    );
    Peer::start(v2ray, &["-config"], "client.json", &config, port)
}

/// sing-box as a VLESS server over WebSocket (header early data) over TLS.
pub fn sing_box_server(sing_box: &Path, id: &str) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},
    "users":[{{"uuid":"{id}"}}],
    "tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}"}},
    "transport":{{"type":"ws","path":"/xy","max_early_data":2048,"early_data_header_name":"Sec-WebSocket-Protocol"}}}}],
  "outbounds":[{{"type":"direct"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
    );
    Peer::start(sing_box, &["run", "-c"], "server.json", &config, port)
}

/// sing-box as a SOCKS5 client whose outbound is VLESS/WS/TLS to `server` with header early data.
pub fn sing_box_client(
    sing_box: &Path,
    id: &str,
    server: SocketAddr,
    packet_encoding: &str,
) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
  "outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{id}",
    "packet_encoding":"{packet_encoding}",
    "tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}","alpn":["http/1.1"]}},
    "transport":{{"type":"ws","path":"/xy","headers":{{"Host":"example.test"}},
      "max_early_data":2048,"early_data_header_name":"Sec-WebSocket-Protocol"}}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
    );
    Peer::start(sing_box, &["run", "-c"], "client.json", &config, port)
}

/// nginx with README's WebSocket server block ("nginx in front"), word for word but for the
/// addresses and the path: it listens on loopback with the test certificate and proxies `/xy`
/// to `upstream` (plain HTTP).
pub fn nginx_front(nginx: &Path, upstream: SocketAddr) -> Peer {
    let server = readme_server("$connection_upgrade")
        .replace("/a-long-unguessable-path", "/xy")
        .replace("127.0.0.1:10000", &upstream.to_string());
    nginx_serving(nginx, &server, "access_log off;")
}

/// README's nginx block containing `needle`, listening on loopback (`PORT`) with the test
/// certificate for `example.test`.
fn readme_server(needle: &str) -> String {
    super::readme_block("nginx", needle)
        .replace("listen 443 ", "listen 127.0.0.1:PORT ")
        .replace(
            "/etc/letsencrypt/live/proxy.example.com/fullchain.pem",
            &cert("server.pem"),
        )
        .replace(
            "/etc/letsencrypt/live/proxy.example.com/privkey.pem",
            &cert("server.key"),
        )
        .replace("proxy.example.com", "example.test")
}

/// nginx with README's server block for HTTPUpgrade, HTTP/2 and gRPC, word for word but for
/// the addresses: it listens on loopback with the test certificate, and `upstreams` (the
/// HTTPUpgrade, h2 and gRPC inbounds) stand in for ports 10001, 10002 and 10003.
pub fn nginx_transports_front(nginx: &Path, upstreams: [SocketAddr; 3]) -> Peer {
    let mut server = readme_server("grpc_pass");
    for (port, upstream) in [10001, 10002, 10003].iter().zip(upstreams) {
        let readme = format!("127.0.0.1:{port}");
        assert!(
            server.contains(&readme),
            "README's nginx block uses {readme}"
        );
        server = server.replace(&readme, &upstream.to_string());
    }
    nginx_serving(nginx, &server, "access_log off;")
}

/// README's website behind the fallback, word for word but for the addresses: nginx reading
/// the PROXY header on two ports (HTTP/1.1 and h2c) and serving `docroot`; it logs each request
/// as `ADDRESS:PORT PROTOCOL` (the visitor's, from the header) to the returned file.
pub fn nginx_website(nginx: &Path, docroot: &Path) -> (Peer, [SocketAddr; 2], PathBuf) {
    let h2c = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = super::readme_block("nginx", "real_ip_header proxy_protocol")
        .replace("127.0.0.1:8080", "127.0.0.1:PORT")
        .replace("127.0.0.1:8081", &h2c.to_string())
        .replace(
            "root /var/www/html;",
            &format!("root {};", docroot.display()),
        );
    let log = docroot.join("access.log");
    let logging = format!(
        "log_format visitor '$remote_addr:$remote_port $server_protocol';\n    access_log {} visitor;",
        log.display()
    );
    let peer = nginx_serving(nginx, &server, &logging);
    let http1 = peer.addr;
    (peer, [http1, h2c], log)
}

/// nginx running `server` (whose `listen` says `PORT`) after `logging` in the `http` block of a
/// config kept in a fresh directory.
fn nginx_serving(nginx: &Path, server: &str, logging: &str) -> Peer {
    let dir = super::TempDir::new();
    let port = free_port();
    let root = dir.path().display().to_string();
    let server = server.replace("PORT", &port.to_string());
    let config = format!(
        r#"user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    {logging}
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    {server}
}}
"#
    );
    let prefix = root.clone();
    Peer::start_in(
        dir,
        nginx,
        &["-p", &prefix, "-c"],
        "nginx.conf",
        &config,
        port,
    )
}

/// sing-box's `transport` object for one of our transports (its `http` is our `h2`).
fn sing_box_transport(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => r#"{"type":"ws","path":"/xy","headers":{"Host":"example.test"}}"#,
        Transport::HttpUpgrade => r#"{"type":"httpupgrade","path":"/hu","host":"example.test"}"#,
        Transport::H2 => r#"{"type":"http","path":"/h2"}"#,
        Transport::Grpc => r#"{"type":"grpc","service_name":"gun"}"#,
    }
}

/// The ALPN protocol TLS negotiates under `transport`.
fn alpn(transport: Transport) -> &'static str {
    match transport {
        Transport::H2 | Transport::Grpc => "h2",
        Transport::WebSocket | Transport::HttpUpgrade => "http/1.1",
    }
}

/// sing-box as a VLESS server over `transport` over TLS, dialling freely.
pub fn sing_box_transport_server(sing_box: &Path, id: &str, transport: Transport) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},
    "users":[{{"uuid":"{id}"}}],
    "tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}","alpn":["{alpn}"]}},
    "transport":{transport}}}],
  "outbounds":[{{"type":"direct"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
        alpn = alpn(transport),
        transport = sing_box_transport(transport),
    );
    Peer::start(sing_box, &["run", "-c"], "server.json", &config, port)
}

/// sing-box as a SOCKS5 client whose outbound is VLESS over `transport` over TLS to `server`.
pub fn sing_box_transport_client(
    sing_box: &Path,
    id: &str,
    server: SocketAddr,
    transport: Transport,
    packet_encoding: &str,
) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
  "outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{id}",
    "packet_encoding":"{packet_encoding}",
    "tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}","alpn":["{alpn}"]}},
    "transport":{transport}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
        alpn = alpn(transport),
        transport = sing_box_transport(transport),
    );
    Peer::start(sing_box, &["run", "-c"], "client.json", &config, port)
}

/// v2ray 4.34 as a VLESS server over h2 (path `/h2`; with no host it takes only
/// `www.example.com`, our client's default) over TLS.
pub fn v2ray_h2_server(v2ray: &Path, id: &str) -> Peer {
    v2ray_transport_server(v2ray, id, r#""network":"h2","httpSettings":{"path":"/h2"}"#)
}

/// v2ray 4.34 as a SOCKS5 client (UDP too) whose outbound is VLESS over h2 over TLS to `server`.
pub fn v2ray_h2_client(v2ray: &Path, id: &str, server: SocketAddr) -> Peer {
    let transport = r#""network":"h2","httpSettings":{"path":"/h2"}"#;
    v2ray_transport_client(v2ray, id, server, transport)
}

/// Headless Chromium's DOM of `url` (`https://example.test:PORT/...`), with `example.test`
/// mapped to 127.0.0.1 and the test server certificate pinned by its public key; `None` when
/// Chromium does not finish within 60 s.
pub fn chromium_dump_dom(chromium: &Path, url: &str) -> Option<String> {
    let spki = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
            cert("server.pem")
        ))
        .output()
        .expect("openssl hashes the test certificate's key");
    let spki = String::from_utf8(spki.stdout).unwrap();
    let profile = super::TempDir::new();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP example.test 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            spki.trim()
        ))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut dom).unwrap();
    Some(dom)
}
