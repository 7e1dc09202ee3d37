//! A per-thread cache of relay buffers, so idle tunnels hold none.

use std::cell::RefCell;

/// Size of one relay buffer: large enough to move bulk data in few syscalls and records.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// How many spare buffers each worker thread keeps.
const SPARE_PER_THREAD: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// Takes a buffer from this thread's cache, or allocates one.
pub(crate) fn take() -> Box<[u8]> {
    SPARE
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; BUF_SIZE].into_boxed_slice())
}

/// Returns a buffer to this thread's cache, or frees it when the cache is full.
pub(crate) fn give(buf: Box<[u8]>) {
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARE_PER_THREAD {
            spare.push(buf);
        }
    });
}
