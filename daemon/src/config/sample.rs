pub const SAMPLE_CONFIG: &str = "[supervisord]\n";
