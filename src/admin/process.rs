//! The process's own figures from `/proc`: resident memory and open file descriptors.

/// Resident memory in bytes (`VmRSS`), where `/proc` has it.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors, where `/proc` lists them.
pub(crate) fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    // The directory handle being read is itself one of the entries.
    Some((entries.count() as u64).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_descriptors() {
        assert!(resident_bytes().unwrap() > 1 << 20);
        // stdin, stdout and stderr at least.
        assert!(open_fds().unwrap() >= 3);
    }
}
