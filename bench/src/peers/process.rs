//! A child process under test, started from a config file and killed when dropped.

use std::{
    fs::File,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

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

    /// Starts `program args.. FILE` with `config` written to FILE in `dir`, and returns once
    /// 127.0.0.1:`port` accepts connections; its output goes to FILE.log.
    pub(crate) async fn spawn(
        program: &Path,
        args: &[&str],
        dir: &Path,
        file: &str,
        config: &str,
        port: u16,
    ) -> std::io::Result<Proc> {
        let path = dir.join(file);
        std::fs::write(&path, config)?;
        let log_path = dir.join(format!("{file}.log"));
        let log = File::create(&log_path)?;
        let mut child = Command::new(program)
            .args(args)
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if child.try_wait()?.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let output = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "{} did not start with {file}:\n{config}\n{}",
                    program.display(),
                    output.trim_end()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Proc { child, addr })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
