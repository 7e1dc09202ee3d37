//! The HTTP/2 settings both sides use: windows, frame sizes and the server's abuse limits.

use std::time::Duration;

/// Each stream's receive window (as sing-box's gun-lite client): one tunnel can have this
/// much in flight before the reader consumes it.
pub const STREAM_WINDOW: u32 = 4 << 20;

/// The connection's receive window, shared by its streams; it bounds what one connection can
/// make us buffer for readers that are slow to consume.
pub const CONNECTION_WINDOW: u32 = 16 << 20;

/// Largest DATA frame we accept (as Go's HTTP/2 server advertises).
pub const MAX_FRAME_SIZE: u32 = 1 << 20;

/// Most bytes one write hands to a stream (one gun message at most this long).
pub const MAX_WRITE: usize = 64 * 1024;

/// Most streams the server lets a client have open at once (as Go's HTTP/2 server).
pub const SERVER_MAX_STREAMS: u32 = 250;

/// Largest header list the server takes; tunnel requests carry a few short headers.
pub const MAX_HEADER_LIST: u32 = 16 * 1024;

/// Streams a client may open and reset before the server has accepted them (rapid reset,
/// CVE-2023-44487); past this the connection is closed with GOAWAY.
pub const MAX_PENDING_ACCEPT_RESETS: usize = 20;

/// Resets the server may send for a client's protocol errors before it closes the connection.
pub const MAX_LOCAL_ERROR_RESETS: usize = 256;

/// How many tunnels the client opens on one connection before it dials another.
pub const DEFAULT_MAX_STREAMS: usize = 128;

/// The server's deadline for the client's connection preface when none is set.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's HTTP/2 settings: no push, large windows and frames.
pub(crate) fn client_builder() -> h2::client::Builder {
    let mut builder = h2::client::Builder::new();
    builder
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE)
        .max_send_buffer_size(MAX_WRITE * 4);
    builder
}

/// The server's HTTP/2 settings: the client's windows plus limits on streams, headers and resets.
pub(crate) fn server_builder() -> h2::server::Builder {
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE)
        .max_concurrent_streams(SERVER_MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(MAX_WRITE * 4);
    builder
}
