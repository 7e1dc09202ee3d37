//! Errors of route options, Clash rule strings, rule-set files and GeoIP databases.

use std::{io, path::PathBuf};

/// An invalid `route` layer: which rule (by index in `rules`) or `final`, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A rule is wrong; `index` is its position in the `rules` list.
    #[error("rules[{index}]: {message}")]
    Rule {
        /// Position of the rule in the `rules` list, from 0.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The `final` outbound is missing or empty.
    #[error("final: {0}")]
    Final(String),
}

/// A Clash one-line rule that does not parse, saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClashError(pub(crate) String);

/// A rule-set file that cannot be read or has a wrong entry, naming the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    /// The file could not be read.
    #[error("cannot read rule set {}", file.display())]
    Read {
        /// The rule-set file.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The file's content is wrong at `line` (1-based, when known).
    #[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The rule-set file.
        file: PathBuf,
        /// The 1-based line of the wrong entry, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// A GeoIP database that cannot be read or is not in MaxMind DB format.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file could not be read.
    #[error("cannot read GeoIP database {}", file.display())]
    Read {
        /// The database file.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The bytes are not a MaxMind DB.
    #[error("{} is not a MaxMind DB", file.display())]
    Invalid {
        /// The database file (empty for a database given as bytes).
        file: PathBuf,
        /// What the reader found wrong.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}
