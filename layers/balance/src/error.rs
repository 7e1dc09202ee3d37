//! Errors of the balancer and its options.

use std::{error::Error, fmt, io, time::Duration};
use xypro_core::{BoxError, Failure};

/// Why one outbound gave no connection.
#[derive(Debug)]
pub enum Reason {
    /// It was tried and failed with this error.
    Failed(BoxError),
    /// It was not tried: it is backing off for this long after its last failure.
    BackingOff {
        /// Time left before it may be tried again.
        remaining: Duration,
        /// Its last failure, if known.
        last_error: Option<String>,
    },
}

/// Every outbound failed (or was backing off); lists each with its reason.
///
/// Returned inside an `io::Error` whose kind is the failure every tried outbound agrees on
/// (refused, timed out, unreachable, ...), else `Other`, so that
/// [`Failure::classify`] gives the inbound the most accurate reply code.
#[derive(Debug)]
pub struct AllFailed {
    /// Each outbound's name and reason, in the order they were considered.
    pub failures: Vec<(String, Reason)>,
}

impl AllFailed {
    /// Wraps the error in an `io::Error` of the kind the tried outbounds agree on.
    pub(crate) fn into_error(self) -> BoxError {
        let mut kinds = self.failures.iter().filter_map(|(_, reason)| match reason {
            Reason::Failed(e) => Some(Failure::classify(&**e)),
            Reason::BackingOff { .. } => None,
        });
        let kind = match kinds.next() {
            Some(first) if kinds.all(|k| k == first) => match first {
                Failure::ConnectionRefused => io::ErrorKind::ConnectionRefused,
                Failure::TimedOut => io::ErrorKind::TimedOut,
                Failure::HostUnreachable => io::ErrorKind::HostUnreachable,
                Failure::NetworkUnreachable => io::ErrorKind::NetworkUnreachable,
                Failure::NotAllowed => io::ErrorKind::PermissionDenied,
                _ => io::ErrorKind::Other,
            },
            _ => io::ErrorKind::Other,
        };
        Box::new(io::Error::new(kind, self))
    }
}

/// Writes an error and its sources as `outer: inner: innermost`.
fn write_chain(f: &mut fmt::Formatter<'_>, error: &(dyn Error + 'static)) -> fmt::Result {
    write!(f, "{error}")?;
    let mut source = error.source();
    while let Some(e) = source {
        write!(f, ": {e}")?;
        source = e.source();
    }
    Ok(())
}

/// Displays an error with its sources.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_chain(f, self.0)
    }
}

impl fmt::Display for AllFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failures.is_empty() {
            return f.write_str("no outbounds to balance over");
        }
        write!(f, "all {} balanced outbounds failed", self.failures.len())?;
        for (i, (name, reason)) in self.failures.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "`{name}`: ")?;
            match reason {
                Reason::Failed(e) => write_chain(f, &**e)?,
                Reason::BackingOff {
                    remaining,
                    last_error,
                } => {
                    write!(f, "backing off for {:.1}s", remaining.as_secs_f64())?;
                    if let Some(last) = last_error {
                        write!(f, " after: {last}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

// The reasons are listed in `Display`: there is no single source to return.
impl Error for AllFailed {}
