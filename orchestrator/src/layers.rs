//! The layers of the orchestrator, checked: a module may import only from
//! layers below its own (`docs/ARCHITECTURE.md` draws the same table). A new
//! module fails this test until it is given a layer.

/// Bottom to top. Modules within one layer do not import each other.
const LAYERS: [&[&str]; 10] = [
    &[
        "exit",
        "mirror",
        "tf_json",
        "redact",
        "aws",
        "locks",
        "fingerprint",
        "gitlab_api",
        "pool",
        "init_template",
    ],
    &["settings", "runs", "policy"],
    &["workspace", "runner", "rollout", "discovery", "bootstrap"],
    &["tenant_job", "render"],
    &["progress", "pipeline", "changed"],
    &["fanout"],
    &["cli"],
    &["resolve"],
    &["commands"],
    &["main"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a source file belongs to.
fn module_of(path: &std::path::Path, src: &std::path::Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named after each `crate::`, braces included
/// (`crate::{policy, render}`).
fn imported_modules(code: &str) -> Vec<String> {
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                out.extend(group.split(',').map(ident).filter(|m| !m.is_empty()));
            }
            None => out.push(ident(rest)),
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let module = module_of(&file, &src);
        if matches!(module.as_str(), "layers" | "test_fixtures") {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{module}: not in LAYERS"));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // Only the code: a module's own tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for used in imported_modules(code) {
            if used == module || used == "test_fixtures" {
                continue;
            }
            match layer_of(&used) {
                Some(theirs) if theirs < own => {}
                _ => wrong.push(format!(
                    "{}: {module} (layer {own}) uses {used} (layer {:?})",
                    file.strip_prefix(&src).unwrap().display(),
                    layer_of(&used)
                )),
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}
