//! Static web servers in a Python subprocess (`http.server`, HTTP/1.1 keep-alive), plain or with
//! the TEST-ONLY certificate, serving a directory; the clients pip and git need real servers.

use super::cert;
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

/// Serves `argv[1]` on 127.0.0.1:0, with TLS when `argv[2]` and `argv[3]` name a certificate
/// and key; prints the port, then serves until killed.
const SERVER: &str = r#"
import functools, http.server, ssl, sys
directory, cert, key = sys.argv[1:4]
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=directory))
if cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A running static server, killed on drop.
pub struct WebServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl WebServer {
    /// Serves `dir` over plain HTTP.
    pub fn http(dir: &Path) -> WebServer {
        Self::start(dir, None)
    }

    /// Serves `dir` over HTTPS with the test certificate (`localhost`, `127.0.0.1`).
    pub fn https(dir: &Path) -> WebServer {
        Self::start(dir, Some((cert("server.pem"), cert("server.key"))))
    }

    fn start(dir: &Path, tls: Option<(String, String)>) -> WebServer {
        let (cert, key) = tls.unwrap_or_default();
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(dir)
            .args([cert, key])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the web server reports its port, got {line:?}"));
        WebServer { child, port }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
