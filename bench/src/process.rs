//! A child process under test, started from a config file and killed when dropped, and the
//! readings taken of it.

use std::{
    fs::File,
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One running process of a system under test.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Proc {
    /// The process id, for CPU and memory readings.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `program args.. FILE` with `config` written to FILE in `dir`, and returns once
    /// 127.0.0.1:`port` accepts connections; its output goes to FILE.log.
    pub async fn spawn(
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

/// A port on 127.0.0.1 that was free a moment ago, for a process to listen on.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// CPU seconds (user + system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad /proc stat");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .ok_or_else(invalid)?
        .1
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> std::io::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(invalid)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
