//! Tests of `ready_check=` / `health_check=` through the loader.

use std::path::Path;

use super::*;

fn parse(options: &str) -> Result<Extensions, String> {
    let text = format!("[supervisord]\n[program:app]\ncommand=/bin/app\n{options}");
    parse_with_env(
        &text,
        Path::new("/etc/supervisord.conf"),
        &CliOverrides::default(),
        &[],
    )
    .map(|c| c.groups[0].processes[0].ext.clone())
    .map_err(|e| e.to_string())
}

#[test]
fn defaults_per_check() {
    let ext = parse("ready_check=tcp://127.0.0.1:5432\nhealth_check=exec:pg_isready -q\n")
        .expect("valid");
    let ready = ext.ready_check.expect("ready");
    assert_eq!(
        ready.probe,
        Probe::Tcp {
            host: "127.0.0.1".into(),
            port: 5432
        }
    );
    assert_eq!(
        (
            ready.interval,
            ready.timeout,
            ready.start_delay,
            ready.failures
        ),
        (1, 1, 0, 60)
    );
    assert_eq!(ready.action, CheckAction::Restart);
    let health = ext.health_check.expect("health");
    assert_eq!(health.probe, Probe::Exec("pg_isready -q".into()));
    assert_eq!(
        (health.interval, health.timeout, health.failures),
        (10, 5, 3)
    );
    assert!(parse("").expect("valid").ready_check.is_none());
}

#[test]
fn http_urls() {
    let probe = |spec: &str| {
        parse(&format!("ready_check={spec}\n"))
            .expect(spec)
            .ready_check
            .expect("check")
            .probe
    };
    assert_eq!(
        probe("http://localhost:8080/health?full=1"),
        Probe::Http {
            host: "localhost".into(),
            port: 8080,
            path: "/health?full=1".into(),
            status: (200, 399)
        }
    );
    assert_eq!(
        probe("http://[::1]"),
        Probe::Http {
            host: "::1".into(),
            port: 80,
            path: "/".into(),
            status: (200, 399)
        }
    );
    let ext = parse("health_check=http://h:1/\nhealth_check_http_status=204\n").expect("valid");
    assert!(matches!(
        ext.health_check.map(|c| c.probe),
        Some(Probe::Http {
            status: (204, 204),
            ..
        })
    ));
    for bad in ["http://u:p@h/", "http://h:0/", "http://:80/"] {
        assert!(parse(&format!("ready_check={bad}\n")).is_err(), "{bad}");
    }
}

#[test]
fn options_and_actions() {
    let ext = parse(
        "health_check=tcp://[::1]:80\nhealth_check_interval=2\nhealth_check_timeout=3\n\
         health_check_start_delay=4\nhealth_check_failures=0\nhealth_check_action=Nothing\n",
    )
    .expect("valid");
    let c = ext.health_check.expect("check");
    assert_eq!(
        (c.interval, c.timeout, c.start_delay, c.failures, c.action),
        (2, 3, 4, 0, CheckAction::Nothing)
    );
    let err = parse("health_check=tcp://h:1\nhealth_check_interval=0\n").expect_err("zero");
    assert!(err.contains("health_check_interval"), "{err}");
}
