//! The systems under test: our client and server, v2ray's, and the two mixed pairs.

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The VLESS user every system shares.
const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// One running process of a system under test.
#[derive(Debug)]
pub(crate) struct Proc {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl Proc {
    /// The process id, for CPU and memory readings.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SOCKS5 entry point and the client and server processes behind it.
#[derive(Debug)]
pub(crate) struct System {
    /// Short label for the report.
    pub(crate) name: &'static str,
    /// The client process (its SOCKS5 port is the entry point).
    pub(crate) client: Proc,
    /// Index into [`Stacks::servers`] of the server it tunnels to.
    pub(crate) server: usize,
}

/// Every process of the benchmark.
#[derive(Debug)]
pub(crate) struct Stacks {
    /// Our server and v2ray's server.
    pub(crate) servers: Vec<Proc>,
    /// ours->ours, v2ray->v2ray, ours->v2ray, v2ray->ours.
    pub(crate) systems: Vec<System>,
    _dir: tempdir::Dir,
}

mod tempdir {
    //! A directory for generated configs, removed at the end.
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub(crate) struct Dir(PathBuf);

    impl Dir {
        pub(crate) fn new() -> std::io::Result<Self> {
            let path = std::env::temp_dir().join(format!("xypro-bench-{}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `program args.. FILE` with `config` written to FILE, once `port` accepts connections.
async fn spawn(
    program: &Path,
    args: &[&str],
    dir: &Path,
    file: &str,
    config: &str,
    port: u16,
) -> std::io::Result<Proc> {
    let path = dir.join(file);
    std::fs::write(&path, config)?;
    let mut child = Command::new(program)
        .args(args)
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if child.try_wait()?.is_some() || Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "{} did not start with {file}",
                program.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Proc { child, addr })
}

impl Stacks {
    /// Starts both servers and the four client combinations.
    pub(crate) async fn start(xypro: &Path, v2ray: &Path, certs: &Path) -> std::io::Result<Stacks> {
        let dir = tempdir::Dir::new()?;
        let (cert, key, ca) = (
            certs.join("server.pem"),
            certs.join("server.key"),
            certs.join("ca.pem"),
        );
        let (cert, key, ca) = (cert.display(), key.display(), ca.display());
        let port = free_port()?;
        let ours = format!(
            "log: warn\ninbounds:\n  server:\n    listen: 127.0.0.1:{port}\n    pipeline:\n\
             \x20     - tls: {{ cert: {cert}, key: {key} }}\n      - websocket: {{ path: /xy }}\n\
             \x20     - vless: {{ users: [{{ name: bench, id: {ID} }}], allow_private: true }}\n\
             \x20   outbound: free\noutbounds:\n  free: [direct]\n"
        );
        let our_server = spawn(
            xypro,
            &["run", "-c"],
            dir.path(),
            "server.yaml",
            &ours,
            port,
        )
        .await?;
        let port = free_port()?;
        let theirs = format!(
            r#"{{"log":{{"loglevel":"none"}},"inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"vless",
"settings":{{"clients":[{{"id":"{ID}"}}],"decryption":"none"}},"streamSettings":{{"network":"ws","security":"tls",
"tlsSettings":{{"certificates":[{{"certificateFile":"{cert}","keyFile":"{key}"}}]}},"wsSettings":{{"path":"/xy"}}}}}}],
"outbounds":[{{"protocol":"freedom"}}]}}"#
        );
        let v2ray_server = spawn(
            v2ray,
            &["-config"],
            dir.path(),
            "v2ray-server.json",
            &theirs,
            port,
        )
        .await?;
        let servers = [our_server.addr, v2ray_server.addr];
        let mut systems = Vec::new();
        for (name, client_is_ours, server) in [
            ("ours", true, 0),
            ("v2ray", false, 1),
            ("ours->v2ray", true, 1),
            ("v2ray->ours", false, 0),
        ] {
            let port = free_port()?;
            let upstream = servers[server];
            let client = if client_is_ours {
                let yaml = format!(
                    "log: warn\ninbounds:\n  socks:\n    listen: 127.0.0.1:{port}\n    pipeline: [socks5]\n    outbound: tunnel\n\
                     outbounds:\n  tunnel:\n    - vless: {{ id: {ID} }}\n\
                     \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048 }}\n\
                     \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n    - tcp: {{ address: {upstream} }}\n"
                );
                spawn(
                    xypro,
                    &["run", "-c"],
                    dir.path(),
                    &format!("{name}.yaml"),
                    &yaml,
                    port,
                )
                .await?
            } else {
                let json = format!(
                    r#"{{"log":{{"loglevel":"none"}},"inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"socks","settings":{{"udp":false}}}}],
"outbounds":[{{"protocol":"vless","settings":{{"vnext":[{{"address":"127.0.0.1","port":{sport},"users":[{{"id":"{ID}","encryption":"none"}}]}}]}},
"streamSettings":{{"network":"ws","security":"tls","tlsSettings":{{"serverName":"example.test","certificates":[{{"usage":"verify","certificateFile":"{ca}"}}]}},
"wsSettings":{{"path":"/xy","headers":{{"Host":"example.test"}}}}}}}}]}}"#,
                    sport = upstream.port()
                );
                spawn(
                    v2ray,
                    &["-config"],
                    dir.path(),
                    &format!("{name}.json"),
                    &json,
                    port,
                )
                .await?
            };
            systems.push(System {
                name,
                client,
                server,
            });
        }
        Ok(Stacks {
            servers: vec![our_server, v2ray_server],
            systems,
            _dir: dir,
        })
    }
}
