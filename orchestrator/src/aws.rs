//! AWS clients from the standard credential chain. Endpoints come from
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`,
//! which the SDK reads itself; a custom S3 endpoint (moto, MinIO) gets
//! path-style addressing, as Terraform's backend does with `use_path_style`.

use aws_config::BehaviorVersion;

/// The S3-compatible endpoint in use, if not AWS's own.
pub fn custom_endpoint(service: &str) -> Option<String> {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    std::env::var(specific)
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .filter(|u| !u.is_empty())
}

/// Shared config for one region; load it once per run, not per tenant.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(custom_endpoint("s3").is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}
