//! The limit options (`rlimit_*=`, cgroup) through the whole loader (docs/extensions.md,
//! "Limits").

use std::path::Path;

use super::*;

fn load(options: &str) -> Result<Config, String> {
    let text = format!("[supervisord]\n[program:app]\ncommand=/bin/app\n{options}");
    parse_with_env(
        &text,
        Path::new("/etc/supervisord.conf"),
        &CliOverrides::default(),
        &[],
    )
    .map_err(|e| e.to_string())
}

fn limits(options: &str) -> Limits {
    let cfg = load(options).unwrap_or_else(|e| panic!("unexpected error: {e}"));
    cfg.groups[0].processes[0].ext.limits.clone()
}

#[test]
fn no_limits_by_default() {
    assert_eq!(limits(""), Limits::default());
    // cgroup_parent= alone makes no cgroup (it can sit in [program-default]).
    assert_eq!(
        limits("cgroup_parent=/sys/fs/cgroup/x\n"),
        Limits::default()
    );
}

#[test]
fn rlimits_are_read_in_a_fixed_order() {
    let l = limits("rlimit_as=1GB\nrlimit_core=unlimited\nrlimit_nofile=1024:4096\nrlimit_nproc=%(process_num)s00\n");
    let got: Vec<String> = l
        .rlimits
        .iter()
        .map(|r| format!("{}={r}", r.resource.option()))
        .collect();
    assert_eq!(
        got,
        [
            "rlimit_nofile=1024:4096",
            "rlimit_nproc=0:0",
            "rlimit_core=infinity:infinity",
            "rlimit_as=1073741824:1073741824",
        ]
    );
    assert_eq!(l.cgroup, None);
}

#[test]
fn cgroup_options() {
    let l = limits("memory_max=256MB\ncpu_max=50%%\ncgroup_parent=/sys/fs/cgroup/apps/../svc\n");
    assert_eq!(
        l.cgroup,
        Some(CgroupLimits {
            parent: Some("/sys/fs/cgroup/svc".into()),
            memory_max: Some("268435456".into()),
            cpu_max: Some("50000 100000".into()),
        })
    );
    assert_eq!(
        limits("cgroup=true\n").cgroup,
        Some(CgroupLimits::default())
    );
    let l = limits("[program-default]\ncgroup=true\n");
    assert!(l.cgroup.is_some());
}

#[test]
fn errors_name_section_option_and_value() {
    for (opt, want) in [
        ("rlimit_nofile=4096:1024", "invalid value for 'rlimit_nofile': '4096:1024': the soft limit 4096 is above the hard limit 1024"),
        ("rlimit_nproc=many", "invalid value for 'rlimit_nproc': 'many' is not an integer"),
        ("rlimit_core=5XB", "invalid value for 'rlimit_core': '5XB' is not a valid byte size"),
        ("rlimit_as=-1", "invalid value for 'rlimit_as': '-1' is negative"),
        ("memory_max=0", "invalid value for 'memory_max': '0' must be a positive byte size or 'max'"),
        ("cpu_max=0%%", "invalid value for 'cpu_max': '0%' is not a valid CPU limit"),
        ("cgroup=maybe", "invalid value for 'cgroup'"),
        ("cgroup_parent=rel/dir", "invalid value for 'cgroup_parent': 'rel/dir' is not an absolute path"),
    ] {
        let e = load(&format!("{opt}\n")).expect_err(opt);
        assert!(e.contains(want), "{opt}: {e}");
        assert!(
            e.contains("in section 'program:app' (file: '/etc/supervisord.conf')"),
            "{e}"
        );
    }
}
