//! Buckets: inspect the hardening of a state bucket, compare it with what
//! it must be, create it, and fix what drifted.

use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use super::{aws_error, BootstrapError, Bootstrapper, Encryption, Hardening, ItemStatus, Mode};
use crate::policy;

/// What was observed on a bucket, in the terms the hardening cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketState {
    /// `Enabled`, `Suspended`, or None when versioning was never turned on.
    pub versioning: Option<String>,
    pub encryption: Option<DefaultEncryption>,
    /// The four public-access-block flags, all false when none is set.
    pub public_access_block: [bool; 4],
    pub denies_insecure_transport: bool,
}

/// A bucket's default encryption rule as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultEncryption {
    pub algorithm: String,
    pub bucket_key: bool,
    /// A customer-managed KMS key; kept when saasctl fixes the rule.
    pub kms_key_id: Option<String>,
}

impl DefaultEncryption {
    /// Whether this meets `want`. `--encryption` is a minimum, so nothing
    /// is ever downgraded: KMS (and dual-layer DSSE-KMS) meets AES256.
    fn meets(&self, want: Encryption) -> bool {
        match self.algorithm.as_str() {
            "aws:kms:dsse" => true,
            "aws:kms" => want == Encryption::Aes256 || self.bucket_key,
            "AES256" => want == Encryption::Aes256,
            _ => false,
        }
    }
}

/// One hardening setting that is not as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDrift {
    Versioning(Option<String>),
    Encryption(Option<DefaultEncryption>),
    PublicAccessBlock([bool; 4]),
    InsecureTransportAllowed,
}

impl fmt::Display for BucketDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketDrift::Versioning(v) => {
                write!(
                    f,
                    "versioning {} (want Enabled)",
                    v.as_deref().unwrap_or("never enabled")
                )
            }
            BucketDrift::Encryption(None) => f.write_str("no default encryption"),
            BucketDrift::Encryption(Some(e)) => write!(
                f,
                "default encryption {}{}",
                e.algorithm,
                if e.bucket_key {
                    " with bucket key"
                } else {
                    " without bucket key"
                }
            ),
            BucketDrift::PublicAccessBlock(flags) => {
                let off: Vec<&str> = PAB_FLAGS
                    .iter()
                    .zip(flags)
                    .filter(|(_, on)| !**on)
                    .map(|(name, _)| *name)
                    .collect();
                write!(f, "public access block off: {}", off.join(", "))
            }
            BucketDrift::InsecureTransportAllowed => {
                f.write_str("bucket policy does not deny non-TLS access")
            }
        }
    }
}

const PAB_FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// What differs between `observed` and `hardening`.
pub fn bucket_drift(hardening: Hardening, observed: &BucketState) -> Vec<BucketDrift> {
    let mut drift = Vec::new();
    if observed.versioning.as_deref() != Some("Enabled") {
        drift.push(BucketDrift::Versioning(observed.versioning.clone()));
    }
    let encryption_ok = observed
        .encryption
        .as_ref()
        .is_some_and(|e| e.meets(hardening.encryption));
    if !encryption_ok {
        drift.push(BucketDrift::Encryption(observed.encryption.clone()));
    }
    if observed.public_access_block != [true; 4] {
        drift.push(BucketDrift::PublicAccessBlock(observed.public_access_block));
    }
    if hardening.tls_policy && !observed.denies_insecure_transport {
        drift.push(BucketDrift::InsecureTransportAllowed);
    }
    drift
}

impl Bootstrapper {
    pub(super) async fn bucket(
        &self,
        name: &str,
    ) -> Result<(ItemStatus, Vec<String>), BootstrapError> {
        let Some(observed) = self.inspect_bucket(name).await? else {
            if self.mode == Mode::Check {
                return Ok((ItemStatus::Missing, Vec::new()));
            }
            self.create_bucket(name).await?;
            let all = bucket_drift(self.hardening, &BucketState::default());
            let applied = self.fix_bucket(name, &all, None).await?;
            return Ok((ItemStatus::Created, applied));
        };
        let drift = bucket_drift(self.hardening, &observed.0);
        if drift.is_empty() {
            return Ok((ItemStatus::Correct, Vec::new()));
        }
        if self.mode == Mode::Check {
            return Ok((
                ItemStatus::Drifted,
                drift.iter().map(ToString::to_string).collect(),
            ));
        }
        let applied = self.fix_bucket(name, &drift, observed.1.as_deref()).await?;
        let details = drift
            .iter()
            .zip(applied)
            .map(|(d, fix)| format!("{d} → {fix}"))
            .collect();
        Ok((ItemStatus::Fixed, details))
    }

