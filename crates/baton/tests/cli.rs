//! The command line: configuration errors name the key; admin commands print the key last.

mod common;

use common::*;
use std::process::Command;

#[test]
fn unknown_configuration_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("baton.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 9\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("baton.toml"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("listen_port"), "{stderr}");
}

#[test]
fn bad_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--database", "mysql://nope"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database.url"), "{stderr}");
}

#[tokio::test]
async fn default_database_is_created_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let output = Command::new(BIN)
            .args(["admin", "create-agent", "--name", "Dana"])
            .current_dir(dir.path())
            .env_remove("BATON_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout.lines().last().unwrap().to_string()
    };
    assert!(key.starts_with("bk_") && !key.contains(' '), "{key:?}");
    assert!(dir.path().join("baton-data/baton.db").exists());
}
