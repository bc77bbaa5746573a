//! Policy documents: the least-privilege IAM policy of one tenant's state
//! backend, and the TLS-only statement that `backend bootstrap` keeps in
//! every state bucket's policy. Pure JSON work, no AWS calls.

use saas_registry::BackendSettings;
use serde::Serialize;
use serde_json::{json, Value};

/// Sid of the bucket-policy statement that denies plain-HTTP access (the
/// name Terragrunt uses, so buckets it hardened already count as correct).
pub const TLS_STATEMENT_SID: &str = "EnforcedTLS";

/// Terraform's S3 backend lists this prefix during `init` to find workspaces;
/// the listing must be allowed or `init` fails. saasctl never uses
/// workspaces, so nothing of any tenant lives under it.
const WORKSPACE_LIST_PREFIX: &str = "env:/";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the existing bucket policy is not valid JSON ({0}); fix it by hand, saasctl will not overwrite it")]
    Unparsable(String),
    #[error("the existing bucket policy has no Statement list; fix it by hand, saasctl will not overwrite it")]
    NoStatements,
}

/// The AWS partition of `region` (`aws`, `aws-cn`, `aws-us-gov`), for ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub fn bucket_arn(region: &str, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", partition(region))
}

pub fn object_arn(region: &str, bucket: &str, key: &str) -> String {
    format!("{}/{key}", bucket_arn(region, bucket))
}

/// ARN of a DynamoDB table; `account` is `*` when unknown.
pub fn table_arn(region: &str, account: &str, table: &str) -> String {
    format!(
        "arn:{}:dynamodb:{region}:{account}:table/{table}",
        partition(region)
    )
}

/// An IAM policy document. Typed so it prints in the order people read
/// policies in: Version first, then Sid, Effect, Action, Resource, Condition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: &'static str,
    pub effect: &'static str,
    pub action: Vec<&'static str>,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

fn allow(sid: &'static str, action: &[&'static str], resource: String) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        action: action.to_vec(),
        resource,
        condition: None,
    }
}

/// The IAM policy that lets Terraform use exactly one tenant's backend:
/// list only its key, read and write only its state object (and lockfile),
/// and touch only its own lock items. Nothing in it matches another tenant's
/// state, even when tenants share a bucket and lock table.
pub fn tenant_policy(settings: &BackendSettings, account: &str) -> PolicyDocument {
    let region = &settings.region;
    let list = Statement {
        condition: Some(json!({
            "StringEquals": { "s3:prefix": [settings.key, WORKSPACE_LIST_PREFIX] }
        })),
        ..allow(
            "ListOwnStateKey",
            &["s3:ListBucket"],
            bucket_arn(region, &settings.bucket),
        )
    };
    // Terraform never deletes the state object, so no DeleteObject here.
    let state = allow(
        "ReadWriteOwnState",
        &["s3:GetObject", "s3:PutObject"],
        object_arn(region, &settings.bucket, &settings.key),
    );
    let lock = match &settings.lock_table {
        Some(table) => Statement {
            condition: Some(json!({
                "ForAllValues:StringEquals": {
                    "dynamodb:LeadingKeys": [settings.lock_id(), format!("{}-md5", settings.lock_id())]
                }
            })),
            ..allow(
                "OwnLockItems",
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:DeleteItem",
                ],
                table_arn(region, account, table),
            )
        },
        None => allow(
            "OwnLockfile",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            object_arn(region, &settings.bucket, &settings.lockfile_key()),
        ),
    };
    // saasctl's own record of the last applied fingerprint (`--changed`).
    let record = allow(
        "OwnAppliedRecord",
        &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        object_arn(
            region,
            &settings.bucket,
            &crate::fingerprint::record_key(settings),
        ),
    );
    PolicyDocument {
        version: "2012-10-17",
        statement: vec![list, state, lock, record],
    }
}

