//! The stack's source tree as Terraform sees it in a run: a mirror of the
//! repository root made of symlinks, with real directories only on the path
//! down to the stack.
//!
//! ```text
//! repo/                          run/src/                 (real dir)
//!   node_modules/ (10 GB)          node_modules -> repo/node_modules
//!   platform/                      platform/              (real dir)
//!     modules/namespace/             modules -> repo/platform/modules
//!     stacks/portal/                 stacks/              (real dir)
//!       main.tf                        portal/            (real dir: Terraform's config dir)
//!       .terraform.lock.hcl              main.tf -> repo/platform/stacks/portal/main.tf
//!                                        .terraform.lock.hcl   (a copy)
//! ```
//!
//! So every local module path Terraform accepts within the root
//! (`../../modules/namespace`, `file("${path.module}/../x")`) resolves as in
//! the repository, the mirror costs one entry per name along the path (a
//! large unrelated folder is one symlink), and whatever Terraform writes into
//! its config dir (a lock file when none is committed) lands in the run,
//! never in the repository. The committed lock file is copied, not linked,
//! so not even a rename through a link can touch it.

use std::path::{Component, Path, PathBuf};

/// What Terraform writes into a config dir of its own: never mirrored.
fn is_terraform_working_file(name: &str) -> bool {
    name == ".terraform"
        || name.starts_with("terraform.tfstate")
        || name == ".terraform.tfstate.lock.info"
}

pub const LOCK_FILE: &str = ".terraform.lock.hcl";

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("stack {stack} is not inside the root {root} (pass --root DIR, the repository root)")]
    OutsideRoot { stack: String, root: String },
    #[error("mirroring {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MirrorError + '_ {
    move |source| MirrorError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The root a stack's relative module paths resolve within: `explicit`
/// (`--root`), else the nearest enclosing directory holding `.git` (a
/// repository, worktree or submodule), else the stack itself.
pub fn find_root(stack: &Path, explicit: Option<&Path>) -> PathBuf {
    if let Some(root) = explicit {
        return root.to_path_buf();
    }
    stack
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(stack)
        .to_path_buf()
}

/// The stack's path below `root`; both must be canonical.
pub fn stack_within(root: &Path, stack: &Path) -> Result<PathBuf, MirrorError> {
    stack
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .map_err(|_| MirrorError::OutsideRoot {
            stack: stack.display().to_string(),
            root: root.display().to_string(),
        })
}

/// Mirrors `root` into `target` (created afresh) down to `root/rel`, the
/// stack. Returns the stack's directory in the mirror.
pub fn mirror(root: &Path, rel: &Path, target: &Path) -> Result<PathBuf, MirrorError> {
    if target.exists() {
        std::fs::remove_dir_all(target).map_err(io_err(target))?;
    }
    let mut from = root.to_path_buf();
    let mut to = target.to_path_buf();
    std::fs::create_dir_all(&to).map_err(io_err(&to))?;
    for part in rel.components() {
        let Component::Normal(next) = part else {
            continue;
        };
        link_entries(&from, &to, |name| name == next)?;
        from.push(next);
        to.push(next);
        std::fs::create_dir(&to).map_err(io_err(&to))?;
    }
    mirror_stack_dir(&from, &to)?;
    Ok(to)
}

/// Links every entry of `from` into `to`, but those `skip` names.
fn link_entries(
    from: &Path,
    to: &Path,
    skip: impl Fn(&std::ffi::OsStr) -> bool,
) -> Result<(), MirrorError> {
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let name = entry.file_name();
        if skip(&name) {
            continue;
        }
        let link = to.join(&name);
        std::os::unix::fs::symlink(entry.path(), &link).map_err(io_err(&link))?;
    }
    Ok(())
}

/// The stack directory itself: links, but Terraform's working files are
/// left out and the lock file is copied.
fn mirror_stack_dir(from: &Path, to: &Path) -> Result<(), MirrorError> {
    link_entries(from, to, |name| {
        let name = name.to_string_lossy();
        is_terraform_working_file(&name) || name == LOCK_FILE
    })?;
    let lock = from.join(LOCK_FILE);
    if lock.is_file() {
        std::fs::copy(&lock, to.join(LOCK_FILE)).map_err(io_err(&lock))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_monorepo_stack_sees_its_modules_and_nothing_is_copied_but_the_lock_file() {
        let repo = tempfile::tempdir().unwrap();
        let repo = repo.path().canonicalize().unwrap();
        std::fs::create_dir(repo.join(".git")).unwrap();
        write(&repo.join("platform/modules/ns/main.tf"), "# ns");
        write(&repo.join("platform/stacks/portal/main.tf"), "# portal");
        write(
            &repo.join("platform/stacks/portal/.terraform.lock.hcl"),
            "# lock",
        );
        write(&repo.join("platform/stacks/portal/.terraform/x"), "old");
        write(&repo.join("platform/stacks/portal/terraform.tfstate"), "{}");
        write(&repo.join("node_modules/big/file"), "big");
        let stack = repo.join("platform/stacks/portal");

        let root = find_root(&stack, None);
        assert_eq!(root, repo);
        let rel = stack_within(&root, &stack).unwrap();
        let run = tempfile::tempdir().unwrap();
        let config = mirror(&root, &rel, &run.path().join("src")).unwrap();

        assert_eq!(config, run.path().join("src/platform/stacks/portal"));
        let module = config.join("../../modules/ns/main.tf");
        assert_eq!(std::fs::read_to_string(module).unwrap(), "# ns");
        assert!(config.join("main.tf").is_symlink());
        assert!(run.path().join("src/node_modules").is_symlink());
        assert!(!config.join(".terraform").exists());
        assert!(!config.join("terraform.tfstate").exists());
        let lock = config.join(LOCK_FILE);
        assert!(lock.is_file() && !lock.is_symlink());
        // Writing through the mirror's lock file never reaches the repository.
        std::fs::write(&lock, "changed").unwrap();
        let original = stack.join(LOCK_FILE);
        assert_eq!(std::fs::read_to_string(original).unwrap(), "# lock");
    }

    #[test]
    fn without_a_repository_the_stack_is_its_own_root() {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().canonicalize().unwrap().join("stack");
        write(&stack.join("main.tf"), "# main");
        assert_eq!(find_root(&stack, None), stack);
        assert_eq!(
            find_root(&stack, Some(dir.path())),
            dir.path().to_path_buf()
        );
        let outside = stack_within(&stack.join("sub"), &stack);
        assert!(matches!(outside, Err(MirrorError::OutsideRoot { .. })));
    }
}
