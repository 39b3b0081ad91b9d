//! Harness for the end-to-end tests: finds the built binaries and the Python venv, writes
//! configs into temporary directories, starts daemons and waits on what they log.
