//! The YAML config file: parsed, checked and, when valid, built into pipelines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use xypro_stack::{Config, Registry, pipeline};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Relative paths resolve against the repository, so the example's certificates load.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.yaml");
    let Ok(config) = Config::parse(&path, text.to_owned()) else {
        return;
    };
    if names_unreadable_file(&config.base_dir().to_owned(), text) {
        return;
    }
    let _ = pipeline::build(&config, &Registry::with_builtin());
});

/// Whether any string in the file names something that is not a small regular file or a
/// directory (`/dev/zero`, `/dev/stdin`, a FIFO): building would then read forever or block.
fn names_unreadable_file(base: &PathBuf, text: &str) -> bool {
    let Ok(value) = serde_yaml::from_str::<Value>(text) else {
        return true;
    };
    let mut stack = vec![&value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) => {
                if let Ok(meta) = std::fs::metadata(base.join(s)) {
                    if !(meta.is_dir() || meta.is_file() && meta.len() <= 1 << 20) {
                        return true;
                    }
                }
            }
            Value::Sequence(items) => stack.extend(items),
            Value::Mapping(map) => {
                for (k, v) in map {
                    stack.push(k);
                    stack.push(v);
                }
            }
            Value::Tagged(tagged) => stack.push(&tagged.value),
            _ => {}
        }
    }
    false
}
