//! `saasctl gitlab trigger` against a tiny local HTTP server: the request
//! GitLab gets, the token kept out of every output, errors mapped to one line
//! and an exit code.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

use saas_e2e::{bin, run_code, run_ok};

/// One canned HTTP answer; the request it received comes back on the channel.
fn http_server(status: u16, body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body_in = vec![0; length];
        reader.read_exact(&mut body_in).unwrap();
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        sender
            .send(format!("{head}{}", String::from_utf8_lossy(&body_in)))
            .unwrap();
    });
    (url, receiver)
}

const TOKEN: &str = "glptt-e2e-secret-token";

fn trigger(url: &str, tenant: &str) -> Command {
    let mut cmd = Command::new(bin("saasctl"));
    cmd.args([
        "gitlab",
        "trigger",
        "--project",
        "group/stacks",
        "--ref",
        "main",
        "-a",
        "web",
        "-t",
        tenant,
    ])
    .args(["--gitlab-url", url])
    .env("SAAS_GITLAB_TRIGGER_TOKEN", TOKEN)
    .env_remove("CI_JOB_TOKEN")
    .env_remove("CI_SERVER_URL");
    cmd
}

fn assert_one_line_without_token(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(
        !stderr.contains(TOKEN) && !stdout.contains(TOKEN),
        "the token was printed"
    );
}

#[test]
fn gitlab_trigger_posts_the_form_and_prints_the_pipeline() {
    let (url, request) = http_server(
        201,
        r#"{"id":4242,"status":"created","web_url":"https://gitlab.example/group/stacks/-/pipelines/4242"}"#,
    );
    let output = run_ok(&mut trigger(&url, "acme"));
    let request = request.recv().unwrap();
    assert!(
        request.starts_with("POST /api/v4/projects/group%2Fstacks/trigger/pipeline HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"),
        "{request}"
    );
    let body = request.rsplit("\r\n\r\n").next().unwrap();
    let fields: BTreeSet<&str> = body.split('&').collect();
    let token_field = format!("token={TOKEN}");
    let expected: BTreeSet<&str> = [
        token_field.as_str(),
        "ref=main",
        "variables%5BSAAS_APPLICATION%5D=web",
        "variables%5BSAAS_TENANT%5D=acme",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, expected, "{request}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("pipeline 4242")
            && stdout.contains("https://gitlab.example/group/stacks/-/pipelines/4242"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN));
}

#[test]
fn gitlab_trigger_maps_errors_to_one_line_and_exit_codes() {
    let (url, _) = http_server(400, r#"{"message":{"base":["Reference not found"]}}"#);
    let output = run_code(&mut trigger(&url, "acme"), 1);
    assert_one_line_without_token(&output, "GitLab answered 400: base: Reference not found");

    let (url, _) = http_server(404, r#"{"message":"404 Project Not Found"}"#);
    let output = run_code(&mut trigger(&url, "acme"), 66);
    assert_one_line_without_token(&output, "404 Project Not Found");

    // GitLab echoing the token back must not print it either.
    let (url, _) = http_server(401, r#"{"message":"invalid token glptt-e2e-secret-token"}"#);
    let output = run_code(&mut trigger(&url, "acme"), 1);
    assert_one_line_without_token(&output, "invalid token [redacted]");

    let (url, _) = http_server(502, "<html>bad gateway</html>");
    let output = run_code(&mut trigger(&url, "acme"), 69);
    assert_one_line_without_token(&output, "GitLab answered 502");

    // Invalid tenant ids and a missing token fail before any request.
    let output = run_code(&mut trigger("http://127.0.0.1:9", "../acme"), 65);
    assert_one_line_without_token(&output, "invalid tenant");
    let mut no_token = trigger("http://127.0.0.1:9", "acme");
    no_token.env_remove("SAAS_GITLAB_TRIGGER_TOKEN");
    let output = run_code(&mut no_token, 64);
    assert_one_line_without_token(&output, "no GitLab token");
    // Nothing listens on port 9: unavailable.
    let output = run_code(&mut trigger("http://127.0.0.1:9", "acme"), 69);
    assert_one_line_without_token(&output, "cannot reach GitLab");
}
