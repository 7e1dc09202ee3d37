//! `TlsUpgrade`: terminates TLS on an accepted stream within a deadline and records what was
//! negotiated; [`UpgradeAcceptor`] then hands the decrypted stream to the inner acceptor.

use crate::{TlsError, TlsServerSettings};
use std::sync::Arc;
use xypro_core::{
    BoxError, BoxFuture, Incoming, ReadAhead, TlsInfo, Upgrade, UpgradeAcceptor, UpgradeLayer,
};

/// The TLS handshake of the accept side, as an [`Upgrade`].
#[derive(Debug, Clone)]
pub struct TlsUpgrade {
    settings: TlsServerSettings,
}

/// Accepts TLS on an incoming stream and calls the inner acceptor with the TLS stream.
pub type TlsAcceptor<S> = UpgradeAcceptor<TlsUpgrade, S>;

/// Builds [`TlsAcceptor`]s.
pub type TlsAcceptorLayer = UpgradeLayer<TlsUpgrade>;

impl TlsUpgrade {
    /// The upgrade for the given validated settings.
    pub fn new(settings: TlsServerSettings) -> Self {
        TlsUpgrade { settings }
    }

    /// The settings in force.
    pub fn settings(&self) -> &TlsServerSettings {
        &self.settings
    }
}

impl Upgrade for TlsUpgrade {
    fn upgrade(&self, mut incoming: Incoming) -> BoxFuture<Result<Incoming, BoxError>> {
        let tls = tokio_rustls::TlsAcceptor::from(self.settings.config.clone());
        let after = self.settings.handshake_timeout;
        Box::pin(async move {
            let peer = incoming.peer;
            let accept = tls.accept(ReadAhead::new(incoming.take_io()));
            let mut stream = match tokio::time::timeout(after, accept).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(TlsError::Accept { peer, source }.into()),
                Err(_) => return Err(TlsError::AcceptTimeout { peer, after }.into()),
            };
            let conn = stream.get_mut().1;
            conn.set_buffer_limit(Some(crate::SEND_BUFFER_LIMIT));
            let info = tls_info(conn);
            match info.resumed {
                true => xypro_core::events::TLS_ACCEPTED_RESUMED.inc(),
                false => xypro_core::events::TLS_ACCEPTED_FULL.inc(),
            }
            incoming.extensions.insert(info);
            incoming.replace_io(stream);
            Ok(incoming)
        })
    }
}

/// What the handshake negotiated, for layers after this one.
fn tls_info(conn: &rustls::ServerConnection) -> TlsInfo {
    let mut info = TlsInfo::default();
    info.server_name = conn
        .server_name()
        .map(|name| Arc::from(name.to_ascii_lowercase()));
    info.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    info.version = conn.protocol_version().and_then(|v| v.as_str());
    info.resumed = matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
    info
}
