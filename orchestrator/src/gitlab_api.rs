//! GitLab's pipeline trigger API: run one tenant's pipeline from outside CI.
//! The token goes into the form body only; it never reaches a message.

use std::time::Duration;

use serde::Deserialize;

/// A pipeline GitLab created.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CreatedPipeline {
    pub id: u64,
    #[serde(default)]
    pub web_url: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GitlabApiError {
    #[error("GitLab answered {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("cannot reach GitLab at {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("GitLab's answer is not a pipeline: {0}")]
    Decode(String),
}

impl GitlabApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GitlabApiError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One trigger request. `token` is a pipeline trigger token or `CI_JOB_TOKEN`.
pub struct TriggerRequest<'a> {
    pub gitlab_url: &'a str,
    pub project: &'a str,
    pub git_ref: &'a str,
    pub token: &'a str,
    pub variables: &'a [(&'a str, &'a str)],
}

/// `POST {gitlab}/api/v4/projects/{id}/trigger/pipeline`.
pub async fn trigger_pipeline(
    request: &TriggerRequest<'_>,
) -> Result<CreatedPipeline, GitlabApiError> {
    let url = format!(
        "{}/api/v4/projects/{}/trigger/pipeline",
        request.gitlab_url.trim_end_matches('/'),
        encode_path_segment(request.project)
    );
    let mut form: Vec<(String, &str)> = vec![
        ("token".into(), request.token),
        ("ref".into(), request.git_ref),
    ];
    for (name, value) in request.variables {
        form.push((format!("variables[{name}]"), value));
    }
    let transport = |e: reqwest::Error| GitlabApiError::Transport {
        url: url.clone(),
        // reqwest's message names the URL, never the body.
        reason: redact(&e.without_url().to_string(), request.token),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("saasctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(transport)?;
    let response = client
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let body = response.text().await.map_err(transport)?;
    if !status.is_success() {
        return Err(GitlabApiError::Rejected {
            status: status.as_u16(),
            message: redact(&error_message(&body, status), request.token),
        });
    }
    serde_json::from_str(&body).map_err(|e| GitlabApiError::Decode(e.to_string()))
}

/// GitLab's `message` (a string, or an object of field errors) or `error`;
/// the status text when the body has neither.
fn error_message(body: &str, status: reqwest::StatusCode) -> String {
    let fallback = || {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return fallback();
    };
    let text = match json.get("message").or_else(|| json.get("error")) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Object(fields)) => fields
            .iter()
            .map(|(field, why)| match why {
                serde_json::Value::Array(items) => {
                    let items: Vec<String> = items.iter().map(plain).collect();
                    format!("{field}: {}", items.join(", "))
                }
                other => format!("{field}: {}", plain(other)),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => plain(other),
        None => return fallback(),
    };
    text.replace(['\n', '\r'], " ")
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "[redacted]")
    }
}

/// A project id, or a `group/project` path URL-encoded as one segment.
fn encode_path_segment(raw: &str) -> String {
    let mut out = String::new();
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_become_one_segment() {
        assert_eq!(encode_path_segment("42"), "42");
        assert_eq!(encode_path_segment("group/sub/app"), "group%2Fsub%2Fapp");
        assert_eq!(encode_path_segment("a b"), "a%20b");
    }

    #[test]
    fn gitlab_messages_are_flattened_to_one_line() {
        let bad = reqwest::StatusCode::BAD_REQUEST;
        assert_eq!(
            error_message(r#"{"message":{"base":["Reference not found"]}}"#, bad),
            "base: Reference not found"
        );
        assert_eq!(
            error_message(r#"{"message":"404 Not Found"}"#, bad),
            "404 Not Found"
        );
        assert_eq!(
            error_message(r#"{"error":"invalid\ntoken"}"#, bad),
            "invalid token"
        );
        assert_eq!(error_message("<html>", bad), "Bad Request");
    }

    #[test]
    fn tokens_are_redacted() {
        assert_eq!(
            redact("bad token glptt-123", "glptt-123"),
            "bad token [redacted]"
        );
        assert_eq!(redact("x", ""), "x");
    }
}
