//! The sample configuration printed by `echo_supervisord_conf`.

/// A documented sample `supervisord.conf`. Every section is shown; optional settings are
/// commented out and show their default value. It parses as it is.
pub const SAMPLE_CONFIG: &str = r#"; Sample supervisord configuration file (supervisor-rs).
;
; Lines starting with ';' or '#' are comments. A ';' or '#' preceded by whitespace starts an
; inline comment. Indented lines continue the previous value.
;
; Values may use Python-style %(name)s expansions. Every option can use %(ENV_X)s for an
; environment variable X of supervisord. [supervisord] options and most paths can also use
; %(here)s, the directory of this file. Program options can use %(program_name)s,
; %(group_name)s, %(host_node_name)s, and per process %(process_num)d and %(numprocs)d.
; A literal percent sign is written %%.
;
; Quote values in environment= settings: KEY="value",KEY2="value2"
;
; Default search path when -c is not given: ../etc/supervisord.conf and ../supervisord.conf
; relative to the executable, ./supervisord.conf, ./etc/supervisord.conf,
; /etc/supervisord.conf, /etc/supervisor/supervisord.conf.

[unix_http_server]
file=/tmp/supervisor.sock   ; the path to the socket file
;chmod=0700                 ; socket file mode (default 0700)
;chown=nobody:nogroup       ; socket file uid:gid owner
;username=user              ; default is no username (open server)
;password=123               ; default is no password (open server)

; The inet HTTP server is disabled by default.
;[inet_http_server]         ; inet (TCP) server disabled by default
;port=127.0.0.1:9001        ; ip_address:port specifier, *:port for all interfaces
;username=user              ; default is no username (open server)
;password=123               ; default is no password (open server)

[supervisord]
logfile=/tmp/supervisord.log ; main log file; default $CWD/supervisord.log
logfile_maxbytes=50MB        ; max main logfile bytes before rotation; default 50MB
logfile_backups=10           ; # of main logfile backups; 0 means none, default 10
loglevel=info                ; log level; default info; others: debug,warn,trace,blather
pidfile=/tmp/supervisord.pid ; supervisord pidfile; default supervisord.pid
nodaemon=false               ; start in foreground if true; default false
silent=false                 ; no logs to stdout if true; default false
minfds=1024                  ; min. avail startup file descriptors; default 1024
minprocs=200                 ; min. avail process descriptors; default 200
;umask=022                   ; process file creation umask; default 022
;user=supervisord            ; setuid to this UNIX account at startup; recommended if root
;identifier=supervisor       ; supervisord identifier, default is 'supervisor'
;directory=/tmp              ; default is not to cd during start
;nocleanup=true              ; don't clean up tempfiles at start; default false
;childlogdir=/tmp            ; 'AUTO' child log dir, default $TEMP
;environment=KEY="value"     ; key value pairs to add to environment
;strip_ansi=false            ; strip ansi escape codes in logs; def. false

; The rpcinterface:supervisor section must remain in the config file for the RPC
; (supervisorctl/web interface) to work.
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

; The supervisorctl section configures how supervisorctl will connect to supervisord.
[supervisorctl]
serverurl=unix:///tmp/supervisor.sock ; use a unix:// URL for a unix socket
;serverurl=http://127.0.0.1:9001 ; use an http:// url to specify an inet socket
;username=chris              ; should be same as in [*_http_server] if set
;password=123                ; should be same as in [*_http_server] if set
;prompt=mysupervisor         ; cmd line prompt (default "supervisor")
;history_file=~/.sc_history  ; use readline history if available

; The sample program section below shows all possible program subsection values.
; Create one or more 'real' program: sections to be able to control them under
; supervisor.

;[program:theprogramname]
;command=/bin/cat              ; the program (relative uses PATH, can take args)
;process_name=%(program_name)s ; process_name expr (default %(program_name)s)
;numprocs=1                    ; number of processes copies to start (def 1)
;numprocs_start=0              ; first process_num (def 0)
;directory=/tmp                ; directory to cwd to before exec (def no cwd)
;umask=022                     ; umask for process (default None)
;priority=999                  ; the relative start priority (default 999)
;autostart=true                ; start at supervisord start (default: true)
;startsecs=1                   ; # of secs prog must stay up to be running (def. 1)
;startretries=3                ; max # of serial start failures when starting (default 3)
;autorestart=unexpected        ; when to restart if exited after running (def: unexpected)
;exitcodes=0                   ; 'expected' exit codes used with autorestart (default 0)
;stopsignal=TERM               ; signal used to kill process (default TERM)
;stopwaitsecs=10               ; max num secs to wait b4 SIGKILL (default 10)
;stopasgroup=false             ; send stop signal to the UNIX process group (default false)
;killasgroup=false             ; SIGKILL the UNIX process group (def false)
;user=chrism                   ; setuid to this UNIX account to run the program
;redirect_stderr=true          ; redirect proc stderr to stdout (default false)
;stdout_logfile=/a/path        ; stdout log path, NONE for none; default AUTO
;stdout_logfile_maxbytes=1MB   ; max # logfile bytes b4 rotation (default 50MB)
;stdout_logfile_backups=10     ; # of stdout logfile backups (0 means none, default 10)
;stdout_capture_maxbytes=1MB   ; number of bytes in 'capturemode' (default 0)
;stdout_events_enabled=false   ; emit events on stdout writes (default false)
;stdout_syslog=false           ; send stdout to syslog with process name (default false)
;stderr_logfile=/a/path        ; stderr log path, NONE for none; default AUTO
;stderr_logfile_maxbytes=1MB   ; max # logfile bytes b4 rotation (default 50MB)
;stderr_logfile_backups=10     ; # of stderr logfile backups (0 means none, default 10)
;stderr_capture_maxbytes=1MB   ; number of bytes in 'capturemode' (default 0)
;stderr_events_enabled=false   ; emit events on stderr writes (default false)
;stderr_syslog=false           ; send stderr to syslog with process name (default false)
;environment=A="1",B="2"       ; process environment additions (def no adds)
;serverurl=AUTO                ; override serverurl computation (childutils)

