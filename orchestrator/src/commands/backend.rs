//! `saasctl backend config|bootstrap|policy`: a tenant's S3 backend settings
//! for a plain `terraform init`, creating and hardening the buckets and lock
//! tables tenants need, and a least-privilege IAM policy per tenant.

use anyhow::Context;
use saas_registry::{derive_backend, BackendSettings, Registry, Tenant, TenantStatus};
use serde_json::{json, Map, Value};

use crate::aws;
use crate::bootstrap::{self, Bootstrapper, Hardening, ItemStatus, Needs};
use crate::cli::{
    BackendCommand, BackendConfigArgs, BackendConfigFormat, BackendPolicyArgs, BootstrapArgs,
    Encryption, TlsPolicy,
};
use crate::discovery::{discover, only_new, open_registry};
use crate::exit::{CliError, Outcome};
use crate::render::Printer;
use crate::settings::Global;
use crate::{policy, render};

pub async fn run(
    global: &Global,
    printer: &Printer,
    command: BackendCommand,
) -> anyhow::Result<Outcome> {
    match command {
        BackendCommand::Config(args) => config(global, printer, args).await,
        BackendCommand::Bootstrap(args) => bootstrap(global, printer, args).await,
        BackendCommand::Policy(args) => policy(global, printer, args).await,
    }
}

async fn config(
    global: &Global,
    printer: &Printer,
    args: BackendConfigArgs,
) -> anyhow::Result<Outcome> {
    let registry = open_registry(global).await?;
    let settings = tenant_backend(&registry, &args.application, &args.tenant).await?;
    let entries = config_entries(&settings, &Endpoints::from_env());
    let text = match args.format {
        BackendConfigFormat::Args => format_args(&entries),
        BackendConfigFormat::Hcl => format_hcl(&entries),
        BackendConfigFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&format_json(&entries))?
        ),
    };
    printer.out(&text)?;
    Ok(Outcome::Clean)
}

async fn policy(
    global: &Global,
    printer: &Printer,
    args: BackendPolicyArgs,
) -> anyhow::Result<Outcome> {
    let account = match args.account_id.as_deref() {
        Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => id,
        Some(id) => {
            return Err(CliError::Usage(format!("--account-id {id:?}: expected 12 digits")).into())
        }
        None => "*",
    };
    let registry = open_registry(global).await?;
    let settings = tenant_backend(&registry, &args.application, &args.tenant).await?;
    printer.json(&policy::tenant_policy(&settings, account))?;
    Ok(Outcome::Clean)
}

async fn bootstrap(
    global: &Global,
    printer: &Printer,
    args: BootstrapArgs,
) -> anyhow::Result<Outcome> {
    let selection = args.selection.resolve(TenantStatus::Active)?;
    let registry = open_registry(global).await?;
    let (app, tenants) = discover(&registry, &selection).await?;
    // Every name is derived (and checked) before anything is looked at or created.
    let derive_all = |tenants: &[Tenant]| {
        tenants
            .iter()
            .map(|t| derive_backend(&app, &t.id).with_context(|| format!("tenant {:?}", t.id)))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let mut backends = derive_all(&tenants)?;
    if selection.new_only {
        backends = derive_all(&only_new(&app, tenants).await?)?;
    }
    let mode = if args.check {
        bootstrap::Mode::Check
    } else {
        bootstrap::Mode::Apply
    };
    let hardening = Hardening {
        encryption: match args.encryption {
            Encryption::Kms => bootstrap::Encryption::Kms,
            Encryption::Aes256 => bootstrap::Encryption::Aes256,
        },
        tls_policy: tls_policy_required(args.tls_policy, aws::custom_endpoint("s3").as_deref()),
    };
    let sdk = aws::sdk_config(&app.state.region).await;
    let bootstrapper = Bootstrapper::new(&sdk, &app.state.region, hardening, mode);
    let items = bootstrapper
        .run(&Needs::of(&backends))
        .await
        .map_err(unavailable)?;
    render::bootstrap::report(printer, args.output.output.into(), &items)?;
    if !hardening.tls_policy && !items.is_empty() {
        printer.note("the S3 endpoint is plain HTTP, where a policy denying non-TLS access would deny every request; buckets get none (--tls-policy always to insist)");
    }
    let any = |status: ItemStatus| items.iter().any(|i| i.status == status);
    Ok(if any(ItemStatus::Failed) {
        Outcome::TenantFailed
    } else if any(ItemStatus::Missing) || any(ItemStatus::Drifted) {
        Outcome::Changes
    } else {
        Outcome::Clean
    })
}

/// Whether buckets need the TLS-only statement: always on AWS and on TLS
/// endpoints; on a plain-HTTP endpoint only when asked for explicitly.
fn tls_policy_required(policy: TlsPolicy, s3_endpoint: Option<&str>) -> bool {
    let plain_http = s3_endpoint.is_some_and(|url| {
        url.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    });
    policy == TlsPolicy::Always || !plain_http
}

/// Unreachable endpoints get their own exit code; other errors stay as they are.
fn unavailable(err: bootstrap::BootstrapError) -> anyhow::Error {
    match err {
        err @ bootstrap::BootstrapError::Unavailable { .. } => {
            CliError::Unavailable(err.to_string()).into()
        }
        err => err.into(),
    }
}

/// The backend of one onboarded tenant. Names are derived before the lookup,
/// so an id that cannot form a valid bucket or table name says which rule
/// it breaks even when no such tenant exists.
async fn tenant_backend(
    registry: &Registry,
    application: &str,
    tenant: &str,
) -> anyhow::Result<BackendSettings> {
    saas_registry::validate::slug("tenant", tenant)?;
    saas_registry::validate::slug("application", application)?;
    let app = registry
        .get_application(application)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("unknown application {application:?}")))?;
    let settings = derive_backend(&app, tenant).with_context(|| format!("tenant {tenant:?}"))?;
    match registry.get_tenant(tenant).await? {
        Some(t) if t.applications.contains(&app.name) => Ok(settings),
        Some(_) => Err(CliError::NotFound(format!(
            "tenant {tenant:?} is not onboarded to {application:?}"
        ))
        .into()),
        None => Err(CliError::NotFound(format!("tenant {tenant:?} does not exist")).into()),
    }
}

