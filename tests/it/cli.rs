//! The command line refuses bad input before touching any storage.

use std::process::Command;

use crate::scratch_dir;

/// Runs `highwater --config <a one-project config> args…`.
fn highwater(args: &[&str]) -> (bool, String) {
    let config = scratch_dir("cli").join("highwater.toml");
    std::fs::write(
        &config,
        "[clickhouse]\nurl = \"http://127.0.0.1:9\"\n[[project]]\nname = \"chat\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn jobs_and_metrics_refuse_bad_projects_ranges_and_dates() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "jobs",
                "run",
                "--project",
                "nope",
                "--from",
                "2020-03-01",
                "--to",
                "2020-03-02",
            ],
            "unknown project \"nope\"; configured projects: chat",
        ),
        (
            &[
                "jobs",
                "run",
                "--project",
                "chat",
                "--from",
                "2020-03-02",
                "--to",
                "2020-03-01",
            ],
            "is after",
        ),
        (
            &[
                "jobs",
                "run",
                "--project",
                "chat",
                "--from",
                "2019-01-01",
                "--to",
                "2020-03-01",
            ],
            "at most 400 allowed",
        ),
        (
            &[
                "metrics",
                "daily",
                "--project",
                "chat",
                "--from",
                "2020-13-01",
                "--to",
                "2020-03-01",
            ],
            "invalid value '2020-13-01'",
        ),
        (
            &[
                "metrics",
                "daily",
                "--project",
                "chat",
                "--from",
                "2020-03-01",
                "--to",
                "2020-03-01",
                "--format",
                "xml",
            ],
            "invalid value 'xml'",
        ),
    ];
    for (args, needle) in cases {
        let (ok, stderr) = highwater(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_without_a_configuration_says_what_to_do() {
    let output = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(["--config", "/nonexistent/highwater.toml", "serve"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("copy highwater.example.toml"), "{stderr}");
}

#[test]
fn serve_refuses_the_example_keys_and_names_them() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/highwater.example.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(["--config", example, "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in ["change-me-ingest-key-0001", "change-me-read-key-00001"] {
        assert!(stderr.contains(key), "{stderr}");
    }
    assert!(stderr.contains("highwater keys new"), "{stderr}");
}

#[test]
fn keys_new_prints_fresh_keys_a_configuration_accepts() {
    let output = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(["keys", "new", "--count", "3"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let keys: Vec<&str> = stdout.lines().collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0] != keys[1] && keys[1] != keys[2]);
    let mut settings = highwater::config::Settings::default();
    settings
        .projects
        .push(highwater::config::ProjectSettings::new(
            "chat", keys[0], keys[1],
        ));
    settings.validate().unwrap();
    // A key shorter than 24 characters is refused.
    settings.projects[0].read_keys = vec![keys[2][..23].to_owned()];
    let refused = format!("{:#}", settings.validate().unwrap_err());
    assert!(refused.contains("23 characters"), "{refused}");
}
