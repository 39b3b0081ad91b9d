//! The sample configuration printed by `echo_supervisord_conf`.

/// A documented sample `supervisord.conf`. Every section is shown; optional settings are
/// commented out and show their default value. It parses as it is.
pub const SAMPLE_CONFIG: &str = r#"; Sample supervisor config file.
;
; Written for supervisor-rs, which reads Supervisor 4.3.0 configuration files unchanged. The
; option reference is http://supervisord.org/configuration.html.
;
; Things to know:
;  - Values are not passed through a shell: "~" and "$HOME" stay as written. Use
;    "%(ENV_HOME)s" to insert an environment variable of supervisord.
;  - Quotes are part of the value, except in the environment= options (see below).
;  - An inline comment needs whitespace before its ';': "a=b ;note", never "a=b;note".
;  - A command is cut where something looks like such a comment:
;    "command=sh -c 'one ; two'" becomes "command=sh -c 'one".
;
; About /tmp:
;  This example keeps its files in /tmp only because every system has one. Move them
;  somewhere permanent: many systems clean old files out of /tmp, and supervisorctl cannot
;  reach supervisord once the socket of [unix_http_server] has been deleted.

[unix_http_server]
file=/tmp/supervisor.sock   ; where the socket is created
;chmod=0700                 ; permissions of the socket (default 0700)
;chown=nobody:nogroup       ; owner uid:gid of the socket
;username=user              ; no username by default (no authentication)
;password=123               ; no password by default (no authentication)

; A word on the TCP server:
;  [inet_http_server] stays off unless you uncomment it. It speaks plain HTTP (no
;  encryption) and asks for no password unless username= and password= are set, so bind
;  it to localhost or to a private network you trust, and never to the public internet.

;[inet_http_server]         ; TCP server (off by default)
;port=127.0.0.1:9001        ; host:port to listen on; *:port means every interface
;username=user              ; no username by default (no authentication)
;password=123               ; no password by default (no authentication)

[supervisord]
logfile=/tmp/supervisord.log ; main log; default $CWD/supervisord.log
logfile_maxbytes=50MB        ; rotate the main log at this size; default 50MB
logfile_backups=10           ; rotated main logs kept; 0 keeps none; default 10
loglevel=info                ; critical, error, warn, info, debug, trace or blather; default info
pidfile=/tmp/supervisord.pid ; file holding the daemon's pid; default supervisord.pid
nodaemon=false               ; true stays in the foreground; default false
silent=false                 ; true keeps the log off stdout; default false
minfds=1024                  ; file descriptors needed to start; default 1024
minprocs=200                 ; processes needed to start; default 200
;umask=022                   ; umask of the daemon and its children; default 022
;user=supervisord            ; switch to this account at start-up (advised when root)
;identifier=supervisor       ; name of this instance; default 'supervisor'
;directory=/tmp              ; change to this directory when daemonizing; default none
;nocleanup=true              ; keep AUTO child logs of earlier runs; default false
;childlogdir=/tmp            ; where AUTO child logs go; default the temp directory
;environment=KEY="value"     ; variables added to the environment of every child
;strip_ansi=false            ; remove ANSI escapes from child logs; default false

; supervisorctl and the web pages talk to supervisord through the RPC interface below:
; keep this section. Further interfaces would get their own [rpcinterface:x] sections.

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

; [supervisorctl] tells supervisorctl where supervisord listens: match it to the
; [unix_http_server] or [inet_http_server] section above.

[supervisorctl]
serverurl=unix:///tmp/supervisor.sock ; a unix:// URL names a unix socket
;serverurl=http://127.0.0.1:9001 ; an http:// URL names a TCP server
;username=chris              ; the username of the server section, if set
;password=123                ; the password of the server section, if set
;prompt=mysupervisor         ; shell prompt (default "supervisor")
;history_file=~/.sc_history  ; keep the shell's command history in this file

; A program section with every option it takes. Add one or more real [program:x]
; sections for the programs supervisord should run.

