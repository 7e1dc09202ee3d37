//! Shared helpers for end-to-end tests: run the real binary, real targets on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)]

pub mod dns;
pub mod flows;
pub mod peers;
pub mod raw;
pub mod targets;
pub mod tunnel;
pub mod web;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

/// How long a test waits for the binary to report its listeners.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `xypro-stack run` process, killed on drop.
pub struct Proxy {
    child: Child,
    /// Inbound name -> bound address, as logged by the binary.
    pub addrs: HashMap<String, SocketAddr>,
    /// Every stderr line so far.
    pub log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
    dir: TempDir,
}

impl Proxy {
    /// Writes `yaml` to a fresh directory and runs the binary on it until every inbound listens.
    pub fn start(yaml: &str) -> Proxy {
        let log = std::env::var("XYPRO_TEST_LOG").unwrap_or_else(|_| "info".into());
        Self::start_with_log(yaml, &log)
    }

    /// As [`Proxy::start`], with `RUST_LOG` set to `log` (for debug-level lines such as drop counts).
    pub fn start_with_log(yaml: &str, log: &str) -> Proxy {
        let dir = TempDir::new();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        let inbounds = count_inbounds(yaml);
        // XYPRO_TEST_BINARY runs another build (an older one, to show a test failing there).
        let binary = std::env::var_os("XYPRO_TEST_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_xypro-stack").into());
        let mut child = Command::new(binary)
            .args(["run", "-c"])
            .arg(&path)
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut proxy = Proxy {
            child,
            addrs: HashMap::new(),
            log,
            lines,
            dir,
        };
        while proxy.addrs.len() < inbounds {
            let line = proxy
                .next_line()
                .unwrap_or_else(|| panic!("binary exited before listening:\n{}", proxy.log_text()));
            if let Some((name, addr)) = parse_listening(&line) {
                proxy.addrs.insert(name, addr);
            }
        }
        proxy
    }

    /// The bound address of inbound `name`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    /// The directory holding the config file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits for the next stderr line.
    pub fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(STARTUP).ok()
    }

    /// Waits until a stderr line contains `needle`; panics with the log if none does in time.
    pub fn wait_for_log(&self, needle: &str) -> String {
        loop {
            match self.next_line() {
                Some(line) if line.contains(needle) => return line,
                Some(_) => continue,
                None => panic!("no log line containing {needle:?}:\n{}", self.log_text()),
            }
        }
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("XYPRO_TEST_LOG").is_some() {
            eprintln!("--- xypro-stack log ---\n{}", self.log_text());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_inbounds(yaml: &str) -> usize {
    yaml.lines()
        .filter(|l| l.trim_start().starts_with("listen:") && !l.starts_with("  listen"))
        .count()
        .max(1)
}

fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let addr = line
        .split("listening on ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let name = line
        .split("inbound=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .to_owned();
    Some((name, addr))
}

/// Runs `xypro-stack` with `args` and returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xypro-stack"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs curl and returns (exit code, stdout bytes).
pub fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed");
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("xypro-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The repository root, for paths to example certificates.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a TEST-ONLY file in `examples/certs`, as text for a config.
pub fn cert(name: &str) -> String {
    repo_root()
        .join("examples/certs")
        .join(name)
        .display()
        .to_string()
}

/// The first fenced block of language `lang` in README.md that contains `needle`.
pub fn readme_block(lang: &str, needle: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    readme
        .split(&format!("```{lang}\n"))
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.contains(needle))
        .unwrap_or_else(|| panic!("README.md has no {lang} block with {needle:?}"))
        .to_owned()
}
