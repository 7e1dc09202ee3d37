//! Debian's headless Chromium, run as a person's browser would be: through a proxy, with the
//! rendered page and a screenshot as the evidence.

use super::{TempDir, repo_root};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Where Debian installs Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium's path, or `None` (with a SKIPPED line) when it is missing outside CI.
pub fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    let hint = "run scripts/install-peers.sh (as root) to install it";
    if std::env::var_os("CI").is_some() {
        panic!("missing {CHROMIUM}: {hint}");
    }
    eprintln!("SKIPPED: missing {CHROMIUM}; {hint}");
    None
}

/// A headless browser whose every request goes through `proxy` (`http://host:port`).
pub struct Browser {
    chromium: PathBuf,
    proxy: String,
    profile: TempDir,
}

impl Browser {
    /// A browser with a fresh profile that sends everything to `proxy`.
    pub fn new(chromium: PathBuf, proxy: &str) -> Browser {
        Browser {
            chromium,
            proxy: proxy.to_owned(),
            profile: TempDir::new(),
        }
    }

    /// The page at `url` as rendered (the DOM after load), with a screenshot kept as
    /// `target/screenshots/{name}.png`.
    pub fn render(&self, url: &str, name: &str) -> String {
        let dir = repo_root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let shot = dir.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        self.run(&[&format!("--screenshot={}", shot.display()), url]);
        assert!(shot.exists(), "no screenshot of {url}");
        self.run(&["--dump-dom", url])
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(&self.chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .arg(format!("--proxy-server={}", self.proxy))
            // The test sites' certificate is signed by the test-only CA, which this profile
            // does not know; what is under test is the proxy, not the site's certificate.
            .arg("--ignore-certificate-errors")
            .arg("--window-size=900,600")
            .arg(profile_arg(self.profile.path()))
            .args(args)
            .output()
            .expect("chromium runs");
        assert!(
            output.status.success(),
            "chromium {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn profile_arg(dir: &Path) -> String {
    format!("--user-data-dir={}", dir.display())
}
