//! Real interop peers: v2ray 4.34 and sing-box 1.14, started on loopback with generated configs.

use super::cert;
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
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"vless",
    "settings":{{"clients":[{{"id":"{id}"}}],"decryption":"none"}},
    "streamSettings":{{"network":"ws","security":"tls",
      "tlsSettings":{{"certificates":[{{"certificateFile":"{cert}","keyFile":"{key}"}}]}},
      "wsSettings":{{"path":"/xy"}}}}}}],
  "outbounds":[{{"protocol":"freedom"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
    );
    Peer::start(v2ray, &["-config"], "server.json", &config, port)
}

/// v2ray as a SOCKS5 client whose outbound is VLESS/WS/TLS to `server` (SNI `example.test`).
pub fn v2ray_client(v2ray: &Path, id: &str, server: SocketAddr) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"socks","settings":{{"udp":true,"ip":"127.0.0.1"}}}}],
  "outbounds":[{{"protocol":"vless",
    "settings":{{"vnext":[{{"address":"127.0.0.1","port":{sport},"users":[{{"id":"{id}","encryption":"none"}}]}}]}},
    "streamSettings":{{"network":"ws","security":"tls",
      "tlsSettings":{{"serverName":"example.test","certificates":[{{"usage":"verify","certificateFile":"{ca}"}}]}},
      "wsSettings":{{"path":"/xy","headers":{{"Host":"example.test"}}}}}}}}]}}"#,
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

/// nginx terminating TLS for `example.test` and proxying the WebSocket path `/xy` to `upstream`
/// (plain HTTP), as README's deployment section describes; everything else gets 404.
pub fn nginx_front(nginx: &Path, upstream: SocketAddr) -> Peer {
    let dir = super::TempDir::new();
    let port = free_port();
    let root = dir.path().display().to_string();
    let config = format!(
        r#"user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name example.test;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /xy {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }}
        location / {{ return 404; }}
    }}
}}
"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
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
