//! `saasctl backend config|bootstrap|policy`: a tenant's S3 backend settings
//! for a plain `terraform init`, creating and hardening the buckets and lock
//! tables tenants need, and a least-privilege IAM policy per tenant.

use anyhow::Context;
use saas_registry::{
    derive_backend, BackendSettings, EndpointUrlsIn, Registry, S3BackendConfig, Tenant,
    TenantStatus,
};

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
use crate::{policy, render, workspace};

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
    // A plain `terraform init` may not see the endpoint variables: give the URLs.
    let config = settings.s3_config(&global.endpoints, EndpointUrlsIn::BackendConfig);
    printer.out(&render_config(&config, args.format)?)?;
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
        backends = derive_all(&only_new(&global.endpoints, &app, tenants).await?)?;
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
        tls_policy: tls_policy_required(args.tls_policy, global.endpoints.s3.as_deref()),
    };
    let sdk = aws::sdk_config(&app.state.region).await;
    let bootstrapper =
        Bootstrapper::new(&sdk, &global.endpoints, &app.state.region, hardening, mode);
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

/// `config` in `format`, each enough for a plain `terraform init`.
fn render_config(config: &S3BackendConfig, format: BackendConfigFormat) -> anyhow::Result<String> {
    Ok(match format {
        BackendConfigFormat::Args => format_args(config),
        BackendConfigFormat::Hcl => format_hcl(config)?,
        // Terraform also reads a `-backend-config=FILE.json` file.
        BackendConfigFormat::Json => format!("{}\n", serde_json::to_string_pretty(config)?),
    })
}

/// One `-backend-config=k=v` per line, shell-quoted where needed, so
/// `saasctl backend config ... | xargs terraform init` and `eval` both work.
fn format_args(config: &S3BackendConfig) -> String {
    workspace::backend_args(config)
        .iter()
        .map(|arg| format!("{}\n", quote(arg)))
        .collect()
}

/// One word for a POSIX shell (and xargs). Derived names and URLs hold no
/// NUL, the one byte `shlex` cannot quote.
/// Words of only plain characters stay as they are, for people to read.
fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=./:,@+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.into();
    }
    shlex::try_quote(word).unwrap_or_else(|_| word.replace('\0', "").into())
}

/// A `-backend-config=FILE.hcl` file: one attribute per setting, strings
/// escaped so that Terraform interpolates nothing (`${` as `$${`). hcl-rs
/// 0.20 leaves a `$${` already in a value as it is (Terraform then reads
/// `${`); no derived name can hold a `{`, only an endpoint URL could.
fn format_hcl(config: &S3BackendConfig) -> Result<String, hcl::Error> {
    let formatter = hcl::format::Formatter::builder()
        .prefer_ident_keys(true)
        .build_vec();
    hcl::ser::Serializer::with_formatter(formatter).serialize_string(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_registry::{Application, EndpointUrls, Isolation, LockKind, StateConfig};

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

    fn render(config: &S3BackendConfig, format: BackendConfigFormat) -> String {
        render_config(config, format).unwrap()
    }

    fn moto() -> EndpointUrls {
        EndpointUrls {
            s3: Some("http://127.0.0.1:5000".into()),
            dynamodb: Some("http://127.0.0.1:5000".into()),
        }
    }

    #[test]
    fn plain_aws_needs_only_the_derived_settings() {
        let config = settings(LockKind::Dynamodb)
            .s3_config(&EndpointUrls::default(), EndpointUrlsIn::BackendConfig);
        assert_eq!(
            render(&config, BackendConfigFormat::Args),
            "-backend-config=bucket=acme-t1\n-backend-config=key=web/t1/terraform.tfstate\n\
             -backend-config=region=us-east-1\n-backend-config=encrypt=true\n\
             -backend-config=dynamodb_table=acme-locks-t1\n"
        );
        assert_eq!(
            render(&config, BackendConfigFormat::Hcl),
            "bucket = \"acme-t1\"\nkey = \"web/t1/terraform.tfstate\"\nregion = \"us-east-1\"\n\
             encrypt = true\ndynamodb_table = \"acme-locks-t1\"\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&config, BackendConfigFormat::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "bucket": "acme-t1",
                "key": "web/t1/terraform.tfstate",
                "region": "us-east-1",
                "encrypt": true,
                "dynamodb_table": "acme-locks-t1",
            })
        );
    }

    #[test]
    fn custom_endpoints_add_their_urls_path_style_and_skips() {
        let config = settings(LockKind::Dynamodb).s3_config(&moto(), EndpointUrlsIn::BackendConfig);
        let args = render(&config, BackendConfigFormat::Args);
        let flags = "-backend-config=use_path_style=true\n\
                     -backend-config=skip_credentials_validation=true\n\
                     -backend-config=skip_requesting_account_id=true\n\
                     -backend-config=skip_metadata_api_check=true\n\
                     -backend-config=skip_region_validation=true\n";
        let endpoints = "'-backend-config=endpoints={ s3 = \"http://127.0.0.1:5000\", \
                         dynamodb = \"http://127.0.0.1:5000\" }'\n";
        assert!(args.ends_with(&format!("{endpoints}{flags}")), "{args}");
        let hcl = render(&config, BackendConfigFormat::Hcl);
        assert!(
            hcl.contains(
                "endpoints = {\n  s3 = \"http://127.0.0.1:5000\"\n  dynamodb = \"http://127.0.0.1:5000\"\n}\n\
                 use_path_style = true\n"
            ),
            "{hcl}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&config, BackendConfigFormat::Json)).unwrap();
        assert_eq!(json["endpoints"]["dynamodb"], "http://127.0.0.1:5000");
        assert_eq!(json["skip_requesting_account_id"], true);
        // An S3 lockfile needs no DynamoDB endpoint.
        let lockfile = settings(LockKind::S3).s3_config(&moto(), EndpointUrlsIn::BackendConfig);
        let json: serde_json::Value =
            serde_json::from_str(&render(&lockfile, BackendConfigFormat::Json)).unwrap();
        assert_eq!(
            json["endpoints"],
            serde_json::json!({"s3": "http://127.0.0.1:5000"})
        );
        assert_eq!(json["use_lockfile"], true);
    }

    #[test]
    fn hcl_strings_are_escaped_and_never_interpolated() {
        let endpoints = EndpointUrls {
            s3: Some("a\"b\\c${x}%{y}\n".into()),
            dynamodb: None,
        };
        let config = settings(LockKind::S3).s3_config(&endpoints, EndpointUrlsIn::BackendConfig);
        let hcl = render(&config, BackendConfigFormat::Hcl);
        assert!(hcl.contains(r#"  s3 = "a\"b\\c$${x}%%{y}\n""#), "{hcl}");
        // The args line, as a shell reads it, holds the same escaped HCL.
        let args = render(&config, BackendConfigFormat::Args);
        let words = shlex::split(&args).unwrap();
        assert!(
            words.contains(
                &r#"-backend-config=endpoints={ s3 = "a\"b\\c$${x}%%{y}\n" }"#.to_string()
            ),
            "{args}"
        );
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
    fn quoting_round_trips_through_a_shell_parser() {
        for word in [
            "-backend-config=key=a/b",
            "a b",
            "it's",
            "$(x)",
            "-backend-config=k={ s3 = \"x\" }",
        ] {
            assert_eq!(shlex::split(&quote(word)).unwrap(), [word], "{word}");
        }
        assert_eq!(quote("-backend-config=key=a/b"), "-backend-config=key=a/b");
    }
}
