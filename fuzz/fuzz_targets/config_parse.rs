//! The INI reader, `%(...)s` expansion and typed loading of a whole `supervisord.conf`.
//! Any input must give `Ok` or a `ConfigError`, never a panic or a hang.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use supervisor_daemon::config::{parse_with_env, CliOverrides};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A fixed environment keeps runs reproducible (ENV_X expansions still exercised).
    let env = vec![
        ("HOME".to_string(), "/root".to_string()),
        ("X".to_string(), "1".to_string()),
    ];
    // A path under a directory that does not exist: [include] globs match nothing.
    let path = Path::new("/nonexistent-fuzz-dir/supervisord.conf");
    let overrides = CliOverrides::default();
    if let Ok(config) = parse_with_env(text, path, &overrides, &env) {
        // Errors must render; the model must be walkable.
        let _ = format!("{config:?}");
    }
});