    /// The bucket's hardening and its raw policy, or None if it does not exist.
    async fn inspect_bucket(
        &self,
        name: &str,
    ) -> Result<Option<(BucketState, Option<String>)>, BootstrapError> {
        match self.s3.head_bucket().bucket(name).send().await {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(None)
            }
            Err(err) => return Err(aws_error("s3", "HeadBucket", err)),
        }
        let versioning = match self.s3.get_bucket_versioning().bucket(name).send().await {
            Ok(out) => out.status().map(|s| s.as_str().to_string()),
            Err(err) => match versioning_from_raw(&err) {
                Some(status) => status,
                None => return Err(aws_error("s3", "GetBucketVersioning", err)),
            },
        };
        let encryption = match self.s3.get_bucket_encryption().bucket(name).send().await {
            Ok(out) => out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|rule| {
                    let default = rule.apply_server_side_encryption_by_default()?;
                    Some(DefaultEncryption {
                        algorithm: default.sse_algorithm().as_str().to_string(),
                        bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                        kms_key_id: default.kms_master_key_id().map(str::to_string),
                    })
                }),
            Err(err)
                if error_code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                None
            }
            Err(err) => return Err(aws_error("s3", "GetBucketEncryption", err)),
        };
        let public_access_block = match self.s3.get_public_access_block().bucket(name).send().await
        {
            Ok(out) => out
                .public_access_block_configuration()
                .map_or([false; 4], |c| {
                    [
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    ]
                    .map(|flag| flag.unwrap_or(false))
                }),
            Err(err) if error_code(&err) == Some("NoSuchPublicAccessBlockConfiguration") => {
                [false; 4]
            }
            Err(err) => return Err(aws_error("s3", "GetPublicAccessBlock", err)),
        };
        let policy = match self.s3.get_bucket_policy().bucket(name).send().await {
            Ok(out) => out.policy().map(str::to_string),
            Err(err) if error_code(&err) == Some("NoSuchBucketPolicy") => None,
            Err(err) => return Err(aws_error("s3", "GetBucketPolicy", err)),
        };
        let denies_insecure_transport = policy
            .as_deref()
            .is_some_and(|p| policy::denies_insecure_transport(p, &self.region, name));
        let state = BucketState {
            versioning,
            encryption,
            public_access_block,
            denies_insecure_transport,
        };
        Ok(Some((state, policy)))
    }

    async fn create_bucket(&self, name: &str) -> Result<(), BootstrapError> {
        let mut request = self.s3.create_bucket().bucket(name);
        // us-east-1 is the one region that rejects an explicit location constraint.
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Another bootstrap created it a moment ago: ours to harden all the same.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => {
                Err(BootstrapError::Aws {
                    operation: "CreateBucket",
                    message: "the name is taken by another AWS account; choose another bucket name or prefix".into(),
                })
            }
            Err(err) => Err(aws_error("s3", "CreateBucket", err)),
        }
    }

    /// Applies the fix for each drift, in order; returns what was done.
    async fn fix_bucket(
        &self,
        name: &str,
        drift: &[BucketDrift],
        policy: Option<&str>,
    ) -> Result<Vec<String>, BootstrapError> {
        let mut done = Vec::with_capacity(drift.len());
        for d in drift {
            match d {
                BucketDrift::Versioning(_) => {
                    self.s3
                        .put_bucket_versioning()
                        .bucket(name)
                        .versioning_configuration(
                            VersioningConfiguration::builder()
                                .status(BucketVersioningStatus::Enabled)
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketVersioning", e))?;
                    done.push("versioning Enabled".to_string());
                }
                BucketDrift::Encryption(observed) => {
                    let encryption = self.hardening.encryption;
                    let kms = encryption == Encryption::Kms;
                    // A KMS rule that only lacks the bucket key keeps its key.
                    let key_id = observed
                        .as_ref()
                        .filter(|e| kms && e.algorithm == "aws:kms")
                        .and_then(|e| e.kms_key_id.clone());
                    let default = ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(encryption.algorithm())
                        .set_kms_master_key_id(key_id)
                        .build()
                        .expect("sse_algorithm is set");
                    let rule = ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(kms)
                        .build();
                    let config = ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .expect("rules are set");
                    self.s3
                        .put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(config)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketEncryption", e))?;
                    let alg = encryption.algorithm();
                    done.push(format!(
                        "encryption {}{}",
                        alg.as_str(),
                        if kms { " with bucket key" } else { "" }
                    ));
                }
                BucketDrift::PublicAccessBlock(_) => {
                    let config = PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build();
                    self.s3
                        .put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(config)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutPublicAccessBlock", e))?;
                    done.push("public access block on".to_string());
                }
                BucketDrift::InsecureTransportAllowed => {
                    let merged = policy::with_tls_statement(policy, &self.region, name)?;
                    self.s3
                        .put_bucket_policy()
                        .bucket(name)
                        .policy(merged)
                        .send()
                        .await
                        .map_err(|e| aws_error("s3", "PutBucketPolicy", e))?;
                    done.push("TLS-only bucket policy".to_string());
                }
            }
        }
        Ok(done)
    }
}