/// S3 and DynamoDB endpoints other than AWS's own (moto, MinIO, LocalStack).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Endpoints {
    s3: Option<String>,
    dynamodb: Option<String>,
}

impl Endpoints {
    fn from_env() -> Self {
        Endpoints {
            s3: aws::custom_endpoint("s3"),
            dynamodb: aws::custom_endpoint("dynamodb"),
        }
    }
}

/// A typed backend-config value: HCL and JSON need real booleans and objects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConfigValue {
    Str(String),
    Bool(bool),
    Object(Vec<(&'static str, String)>),
}

/// Backend arguments that are booleans in Terraform's S3 backend schema.
const BOOL_ARGS: [&str; 2] = ["encrypt", "use_lockfile"];

/// Everything `terraform init` needs: the derived settings, plus, for a
/// custom endpoint, the endpoints and the flags that keep the backend from
/// calling STS, IMDS and AWS's region list.
fn config_entries(
    settings: &BackendSettings,
    endpoints: &Endpoints,
) -> Vec<(&'static str, ConfigValue)> {
    let mut entries: Vec<(&'static str, ConfigValue)> = settings
        .backend_config()
        .into_iter()
        .map(|(k, v)| {
            let value = if BOOL_ARGS.contains(&k) {
                ConfigValue::Bool(v == "true")
            } else {
                ConfigValue::Str(v)
            };
            (k, value)
        })
        .collect();
    let mut custom = Vec::new();
    if let Some(url) = &endpoints.s3 {
        custom.push(("s3", url.clone()));
    }
    if let Some(url) = endpoints
        .dynamodb
        .as_ref()
        .filter(|_| settings.lock_table.is_some())
    {
        custom.push(("dynamodb", url.clone()));
    }
    if !custom.is_empty() {
        entries.push(("endpoints", ConfigValue::Object(custom)));
        for flag in [
            "use_path_style",
            "skip_credentials_validation",
            "skip_requesting_account_id",
            "skip_metadata_api_check",
            "skip_region_validation",
        ] {
            entries.push((flag, ConfigValue::Bool(true)));
        }
    }
    entries
}

/// One `-backend-config=k=v` per line, shell-quoted where needed, so
/// `saasctl backend config ... | xargs terraform init` and `eval` both work.
fn format_args(entries: &[(&'static str, ConfigValue)]) -> String {
    entries
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ConfigValue::Str(s) => s.clone(),
                ConfigValue::Bool(b) => b.to_string(),
                // Terraform parses non-primitive -backend-config values as HCL expressions.
                ConfigValue::Object(pairs) => {
                    let fields: Vec<String> = pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={}", hcl_string(v)))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }
            };
            format!("{}\n", shell_quote(&format!("-backend-config={k}={value}")))
        })
        .collect()
}

fn format_hcl(entries: &[(&'static str, ConfigValue)]) -> String {
    let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in entries {
        let value = match v {
            ConfigValue::Str(s) => hcl_string(s),
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Object(pairs) => {
                let inner = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                let fields: String = pairs
                    .iter()
                    .map(|(k, v)| format!("  {k:<inner$} = {}\n", hcl_string(v)))
                    .collect();
                format!("{{\n{fields}}}")
            }
        };
        out.push_str(&format!("{k:<width$} = {value}\n"));
    }
    out
}

/// A JSON object with the same attributes; Terraform also reads it as a
/// `-backend-config=FILE.json` file.
fn format_json(entries: &[(&'static str, ConfigValue)]) -> Value {
    let mut map = Map::new();
    for (k, v) in entries {
        let value = match v {
            ConfigValue::Str(s) => json!(s),
            ConfigValue::Bool(b) => json!(b),
            ConfigValue::Object(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect(),
            ),
        };
        map.insert(k.to_string(), value);
    }
    Value::Object(map)
}

/// A quoted HCL string literal: escapes quotes, backslashes, control
/// characters and template sequences (`${`, `%{`).
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// POSIX single-quoting, only when the word has a character a shell treats specially.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=./:,@+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_registry::{Application, Isolation, LockKind, StateConfig};

    fn settings(lock: LockKind) -> BackendSettings {
        let app = Application::new(
            "web",
            StateConfig {
                isolation: Isolation::Bucket,
                bucket_prefix: Some("acme".into()),
                lock,
                lock_table: (lock == LockKind::Dynamodb).then(|| "acme-locks".into()),
                ..Default::default()
            },
        );
        derive_backend(&app, "t1").unwrap()
    }

    #[test]
    fn plain_aws_needs_only_the_derived_settings() {
        let entries = config_entries(&settings(LockKind::Dynamodb), &Endpoints::default());
        assert_eq!(
            format_args(&entries),
            "-backend-config=bucket=acme-t1\n-backend-config=key=web/t1/terraform.tfstate\n\
             -backend-config=region=us-east-1\n-backend-config=encrypt=true\n\
             -backend-config=dynamodb_table=acme-locks-t1\n"
        );
        let hcl = format_hcl(&entries);
        assert!(hcl.contains("encrypt        = true\n"), "{hcl}");
        assert!(
            hcl.contains("dynamodb_table = \"acme-locks-t1\"\n"),
            "{hcl}"
        );
        assert_eq!(format_json(&entries)["encrypt"], json!(true));
    }

    #[test]
    fn custom_endpoints_add_path_style_and_skips() {
        let endpoints = Endpoints {
            s3: Some("http://127.0.0.1:5000".into()),
            dynamodb: Some("http://127.0.0.1:5000".into()),
        };
        let entries = config_entries(&settings(LockKind::Dynamodb), &endpoints);
        let args = format_args(&entries);
        assert!(
            args.contains("'-backend-config=endpoints={s3=\"http://127.0.0.1:5000\",dynamodb=\"http://127.0.0.1:5000\"}'\n"),
            "{args}"
        );
        assert!(
            args.contains("-backend-config=use_path_style=true\n"),
            "{args}"
        );
        assert!(
            args.contains("-backend-config=skip_credentials_validation=true\n"),
            "{args}"
        );
        let json = format_json(&entries);
        assert_eq!(json["endpoints"]["dynamodb"], "http://127.0.0.1:5000");
        assert_eq!(json["skip_requesting_account_id"], true);
        // An S3 lockfile needs no DynamoDB endpoint.
        let lockfile = format_json(&config_entries(&settings(LockKind::S3), &endpoints));
        assert!(
            lockfile["endpoints"].get("dynamodb").is_none(),
            "{lockfile}"
        );
        assert_eq!(lockfile["use_lockfile"], true);
    }

    #[test]
    fn tls_policy_is_skipped_only_on_plain_http_unless_asked_for() {
        assert!(tls_policy_required(TlsPolicy::Auto, None));
        assert!(tls_policy_required(
            TlsPolicy::Auto,
            Some("https://minio.internal:9000")
        ));
        assert!(!tls_policy_required(
            TlsPolicy::Auto,
            Some("http://127.0.0.1:5000")
        ));
        assert!(!tls_policy_required(
            TlsPolicy::Auto,
            Some("HTTP://127.0.0.1:5000")
        ));
        assert!(tls_policy_required(
            TlsPolicy::Always,
            Some("http://127.0.0.1:5000")
        ));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("-backend-config=key=a/b"),
            "-backend-config=key=a/b"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(x)"), "'$(x)'");
        assert_eq!(hcl_string("a\"b\\c${x}%{y}\n"), r#""a\"b\\c$${x}%%{y}\n""#);
    }
}
