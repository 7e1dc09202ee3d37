//! Starts servers and clients of every kind from generated configs.

use super::{Certs, Kind, Proc, Transport, ours, sing_box, v2ray};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};
use xypro_bench::process::free_port;

/// Where each kind's binary is.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    /// xypro-stack.
    pub(crate) ours: PathBuf,
    /// v2ray 4.34.
    pub(crate) v2ray: PathBuf,
    /// sing-box 1.14.4.
    pub(crate) sing_box: PathBuf,
}

impl Programs {
    /// Fails with a message naming the first binary that is missing and how to get it.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (kind, program, remedy) in [
            (
                Kind::Ours,
                &self.ours,
                "build it: cargo build --release -p xypro-stack",
            ),
            (Kind::V2ray, &self.v2ray, "run scripts/install-peers.sh"),
            (
                Kind::SingBox,
                &self.sing_box,
                "run scripts/install-peers.sh",
            ),
        ] {
            if !exists(program) {
                return Err(format!(
                    "{} is missing ({} not found): {remedy}",
                    kind.label(),
                    program.display()
                ));
            }
        }
        Ok(())
    }

    /// The first line each peer prints for its version, such as `sing-box version 1.14.4`.
    pub(crate) fn versions(&self) -> Vec<String> {
        [(&self.v2ray, "-version"), (&self.sing_box, "version")]
            .into_iter()
            .map(|(program, arg)| {
                let output = std::process::Command::new(program).arg(arg).output();
                output.map_or_else(
                    |e| format!("{}: {e}", program.display()),
                    |o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .next()
                            .unwrap_or("")
                            .into()
                    },
                )
            })
            .collect()
    }

    fn get(&self, kind: Kind) -> &Path {
        match kind {
            Kind::Ours => &self.ours,
            Kind::V2ray => &self.v2ray,
            Kind::SingBox => &self.sing_box,
        }
    }
}

/// Whether `program` is a file, looked up on `PATH` when it is a bare name.
fn exists(program: &Path) -> bool {
    if program.components().count() > 1 {
        return program.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Starts processes with configs in a directory of its own, removed when it is dropped.
#[derive(Debug)]
pub(crate) struct Launcher {
    programs: Programs,
    certs: Certs,
    dir: tempdir::Dir,
    started: AtomicUsize,
}

impl Launcher {
    /// A launcher for `programs` using the test certificates in `certs`.
    pub(crate) fn new(programs: Programs, certs: &Path) -> std::io::Result<Launcher> {
        let path = |file: &str| certs.join(file).display().to_string();
        Ok(Launcher {
            programs,
            certs: Certs {
                cert: path("server.pem"),
                key: path("server.key"),
                ca: path("ca.pem"),
            },
            dir: tempdir::Dir::new()?,
            started: AtomicUsize::new(0),
        })
    }

    /// Starts a VLESS/WebSocket/TLS server of `kind` with a direct outbound.
    pub(crate) async fn server(&self, kind: Kind) -> std::io::Result<Proc> {
        let port = free_port()?;
        let config = match kind {
            Kind::Ours => ours::server(port, &self.certs),
            Kind::V2ray => v2ray::server(port, &self.certs),
            Kind::SingBox => sing_box::server(port, &self.certs),
        };
        self.spawn(kind, "server", &config, port).await
    }

    /// Starts a SOCKS5 client of `kind` tunnelling to `upstream`, a server of kind `server`
    /// (possibly behind a relay).
    pub(crate) async fn client(
        &self,
        kind: Kind,
        upstream: SocketAddr,
        server: Kind,
    ) -> std::io::Result<Proc> {
        self.client_with(kind, upstream, server, 0).await
    }

    /// As [`client`](Self::client), keeping `preconnect` TLS sessions ready (ours only).
    pub(crate) async fn client_with(
        &self,
        kind: Kind,
        upstream: SocketAddr,
        server: Kind,
        preconnect: usize,
    ) -> std::io::Result<Proc> {
        let port = free_port()?;
        // sing-box reads header early data without echoing it: resending would duplicate it.
        let resend = server != Kind::SingBox;
        let config = match kind {
            Kind::Ours => ours::client(port, upstream, &self.certs, resend, preconnect),
            Kind::V2ray => v2ray::client(port, upstream, &self.certs),
            Kind::SingBox => sing_box::client(port, upstream, &self.certs),
        };
        self.spawn(kind, "client", &config, port).await
    }

    /// Starts a VLESS server of `kind` (ours or sing-box) over `transport` over TLS.
    pub(crate) async fn transport_server(
        &self,
        kind: Kind,
        transport: Transport,
    ) -> std::io::Result<Proc> {
        let port = free_port()?;
        let config = match kind {
            Kind::Ours => ours::transport_server(port, &self.certs, transport),
            Kind::SingBox => sing_box::transport_server(port, &self.certs, transport),
            Kind::V2ray => unreachable_transport(transport)?,
        };
        self.spawn(kind, "server", &config, port).await
    }

    /// Starts a SOCKS5 client of `kind` (ours or sing-box) tunnelling over `transport` to
    /// `upstream`.
    pub(crate) async fn transport_client(
        &self,
        kind: Kind,
        upstream: SocketAddr,
        transport: Transport,
    ) -> std::io::Result<Proc> {
        let port = free_port()?;
        let config = match kind {
            Kind::Ours => ours::transport_client(port, upstream, &self.certs, transport),
            Kind::SingBox => sing_box::transport_client(port, upstream, &self.certs, transport),
            Kind::V2ray => unreachable_transport(transport)?,
        };
        self.spawn(kind, "client", &config, port).await
    }

    async fn spawn(
        &self,
        kind: Kind,
        role: &str,
        config: &str,
        port: u16,
    ) -> std::io::Result<Proc> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let (args, extension): (&[&str], _) = match kind {
            Kind::Ours => (&["run", "-c"], "yaml"),
            Kind::V2ray => (&["-config"], "json"),
            Kind::SingBox => (&["run", "-c"], "json"),
        };
        let file = format!("{n}-{}-{role}.{extension}", kind.label());
        Proc::spawn(
            self.programs.get(kind),
            args,
            self.dir.path(),
            &file,
            config,
            port,
        )
        .await
    }
}

/// The error for a transport the benchmark does not run v2ray over.
fn unreachable_transport(transport: Transport) -> std::io::Result<String> {
    Err(std::io::Error::other(format!(
        "the benchmark runs {} with ours and sing-box only",
        transport.label()
    )))
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
