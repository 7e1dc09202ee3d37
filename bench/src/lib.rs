//! What the benchmark binaries share: the processes under test and their CPU readings.

pub mod process;