; The sample eventlistener section below shows all possible eventlistener
; subsection values. Create one or more 'real' eventlistener: sections to be able
; to handle event notifications sent by supervisord.

;[eventlistener:theeventlistenername]
;command=/bin/eventlistener    ; the program (relative uses PATH, can take args)
;process_name=%(program_name)s ; process_name expr (default %(program_name)s)
;numprocs=1                    ; number of processes copies to start (def 1)
;events=EVENT                  ; event notif. types to subscribe to (req'd)
;buffer_size=10                ; event buffer queue size (default 10)
;directory=/tmp                ; directory to cwd to before exec (def no cwd)
;umask=022                     ; umask for process (default None)
;priority=-1                   ; the relative start priority (default -1)
;autostart=true                ; start at supervisord start (default: true)
;startsecs=1                   ; # of secs prog must stay up to be running (def. 1)
;startretries=3                ; max # of serial start failures when starting (default 3)
;autorestart=unexpected        ; autorestart if exited after running (def: unexpected)
;exitcodes=0                   ; 'expected' exit codes used with autorestart (default 0)
;stopsignal=QUIT               ; signal used to kill process (default TERM)
;stopwaitsecs=10               ; max num secs to wait b4 SIGKILL (default 10)
;stopasgroup=false             ; send stop signal to the UNIX process group (default false)
;killasgroup=false             ; SIGKILL the UNIX process group (def false)
;user=chrism                   ; setuid to this UNIX account to run the program
;redirect_stderr=false         ; redirect_stderr=true is not allowed for eventlisteners
;stdout_logfile=/a/path        ; stdout log path, NONE for none; default AUTO
;stdout_logfile_maxbytes=1MB   ; max # logfile bytes b4 rotation (default 50MB)
;stdout_logfile_backups=10     ; # of stdout logfile backups (0 means none, default 10)
;stdout_events_enabled=false   ; emit events on stdout writes (default false)
;stdout_syslog=false           ; send stdout to syslog with process name (default false)
;stderr_logfile=/a/path        ; stderr log path, NONE for none; default AUTO
;stderr_logfile_maxbytes=1MB   ; max # logfile bytes b4 rotation (default 50MB)
;stderr_logfile_backups=10     ; # of stderr logfile backups (0 means none, default 10)
;stderr_events_enabled=false   ; emit events on stderr writes (default false)
;stderr_syslog=false           ; send stderr to syslog with process name (default false)
;environment=A="1",B="2"       ; process environment additions
;serverurl=AUTO                ; override serverurl computation (childutils)

; The sample fcgi-program section below shows the options specific to FastCGI programs
; (all [program:x] options are accepted too).

;[fcgi-program:thefcgiprogramname]
;command=/usr/bin/php-cgi      ; the program (relative uses PATH, can take args)
;socket=unix:///tmp/%(program_name)s.sock ; unix:///abs/path or tcp://host:port (req'd)
;socket_backlog=1024           ; listen(2) backlog (default SOMAXCONN)
;socket_owner=chrism:wheel     ; user[:group] of a unix socket
;socket_mode=0700              ; mode of a unix socket (default 0700)
;process_name=%(program_name)s_%(process_num)02d
;numprocs=5

; The sample group section below shows all possible group values. Create one or more
; 'real' group: sections to create "heterogeneous" process groups.

;[group:thegroupname]
;programs=progname1,progname2  ; each refers to 'x' in [program:x] definitions
;priority=999                  ; the relative start priority (default 999)

; The [include] section can just contain the "files" setting. This setting can list
; multiple files (separated by whitespace or newlines). It can also contain wildcards.
; The filenames are interpreted as relative to this file. Included files *cannot*
; include files themselves.

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
        assert_eq!(cfg.supervisorctl.serverurl, "unix:///tmp/supervisor.sock");
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