/// The statement denying every request to `bucket` that is not over TLS.
pub fn tls_statement(region: &str, bucket: &str) -> Value {
    let arn = bucket_arn(region, bucket);
    json!({
        "Sid": TLS_STATEMENT_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// Whether `policy` (a bucket policy document) denies non-TLS access to the
/// whole bucket. Any statement that does so counts, whatever its Sid.
pub fn denies_insecure_transport(policy: &str, region: &str, bucket: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let arn = bucket_arn(region, bucket);
    let objects = format!("{arn}/*");
    statements(&doc).iter().any(|s| {
        s["Effect"] == "Deny"
            && is_everyone(&s["Principal"])
            && strings(&s["Action"])
                .iter()
                .any(|a| *a == "s3:*" || *a == "*")
            && covers(&s["Resource"], &arn)
            && covers(&s["Resource"], &objects)
            && strings(&s["Condition"]["Bool"]["aws:SecureTransport"])
                .iter()
                .any(|v| v.eq_ignore_ascii_case("false"))
    })
}

/// `existing` with the TLS statement added (or replacing a drifted one with
/// the same Sid). Every other statement is kept as it was.
pub fn with_tls_statement(
    existing: Option<&str>,
    region: &str,
    bucket: &str,
) -> Result<String, PolicyError> {
    let mut doc = match existing {
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| PolicyError::Unparsable(e.to_string()))?,
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let Some(map) = doc.as_object_mut() else {
        return Err(PolicyError::NoStatements);
    };
    let mut list = match map.remove("Statement") {
        Some(Value::Array(list)) => list,
        Some(single @ Value::Object(_)) => vec![single],
        None => Vec::new(),
        Some(_) => return Err(PolicyError::NoStatements),
    };
    list.retain(|s| s["Sid"] != TLS_STATEMENT_SID);
    list.push(tls_statement(region, bucket));
    map.entry("Version").or_insert_with(|| json!("2012-10-17"));
    map.insert("Statement".into(), Value::Array(list));
    Ok(serde_json::to_string(&doc).expect("a JSON value serialises"))
}

/// The statements of a policy document, as values: indexing a value by a
/// missing key gives Null instead of panicking.
fn statements(doc: &Value) -> Vec<&Value> {
    match &doc["Statement"] {
        Value::Array(list) => list.iter().filter(|s| s.is_object()).collect(),
        single @ Value::Object(_) => vec![single],
        _ => Vec::new(),
    }
}

/// A string or a list of strings (IAM allows both almost everywhere).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Array(list) => list.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn is_everyone(principal: &Value) -> bool {
    principal == "*" || strings(&principal["AWS"]).iter().any(|p| p == "*")
}

/// Whether a Resource element names `arn` exactly or through a `*` pattern.
fn covers(resource: &Value, arn: &str) -> bool {
    strings(resource)
        .iter()
        .any(|pattern| glob_matches(pattern, arn))
}

/// IAM-style matching: `*` matches any run of characters, `?` any one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative wildcard match with single-star backtracking.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::app;
    use saas_registry::{derive_backend, Application, Isolation, LockKind};

    /// Every Resource and condition value of a policy: what it can match.
    fn patterns(policy: &Value) -> Vec<String> {
        statements(policy)
            .iter()
            .flat_map(|s| {
                let mut all = strings(&s["Resource"]);
                for op in s["Condition"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                {
                    for v in op.as_object().into_iter().flat_map(|m| m.values()) {
                        all.extend(strings(v));
                    }
                }
                all
            })
            .collect()
    }

    const APPS: [(Isolation, LockKind); 4] = [
        (Isolation::Prefix, LockKind::Dynamodb),
        (Isolation::Prefix, LockKind::S3),
        (Isolation::Bucket, LockKind::Dynamodb),
        (Isolation::Bucket, LockKind::S3),
    ];

    /// The first value in one tenant's policy that matches a resource of
    /// another tenant of `app`, if any.
    fn cross_tenant_match(app: &Application, ids: &[&str]) -> Option<String> {
        for id in ids {
            let own = derive_backend(app, id).unwrap();
            let patterns = patterns(&serde_json::to_value(tenant_policy(&own, "*")).unwrap());
            for other in ids.iter().filter(|o| *o != id) {
                let theirs = derive_backend(app, other).unwrap();
                let mut names = vec![
                    object_arn("us-east-1", &theirs.bucket, &theirs.key),
                    object_arn("us-east-1", &theirs.bucket, &theirs.lockfile_key()),
                    object_arn(
                        "us-east-1",
                        &theirs.bucket,
                        &crate::fingerprint::record_key(&theirs),
                    ),
                    theirs.key.clone(),
                    theirs.lock_id(),
                    format!("{}-md5", theirs.lock_id()),
                ];
                // Shared buckets and tables are everyone's; per-tenant ones are not.
                if theirs.bucket != own.bucket {
                    names.push(bucket_arn("us-east-1", &theirs.bucket));
                }
                if let Some(t) = theirs
                    .lock_table
                    .as_ref()
                    .filter(|t| Some(*t) != own.lock_table.as_ref())
                {
                    names.push(table_arn("us-east-1", "123456789012", t));
                }
                for name in &names {
                    if let Some(p) = patterns.iter().find(|p| glob_matches(p, name)) {
                        return Some(format!("{id}'s policy value {p} matches {other}'s {name}"));
                    }
                }
            }
        }
        None
    }

    #[test]
    fn tenant_policies_match_nothing_of_other_tenants() {
        // Ids that are prefixes and suffixes of one another.
        let ids = ["t1", "t10", "t1-a", "a-t1", "acme"];
        for (isolation, lock) in APPS {
            assert_eq!(cross_tenant_match(&app(isolation, lock), &ids), None);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn random_tenant_sets_never_cross(ids in proptest::collection::btree_set("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 2..12)) {
            let ids: Vec<&str> = ids.iter().map(String::as_str).filter(|id| saas_registry::validate::slug("id", id).is_ok()).collect();
            for (isolation, lock) in APPS {
                let app = app(isolation, lock);
                let ids: Vec<&str> = ids.iter().copied().filter(|id| derive_backend(&app, id).is_ok()).collect();
                let crossed = cross_tenant_match(&app, &ids);
                proptest::prop_assert!(crossed.is_none(), "{}", crossed.unwrap_or_default());
            }
        }
    }

    #[test]
    fn tenant_policy_grants_terraforms_needs() {
        let b = derive_backend(&app(Isolation::Prefix, LockKind::Dynamodb), "t1").unwrap();
        let p = serde_json::to_value(tenant_policy(&b, "123456789012")).unwrap();
        let text = p.to_string();
        assert!(
            text.contains("arn:aws:s3:::acme-state/web/t1/terraform.tfstate"),
            "{text}"
        );
        assert!(
            text.contains("arn:aws:dynamodb:us-east-1:123456789012:table/acme-locks"),
            "{text}"
        );
        assert_eq!(
            p["Statement"][2]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"][1],
            "acme-state/web/t1/terraform.tfstate-md5"
        );
        // Delete only on saasctl's applied record, never on the state.
        assert_eq!(
            p["Statement"][1]["Action"],
            serde_json::json!(["s3:GetObject", "s3:PutObject"])
        );
        assert_eq!(p["Statement"][3]["Sid"], "OwnAppliedRecord");
        assert_eq!(
            p["Statement"][3]["Resource"],
            "arn:aws:s3:::acme-state/web/t1/terraform.tfstate.saasctl.json"
        );
        assert_eq!(text.matches("DeleteObject").count(), 1, "{text}");
        let s3 = derive_backend(&app(Isolation::Bucket, LockKind::S3), "t1").unwrap();
        let text = serde_json::to_value(tenant_policy(&s3, "*"))
            .unwrap()
            .to_string();
        assert!(
            text.contains("arn:aws:s3:::acme-t1/web/t1/terraform.tfstate.tflock"),
            "{text}"
        );
        assert!(
            text.contains("s3:DeleteObject") && !text.contains("dynamodb"),
            "{text}"
        );
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(bucket_arn("cn-north-1", "b"), "arn:aws-cn:s3:::b");
        assert_eq!(
            table_arn("us-gov-west-1", "*", "t"),
            "arn:aws-us-gov:dynamodb:us-gov-west-1:*:table/t"
        );
    }

    #[test]
    fn tls_statement_is_merged_and_detected() {
        let fresh = with_tls_statement(None, "us-east-1", "b1").unwrap();
        assert!(denies_insecure_transport(&fresh, "us-east-1", "b1"));
        assert!(
            !denies_insecure_transport(&fresh, "us-east-1", "b2"),
            "another bucket's policy"
        );

        let other = r#"{"Version":"2012-10-17","Statement":{"Sid":"Keep","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*"}}"#;
        assert!(!denies_insecure_transport(other, "us-east-1", "b1"));
        let merged = with_tls_statement(Some(other), "us-east-1", "b1").unwrap();
        assert!(denies_insecure_transport(&merged, "us-east-1", "b1"));
        let doc: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(
            doc["Statement"][0]["Sid"], "Keep",
            "other statements are kept"
        );
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);

        // A drifted statement with our Sid (Allow instead of Deny) is replaced, not duplicated.
        let drifted = merged.replace("\"Deny\"", "\"Allow\"");
        assert!(!denies_insecure_transport(&drifted, "us-east-1", "b1"));
        let fixed = with_tls_statement(Some(&drifted), "us-east-1", "b1").unwrap();
        let doc: Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
        assert!(denies_insecure_transport(&fixed, "us-east-1", "b1"));

        // Wildcards and the AWS-principal form count too.
        let wide = r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":"arn:aws:s3:::b1*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}"#;
        assert!(denies_insecure_transport(wide, "us-east-1", "b1"));

        assert!(matches!(
            with_tls_statement(Some("{not json"), "us-east-1", "b1"),
            Err(PolicyError::Unparsable(_))
        ));
    }

    #[test]
    fn glob_matching() {
        assert!(glob_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(
            glob_matches("a*c", "abbbc") && glob_matches("a?c", "abc") && glob_matches("*", "")
        );
        assert!(!glob_matches(
            "arn:aws:s3:::b/web/t1/*",
            "arn:aws:s3:::b/web/t10/x"
        ));
        assert!(!glob_matches("abc", "abcd") && !glob_matches("a*d", "abc"));
    }
}
