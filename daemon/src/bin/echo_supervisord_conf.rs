//! `echo_supervisord_conf`: print a documented sample configuration, like Supervisor's tool of
//! the same name. `supervisord --echo-config` prints the same text.

use clap::Parser;

/// Print a sample supervisord.conf to standard output.
#[derive(Parser, Debug)]
#[command(
    name = "echo_supervisord_conf",
    about = "Print a documented sample supervisord.conf (redirect it to a file to start a config)."
)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
    print!("{}", supervisor_daemon::config::SAMPLE_CONFIG);
}
