//! `supervisorctl`: see [`supervisor_daemon::ctl`].

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(supervisor_daemon::ctl::main(argv));
}
