use terraform_provider_saas::{SaasProvider, PROVIDER_NAME};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve(PROVIDER_NAME, SaasProvider::default()).await
}
