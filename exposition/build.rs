//! Records the compiler version for the `goversion` label of `<exporter>_build_info`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .filter(|s| s.starts_with("rustc "));
    if let Some(v) = version {
        println!("cargo:rustc-env=EXPOSITION_RUSTC_VERSION={v}");
    }
}
