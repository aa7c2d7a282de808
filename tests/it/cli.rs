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

/// What `serve` logs from start to a graceful stop, with `env` set.
async fn serve_logs(env: &[(&str, &str)]) -> String {
    let dir = scratch_dir(&format!("logs-{}", env.len()));
    let listen = highwater::bench::server_process::free_addr().unwrap();
    let config = dir.join("highwater.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{listen}\"\n[clickhouse]\nurl = \"{}\"\ndatabase = \"it_logs\"\n\
             [wal]\ndir = \"{}\"\n[jobs]\nenabled = false\n[[project]]\nname = \"chat\"\n",
            crate::clickhouse_url(),
            dir.join("wal").display()
        ),
    )
    .unwrap();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "highwater=info")
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = crate::http_client().build().unwrap();
    for _ in 0..300 {
        if http
            .get(format!("http://{listen}/readyz"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    highwater::bench::server_process::stop_server(&mut server).await;
    let mut logs = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut server.stderr.take().unwrap(), &mut logs)
        .await
        .unwrap();
    assert!(logs.contains("highwater is serving"), "{logs}");
    logs
}

#[tokio::test]
async fn logs_to_a_pipe_are_plain_text_or_json_lines_when_asked() {
    let plain = serve_logs(&[]).await;
    assert!(
        !plain.contains('\u{1b}'),
        "colour escapes in a pipe: {plain:?}"
    );
    let json = serve_logs(&[("HIGHWATER_LOG_FORMAT", "json")]).await;
    for line in json.lines().filter(|l| !l.is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
}
