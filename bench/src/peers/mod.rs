//! The systems under test: our client and server, v2ray's, sing-box's, and the mixed pairs.

mod launcher;
mod ours;
mod sing_box;
mod transport;
mod v2ray;

pub(crate) use launcher::{Launcher, Programs};
pub(crate) use transport::Transport;
pub(crate) use xypro_bench::process::Proc;

/// The VLESS user every system shares.
const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// One implementation of the client and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// xypro-stack.
    Ours,
    /// v2ray 4.34 (no header early data).
    V2ray,
    /// sing-box 1.14.4 (header early data, read without echoing it).
    SingBox,
}

impl Kind {
    /// Every kind, in column order.
    pub(crate) const ALL: [Kind; 3] = [Kind::Ours, Kind::V2ray, Kind::SingBox];

    /// The name in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::V2ray => "v2ray",
            Kind::SingBox => "sing-box",
        }
    }
}

/// Paths of the test certificates (PEM), as they go into configs.
#[derive(Debug, Clone)]
pub(crate) struct Certs {
    /// The server's certificate chain.
    pub(crate) cert: String,
    /// The server's private key.
    pub(crate) key: String,
    /// The CA clients verify the server with.
    pub(crate) ca: String,
}

/// A column's name: `ours` for our client with our server, `ours->v2ray` for a mixed pair.
pub(crate) fn pair_name(client: Kind, server: Kind) -> String {
    if client == server {
        client.label().into()
    } else {
        format!("{}->{}", client.label(), server.label())
    }
}

/// A SOCKS5 entry point and the client and server processes behind it.
#[derive(Debug)]
pub(crate) struct System {
    /// Whose client it is.
    pub(crate) client_kind: Kind,
    /// Whose server it tunnels to.
    pub(crate) server_kind: Kind,
    /// The client process (its SOCKS5 port is the entry point).
    pub(crate) client: Proc,
}

impl System {
    /// Short label for the report: `ours`, or `ours->v2ray` for a mixed pair.
    pub(crate) fn name(&self) -> String {
        pair_name(self.client_kind, self.server_kind)
    }

    /// Whether client and server are the same implementation.
    pub(crate) fn is_pure(&self) -> bool {
        self.client_kind == self.server_kind
    }
}

/// Every process of the benchmark.
#[derive(Debug)]
pub(crate) struct Stacks {
    /// One server per kind, in [`Kind::ALL`] order.
    servers: Vec<Proc>,
    /// The three pure systems, then ours with each peer's server and each peer's client with ours.
    pub(crate) systems: Vec<System>,
    /// What started them, to start more clients.
    pub(crate) launcher: Launcher,
}

impl Stacks {
    /// Starts every server and every client combination.
    pub(crate) async fn start(launcher: Launcher) -> std::io::Result<Stacks> {
        let mut servers = Vec::new();
        for kind in Kind::ALL {
            servers.push(launcher.server(kind).await?);
        }
        let mut pairs: Vec<(Kind, Kind)> = Kind::ALL.iter().map(|&k| (k, k)).collect();
        for peer in [Kind::V2ray, Kind::SingBox] {
            pairs.extend([(Kind::Ours, peer), (peer, Kind::Ours)]);
        }
        let mut systems = Vec::new();
        for (client_kind, server_kind) in pairs {
            let upstream = servers[server_kind as usize].addr;
            let client = launcher.client(client_kind, upstream, server_kind).await?;
            systems.push(System {
                client_kind,
                server_kind,
                client,
            });
        }
        Ok(Stacks {
            servers,
            systems,
            launcher,
        })
    }

    /// The server of one kind.
    pub(crate) fn server(&self, kind: Kind) -> &Proc {
        &self.servers[kind as usize]
    }
}