fn error_code<E: ProvideErrorMetadata, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// Some S3-compatible servers (moto 5) name the GetBucketVersioning root
/// element `GetBucketVersioningResponse` where AWS says
/// `VersioningConfiguration`, and the SDK refuses the body. Its content is
/// the same, so read `<Status>` from a successful response ourselves:
/// `Some(None)` means versioning was never enabled.
fn versioning_from_raw<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<String>> {
    let raw = err.raw_response().filter(|raw| raw.status().is_success())?;
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(status, _)| status.trim().to_string());
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hardened(alg: &str, bucket_key: bool) -> BucketState {
        BucketState {
            versioning: Some("Enabled".into()),
            encryption: Some(DefaultEncryption {
                algorithm: alg.into(),
                bucket_key,
                kms_key_id: None,
            }),
            public_access_block: [true; 4],
            denies_insecure_transport: true,
        }
    }

    const KMS: Hardening = Hardening {
        encryption: Encryption::Kms,
        tls_policy: true,
    };
    const AES: Hardening = Hardening {
        encryption: Encryption::Aes256,
        tls_policy: true,
    };

    #[test]
    fn hardened_buckets_have_no_drift() {
        assert!(bucket_drift(KMS, &hardened("aws:kms", true)).is_empty());
        assert!(bucket_drift(AES, &hardened("AES256", false)).is_empty());
    }

    #[test]
    fn every_missing_setting_is_drift() {
        let drift = bucket_drift(KMS, &BucketState::default());
        assert_eq!(drift.len(), 4, "{drift:?}");
        let suspended = BucketState {
            versioning: Some("Suspended".into()),
            ..hardened("aws:kms", true)
        };
        assert_eq!(
            bucket_drift(KMS, &suspended),
            [BucketDrift::Versioning(Some("Suspended".into()))]
        );
        let no_bucket_key = bucket_drift(KMS, &hardened("aws:kms", false));
        assert!(
            matches!(&no_bucket_key[..], [BucketDrift::Encryption(Some(e))] if !e.bucket_key),
            "KMS without a bucket key is drift: {no_bucket_key:?}"
        );
        assert_eq!(bucket_drift(KMS, &hardened("AES256", false)).len(), 1);
        let pab = BucketState {
            public_access_block: [true, true, false, true],
            ..hardened("AES256", false)
        };
        let drift = bucket_drift(AES, &pab);
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].to_string(),
            "public access block off: BlockPublicPolicy"
        );
        let open = BucketState {
            denies_insecure_transport: false,
            ..hardened("AES256", false)
        };
        assert_eq!(
            bucket_drift(AES, &open),
            [BucketDrift::InsecureTransportAllowed]
        );
        let plain_http = Hardening {
            tls_policy: false,
            ..AES
        };
        assert!(
            bucket_drift(plain_http, &open).is_empty(),
            "no TLS policy where TLS is impossible"
        );
    }

    #[test]
    fn encryption_is_a_minimum_and_never_downgraded() {
        assert!(bucket_drift(AES, &hardened("aws:kms", true)).is_empty());
        assert!(bucket_drift(AES, &hardened("aws:kms", false)).is_empty());
        assert!(bucket_drift(KMS, &hardened("aws:kms:dsse", false)).is_empty());
        assert!(bucket_drift(AES, &hardened("aws:kms:dsse", false)).is_empty());
        assert_eq!(
            bucket_drift(KMS, &hardened("AES256", false))[0].to_string(),
            "default encryption AES256 without bucket key"
        );
    }

    fn versioning_response(status: u16, body: &str) -> Option<Option<String>> {
        use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError;
        let err =
            GetBucketVersioningError::generic(aws_sdk_s3::error::ErrorMetadata::builder().build());
        let raw = aws_sdk_s3::config::http::HttpResponse::new(
            status.try_into().unwrap(),
            aws_sdk_s3::primitives::SdkBody::from(body),
        );
        versioning_from_raw(&aws_sdk_s3::error::SdkError::service_error(err, raw))
    }

    #[test]
    fn versioning_is_read_from_bodies_the_sdk_refuses() {
        let moto =
            r#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#;
        assert_eq!(
            versioning_response(
                200,
                &format!("{moto}<Status>Suspended</Status></GetBucketVersioningResponse>")
            ),
            Some(Some("Suspended".into()))
        );
        assert_eq!(
            versioning_response(200, &format!("{moto}</GetBucketVersioningResponse>")),
            Some(None),
            "never enabled"
        );
        assert_eq!(
            versioning_response(403, "<Error><Code>AccessDenied</Code></Error>"),
            None,
            "a real error stays one"
        );
    }
}
