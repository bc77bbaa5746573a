//! Writes `docs/` from the provider schema and `examples/`.
//! Usage: gen-docs REPO_ROOT (scripts/gen-docs passes it).

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let root: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: gen-docs REPO_ROOT")?;
    let pages = terraform_provider_saas::docs::render(&root.join("examples"))?;
    for page in pages {
        let path = root.join("docs").join(&page.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, page.content)
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "wrote {}",
            path.strip_prefix(&root).unwrap_or(&path).display()
        );
    }
    Ok(())
}
