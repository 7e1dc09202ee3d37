//! `ConfigError`: one message naming the file, line, key and what is wrong.

use super::locate::{Step, locate};
use std::{fmt, path::PathBuf};

/// An invalid configuration: where it is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The dotted key path, such as `inbounds.socks.outbound`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error at a key path, located in `text`.
    pub(crate) fn at(
        file: &std::path::Path,
        text: &str,
        path: &[Step<'_>],
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        let mut steps = path.to_vec();
        let named = named_field(&message);
        if let Some(field) = named.as_deref() {
            steps.push(Step::Key(field));
        }
        ConfigError {
            file: file.to_owned(),
            line: locate(text, &steps),
            key: dotted(path),
            message,
        }
    }
}

/// The field a serde message names (``unknown field `x` ``, ``missing field `x` ``), if any.
fn named_field(message: &str) -> Option<String> {
    let rest = message.split_once("field `")?.1;
    Some(rest.split_once('`')?.0.to_owned())
}

fn dotted(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) if out.is_empty() => out.push_str(key),
            Step::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
