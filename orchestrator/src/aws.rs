//! AWS clients from the standard credential chain. Endpoints come from
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`,
//! which the SDK reads itself; a custom S3 endpoint (moto, MinIO) gets
//! path-style addressing, as Terraform's backend does with `use_path_style`.
//! [`endpoints_from_env`] reads them once, for callers to pass on.

use aws_config::BehaviorVersion;
use saas_registry::EndpointUrls;

/// The S3 and DynamoDB endpoints other than AWS's own that this process
/// (and every Terraform it runs) uses, from the environment as the SDK
/// and Terraform's S3 backend read it.
pub fn endpoints_from_env() -> EndpointUrls {
    endpoints_from(|name| std::env::var(name).ok())
}

/// `endpoints_from_env` with `var` for the environment.
fn endpoints_from(var: impl Fn(&str) -> Option<String>) -> EndpointUrls {
    let endpoint = |service: &str| {
        var(&format!("AWS_ENDPOINT_URL_{service}"))
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .filter(|url| !url.is_empty())
    };
    EndpointUrls {
        s3: endpoint("S3"),
        dynamodb: endpoint("DYNAMODB"),
    }
}

/// Shared config for one region; load it once per run, not per tenant.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}

/// An S3 client, path-style where a custom S3 endpoint is in use (as the
/// SDK, reading the same variables, then uses it).
pub fn s3_client(config: &aws_config::SdkConfig, endpoints: &EndpointUrls) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(endpoints.s3.is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn endpoints(vars: &[(&str, &str)]) -> EndpointUrls {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        endpoints_from(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_service_endpoint_wins_over_the_general_one() {
        assert!(endpoints(&[]).is_empty());
        let both = endpoints(&[
            ("AWS_ENDPOINT_URL", "http://general:1"),
            ("AWS_ENDPOINT_URL_S3", "http://s3:2"),
        ]);
        assert_eq!(both.s3.as_deref(), Some("http://s3:2"));
        assert_eq!(both.dynamodb.as_deref(), Some("http://general:1"));
        // An empty variable is no endpoint.
        assert!(endpoints(&[("AWS_ENDPOINT_URL_S3", "")]).is_empty());
    }
}
