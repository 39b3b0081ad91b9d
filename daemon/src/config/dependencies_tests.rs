//! Tests of `depends_on=` and the supervisord-dependent-startup options through the loader.

use std::path::Path;

use supervisor_protocol::ProcessState;

use super::*;

fn parse(text: &str) -> Result<Config, String> {
    parse_with_env(
        text,
        Path::new("/etc/supervisord.conf"),
        &CliOverrides::default(),
        &[],
    )
    .map_err(|e| e.to_string())
}

fn deps_of(cfg: &Config, group: &str) -> Vec<Dependency> {
    cfg.groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.processes[0].ext.dependencies.clone())
        .unwrap_or_default()
}

const BASE: &str = "[supervisord]\n[program:db]\ncommand=/bin/db\n[program:cache]\ncommand=/bin/cache\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n";

#[test]
fn depends_on_names_groups_and_processes() {
    let cfg = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndepends_on=db, cache:* cache:cache_1\n"
    ))
    .expect("valid");
    let deps = deps_of(&cfg, "web");
    let targets: Vec<DepTarget> = deps.iter().map(|d| d.target.clone()).collect();
    assert_eq!(
        targets,
        vec![
            DepTarget::Name("db".into()),
            DepTarget::Group("cache".into()),
            DepTarget::Process {
                group: "cache".into(),
                name: "cache_1".into()
            },
        ]
    );
    assert!(deps.iter().all(|d| d.states.is_none()));
}

#[test]
fn stock_configs_have_no_dependencies() {
    let cfg = parse(BASE).expect("valid");
    assert!(cfg
        .groups
        .iter()
        .flat_map(|g| &g.processes)
        .all(|p| p.ext.dependencies.is_empty() && !p.ext.dependent_startup));
}

#[test]
fn an_unknown_name_is_an_error_naming_both_sections() {
    let err = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndepends_on=db,redis\n"
    ))
    .expect_err("unknown");
    assert!(err.contains("'redis'"), "{err}");
    assert!(err.contains("[program:redis]"), "{err}");
    assert!(err.contains("section 'program:web'"), "{err}");
    let err = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndepends_on=cache:cache_9\n"
    ))
    .expect_err("unknown process");
    assert!(err.contains("'cache:cache_9'"), "{err}");
}

#[test]
fn a_cycle_is_an_error_naming_the_sections() {
    let err = parse(
        "[supervisord]\n[program:a]\ncommand=/bin/a\ndepends_on=b\n\
         [program:b]\ncommand=/bin/b\ndepends_on=c\n\
         [program:c]\ncommand=/bin/c\ndepends_on=a\n",
    )
    .expect_err("cycle");
    assert!(
        err.contains("dependency cycle: [program:a] -> [program:b] -> [program:c] -> [program:a]"),
        "{err}"
    );
    let err =
        parse("[supervisord]\n[program:a]\ncommand=/bin/a\ndepends_on=a\n").expect_err("self");
    assert!(err.contains("[program:a] -> [program:a]"), "{err}");
}

#[test]
fn bad_names_are_errors() {
    for bad in ["a:b:c", ":*", "x/y"] {
        let err = parse(&format!(
            "{BASE}[program:web]\ncommand=/bin/web\ndepends_on={bad}\n"
        ))
        .expect_err(bad);
        assert!(err.contains("invalid value for 'depends_on'"), "{err}");
    }
}

#[test]
fn dependent_startup_options_read_as_the_plugin_does() {
    let cfg = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\nautostart=false\ndependent_startup=true\n\
         dependent_startup_wait_for=db:running cache:Exited,FATAL\n\
         dependent_startup_inherit_priority=true\n"
    ))
    .expect("valid");
    let g = cfg.groups.iter().find(|g| g.name == "web").expect("web");
    let ext = &g.processes[0].ext;
    assert!(ext.dependent_startup && ext.dependent_startup_inherit_priority);
    let states: Vec<Option<Vec<ProcessState>>> =
        ext.dependencies.iter().map(|d| d.states.clone()).collect();
    assert_eq!(
        states,
        vec![
            Some(vec![ProcessState::Running]),
            Some(vec![ProcessState::Exited, ProcessState::Fatal])
        ]
    );
    // A name without states waits for RUNNING.
    let cfg = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndependent_startup=true\ndependent_startup_wait_for=db\n"
    ))
    .expect("valid");
    assert_eq!(
        deps_of(&cfg, "web")[0].states,
        Some(vec![ProcessState::Running])
    );
}

#[test]
fn wait_for_is_ignored_without_dependent_startup() {
    let cfg = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndependent_startup_wait_for=db:running\n"
    ))
    .expect("valid");
    assert!(deps_of(&cfg, "web").is_empty());
}

#[test]
fn wait_for_unknown_names_are_dropped_with_a_warning_and_bad_states_refused() {
    let cfg = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndependent_startup=true\n\
         dependent_startup_wait_for=nosuch:running db:running\n"
    ))
    .expect("valid");
    assert_eq!(deps_of(&cfg, "web").len(), 1);
    assert!(
        cfg.warnings.iter().any(|w| w.contains(
            "[program:web] dependent_startup_wait_for names unknown program 'nosuch:running'"
        )),
        "{:?}",
        cfg.warnings
    );
    let err = parse(&format!(
        "{BASE}[program:web]\ncommand=/bin/web\ndependent_startup=true\n\
         dependent_startup_wait_for=db:sleeping\n"
    ))
    .expect_err("bad state");
    assert!(err.contains("unknown state 'sleeping'"), "{err}");
}

#[test]
fn a_program_in_a_group_is_named_by_its_section() {
    let cfg = parse(
        "[supervisord]\n[group:site]\nprograms=db,web\n\
         [program:db]\ncommand=/bin/db\n\
         [program:web]\ncommand=/bin/web\ndepends_on=db\n",
    )
    .expect("valid");
    let site = cfg.groups.iter().find(|g| g.name == "site").expect("site");
    let web = site
        .processes
        .iter()
        .find(|p| p.name == "web")
        .expect("web");
    assert_eq!(web.ext.dependencies[0].target, DepTarget::Name("db".into()));
}
