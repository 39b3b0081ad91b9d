//! Tests of the extension options (docs/extensions.md) through the whole loader.

use std::path::Path;

use super::*;

const CONF: &str = "/etc/supervisord.conf";

fn parse_with(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, path, &CliOverrides::default(), &[])
}

fn parse(text: &str) -> Config {
    parse_with(text, Path::new(CONF)).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn parse_err(text: &str) -> String {
    match parse_with(text, Path::new(CONF)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn program(options: &str) -> String {
    format!("[supervisord]\n[program:app]\ncommand=/bin/app\n{options}")
}

fn ext_of(cfg: &Config, group: &str) -> Extensions {
    let g = cfg
        .groups
        .iter()
        .find(|g| g.name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    g.processes[0].ext.clone()
}

#[test]
fn extensions_are_off_by_default() {
    assert_eq!(ext_of(&parse(&program("")), "app"), Extensions::default());
}

#[test]
fn restart_policy_options() {
    let cfg = parse(&program(
        "restart_delay=5\nbackoff_max=30\nretry_fatal_after=60\nretry_fatal_limit=3\n",
    ));
    let ext = ext_of(&cfg, "app");
    assert_eq!(ext.restart_delay, 5);
    assert_eq!(ext.backoff_max, Some(30));
    assert_eq!(
        ext.retry_fatal,
        Some(RetryFatal {
            after: 60,
            limit: Some(3)
        })
    );
    let ext = ext_of(&parse(&program("retry_fatal_after=10\n")), "app");
    assert_eq!(
        ext.retry_fatal,
        Some(RetryFatal {
            after: 10,
            limit: None
        })
    );
    let ext = ext_of(
        &parse(&program("retry_fatal_after=10\nretry_fatal_limit=0\n")),
        "app",
    );
    assert_eq!(ext.retry_fatal.and_then(|r| r.limit), None);
    // %(program_name)s and friends expand as in every program option.
    let cfg = parse(&program(
        "numprocs_start=7\nrestart_delay=%(process_num)s\n",
    ));
    assert_eq!(ext_of(&cfg, "app").restart_delay, 7);
}

#[test]
fn restart_policy_errors_name_section_option_and_value() {
    let e = parse_err(&program("restart_delay=-1\n"));
    assert!(
        e.contains("invalid value for 'restart_delay'")
            && e.contains("'-1'")
            && e.contains("section 'program:app'"),
        "{e}"
    );
    let e = parse_err(&program("backoff_max=0\n"));
    assert!(
        e.contains("invalid value for 'backoff_max'") && e.contains("at least 1"),
        "{e}"
    );
    let e = parse_err(&program("retry_fatal_after=soon\n"));
    assert!(e.contains("invalid value for 'retry_fatal_after'"), "{e}");
    let e = parse_err(&program("retry_fatal_limit=3\n"));
    assert!(
        e.contains("retry_fatal_limit is set but retry_fatal_after is not")
            && e.contains("section 'program:app'"),
        "{e}"
    );
    let e = parse_err(&program("retry_fatal_after=1\nretry_fatal_limit=x\n"));
    assert!(e.contains("invalid value for 'retry_fatal_limit'"), "{e}");
}
