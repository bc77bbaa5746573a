use terraform_provider_saas::{SaasProvider, PROVIDER_NAME};

fn main() -> anyhow::Result<()> {
    // tf-provider attaches a backtrace to every diagnostic when RUST_BACKTRACE
    // is set; users need the message, not our stack. Panics keep theirs.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    // tonic links rustls with ring and the AWS SDK with aws-lc, so rustls
    // cannot pick a default for the plugin's TLS on its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    #[cfg(target_os = "linux")]
    terraform_provider_saas::nodelay::spawn();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(tf_provider::serve(PROVIDER_NAME, SaasProvider::default()))
}
