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

fn env_of(cfg: &Config, group: &str) -> Vec<(String, String)> {
    let g = cfg
        .groups
        .iter()
        .find(|g| g.name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    g.processes[0].environment.clone()
}

fn kv(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn environment_files_merge_in_order_under_the_program_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("base.env"),
        "# base\nexport A=from-base\nB='from base'\nC=\"c\\nc\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("prod.env"), "B=from-prod\nD=d\n").unwrap();
    let conf = dir.path().join("supervisord.conf");
    let text = "[supervisord]\nenvironment=G=global,A=global\n\
                [program:app]\ncommand=/bin/app --d=%(ENV_D)s\n\
                environment_file=base.env, %(here)s/prod.env\n   -missing.env\n\
                environment=D=program\n";
    let cfg = parse_with(text, &conf).unwrap_or_else(|e| panic!("{e}"));
    // [supervisord] < files (later wins) < environment=.
    assert_eq!(
        env_of(&cfg, "app"),
        kv(&[
            ("G", "global"),
            ("A", "from-base"),
            ("B", "from-prod"),
            ("C", "c\nc"),
            ("D", "program"),
        ])
    );
    let p = &cfg.groups[0].processes[0];
    assert_eq!(p.command, "/bin/app --d=program");
    assert_eq!(
        p.ext.environment_files,
        vec![
            dir.path().join("base.env"),
            dir.path().join("prod.env"),
            dir.path().join("missing.env"),
        ]
    );
}

#[test]
fn environment_file_errors_name_section_option_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("supervisord.conf");
    let missing = dir.path().join("nope.env");
    let e = parse_with(
        "[supervisord]\n[program:app]\ncommand=x\nenvironment_file=nope.env\n",
        &conf,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("invalid value for 'environment_file'")
            && e.contains(&missing.display().to_string())
            && e.contains("section 'program:app'")
            && e.contains("prefix the path with '-'"),
        "{e}"
    );
    std::fs::write(dir.path().join("bad.env"), "OK=1\nthis is not a pair\n").unwrap();
    let e = parse_with(
        "[supervisord]\n[program:app]\ncommand=x\nenvironment_file=bad.env\n",
        &conf,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("bad.env, line 2: expected KEY=VALUE") && e.contains("'program:app'"),
        "{e}"
    );
    // A directory, and a file over the size bound.
    let e = parse_with(
        "[supervisord]\n[program:app]\ncommand=x\nenvironment_file=-.\n",
        &conf,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("is a directory"), "{e}");
    let big = "A=1\n".repeat(300_000);
    std::fs::write(dir.path().join("big.env"), big).unwrap();
    let e = parse_with(
        "[supervisord]\n[program:app]\ncommand=x\nenvironment_file=big.env\n",
        &conf,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("larger than 1048576 bytes"), "{e}");
}

#[test]
fn program_default_is_inherited_by_programs_only() {
    let text = "[supervisord]\n\
                [DEFAULT]\nstartsecs=9\n\
                [program-default]\nstartsecs=5\nautorestart=false\nrestart_delay=3\n\
                environment=SHARED=1\n\
                [program:a]\ncommand=/bin/a\n\
                [program:b]\ncommand=/bin/b\nautorestart=true\nenvironment=OWN=2\n\
                [eventlistener:l]\ncommand=/bin/l\nevents=TICK_5\n";
    let cfg = parse(text);
    let proc_of = |name: &str| {
        cfg.groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.processes[0].clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let a = proc_of("a");
    let b = proc_of("b");
    let l = proc_of("l");
    // [program-default] wins over [DEFAULT]; the program's own value wins over both.
    assert_eq!((a.startsecs, b.startsecs), (5, 5));
    assert_eq!(a.autorestart, AutoRestart::Never);
    assert_eq!(b.autorestart, AutoRestart::Always);
    assert_eq!((a.ext.restart_delay, b.ext.restart_delay), (3, 3));
    // environment= is one option: the program's replaces the default's (no merge).
    assert_eq!(a.environment, kv(&[("SHARED", "1")]));
    assert_eq!(b.environment, kv(&[("OWN", "2")]));
    // Event listeners do not inherit (only [DEFAULT] applies to them).
    assert_eq!(l.startsecs, 9);
    assert_eq!(l.ext.restart_delay, 0);
    assert!(l.environment.is_empty());
}

#[test]
fn program_default_errors_point_at_its_own_line() {
    let e = parse_err("[supervisord]\n[program-default]\nstartsecs=soon\n[program:a]\ncommand=x\n");
    assert!(
        e.contains("invalid value for 'startsecs'") && e.contains("section 'program:a'"),
        "{e}"
    );
    // No [program:x]: the section is simply unused.
    let cfg = parse("[supervisord]\n[program-default]\nstartsecs=soon\n");
    assert!(cfg.groups.is_empty());
}