;[program:theprogramname]
;command=/bin/cat              ; what to run, with arguments (a bare name is looked up in PATH)
;process_name=%(program_name)s ; process name expression (default %(program_name)s)
;numprocs=1                    ; how many copies to run (default 1)
;directory=/tmp                ; change to this directory before exec (default: stay)
;umask=022                     ; umask of the process (default: the daemon's)
;priority=999                  ; lower starts earlier, stops later (default 999)
;autostart=true                ; start with supervisord (default true)
;startsecs=1                   ; seconds up before it counts as started (default 1)
;startretries=3                ; failed starts in a row before FATAL (default 3)
;autorestart=unexpected        ; restart after an exit: true, false, unexpected (default unexpected)
;exitcodes=0                   ; exit codes that count as expected (default 0)
;stopsignal=QUIT               ; signal that asks it to stop (default TERM)
;stopwaitsecs=10               ; seconds to wait before SIGKILL (default 10)
;stopasgroup=false             ; send the stop signal to its process group (default false)
;killasgroup=false             ; send SIGKILL to its process group (default false)
;user=chrism                   ; run the program as this account
;redirect_stderr=true          ; write stderr into the stdout log (default false)
;stdout_logfile=/a/path        ; stdout log file, NONE for none (default AUTO)
;stdout_logfile_maxbytes=1MB   ; rotate the stdout log at this size (default 50MB)
;stdout_logfile_backups=10     ; rotated stdout logs kept, 0 for none (default 10)
;stdout_capture_maxbytes=1MB   ; size of the capture-mode buffer (default 0)
;stdout_events_enabled=false   ; send PROCESS_LOG events for stdout (default false)
;stdout_syslog=false           ; copy stdout to syslog, tagged with the name (default false)
;stderr_logfile=/a/path        ; stderr log file, NONE for none (default AUTO)
;stderr_logfile_maxbytes=1MB   ; rotate the stderr log at this size (default 50MB)
;stderr_logfile_backups=10     ; rotated stderr logs kept, 0 for none (default 10)
;stderr_capture_maxbytes=1MB   ; size of the capture-mode buffer (default 0)
;stderr_events_enabled=false   ; send PROCESS_LOG events for stderr (default false)
;stderr_syslog=false           ; copy stderr to syslog, tagged with the name (default false)
;environment=A="1",B="2"       ; variables added to its environment (default none)
;serverurl=AUTO                ; SUPERVISOR_SERVER_URL given to it (default AUTO)

; An eventlistener section with every option it takes. Add one or more real
; [eventlistener:x] sections for programs that should receive supervisord's events.

;[eventlistener:theeventlistenername]
;command=/bin/eventlistener    ; what to run, with arguments (a bare name is looked up in PATH)
;process_name=%(program_name)s ; process name expression (default %(program_name)s)
;numprocs=1                    ; how many copies to run (default 1)
;events=EVENT                  ; event types to receive (required)
;buffer_size=10                ; events queued for the pool (default 10)
;directory=/tmp                ; change to this directory before exec (default: stay)
;umask=022                     ; umask of the process (default: the daemon's)
;priority=-1                   ; lower starts earlier, stops later (default -1)
;autostart=true                ; start with supervisord (default true)
;startsecs=1                   ; seconds up before it counts as started (default 1)
;startretries=3                ; failed starts in a row before FATAL (default 3)
;autorestart=unexpected        ; restart after an exit: true, false, unexpected (default unexpected)
;exitcodes=0                   ; exit codes that count as expected (default 0)
;stopsignal=QUIT               ; signal that asks it to stop (default TERM)
;stopwaitsecs=10               ; seconds to wait before SIGKILL (default 10)
;stopasgroup=false             ; send the stop signal to its process group (default false)
;killasgroup=false             ; send SIGKILL to its process group (default false)
;user=chrism                   ; run the listener as this account
;redirect_stderr=false         ; must stay false: stdout carries the listener protocol
;stdout_logfile=/a/path        ; stdout log file, NONE for none (default AUTO)
;stdout_logfile_maxbytes=1MB   ; rotate the stdout log at this size (default 50MB)
;stdout_logfile_backups=10     ; rotated stdout logs kept, 0 for none (default 10)
;stdout_events_enabled=false   ; send PROCESS_LOG events for stdout (default false)
;stdout_syslog=false           ; copy stdout to syslog, tagged with the name (default false)
;stderr_logfile=/a/path        ; stderr log file, NONE for none (default AUTO)
;stderr_logfile_maxbytes=1MB   ; rotate the stderr log at this size (default 50MB)
;stderr_logfile_backups=10     ; rotated stderr logs kept, 0 for none (default 10)
;stderr_events_enabled=false   ; send PROCESS_LOG events for stderr (default false)
;stderr_syslog=false           ; copy stderr to syslog, tagged with the name (default false)
;environment=A="1",B="2"       ; variables added to its environment (default none)
;serverurl=AUTO                ; SUPERVISOR_SERVER_URL given to it (default AUTO)

; A group section. Add real [group:x] sections to put several [program:x] sections
; into one group.

;[group:thegroupname]
;programs=progname1,progname2  ; the x of each [program:x] in the group
;priority=999                  ; lower starts earlier, stops later (default 999)

; [include] has one option, files: file names or wildcards, separated by whitespace or
; newlines, relative to this file. The included files cannot include further files.

;[include]
;files = relative/directory/*.ini
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_str, CliOverrides, LogFile};
    use std::path::{Path, PathBuf};

    #[test]
    fn sample_parses_with_defaults() {
        let cfg = parse_str(
            SAMPLE_CONFIG,
            Path::new("/etc/supervisord.conf"),
            &CliOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            cfg.supervisord.logfile,
            LogFile::Path(PathBuf::from("/tmp/supervisord.log"))
        );
        assert_eq!(cfg.unix_http_servers.len(), 1);
        assert_eq!(cfg.unix_http_servers[0].chmod, 0o700);
        assert!(cfg.inet_http_servers.is_empty());
        assert!(cfg.groups.is_empty());
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn sample_sections_parse_when_uncommented() {
        // Uncomment the example program, listener and group sections (not the ones that
        // name users/paths that do not exist here) and check they are valid.
        let mut text = String::new();
        let mut on = false;
        for line in SAMPLE_CONFIG.lines() {
            if line.starts_with(";[program:")
                || line.starts_with(";[eventlistener:")
                || line.starts_with(";[group:")
            {
                on = true;
            } else if line.starts_with(";[") || !line.starts_with(';') {
                on = false;
            }
            let skip = [
                "user=",
                "stdout_logfile=",
                "stderr_logfile=",
                "directory=",
                "programs=",
            ];
            if on && !skip.iter().any(|s| line.starts_with(&format!(";{s}"))) {
                text.push_str(&line[1..]);
            } else {
                text.push_str(line);
            }
            text.push('\n');
        }
        text.push_str("programs=theprogramname\n");
        let cfg = parse_str(
            &text,
            Path::new("/etc/supervisord.conf"),
            &CliOverrides::default(),
        )
        .unwrap();
        let names: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, vec!["theeventlistenername", "thegroupname"]);
        let p = &cfg.groups[1].processes[0];
        assert_eq!(p.name, "theprogramname");
        assert!(p.redirect_stderr);
        assert_eq!(
            p.environment,
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
    }
}
