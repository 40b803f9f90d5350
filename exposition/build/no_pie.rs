//! Build script of the exporter binaries (node, nginx, mysql): links the shipped binary as a position-dependent
//! executable on Linux, as Go links its binaries by default.
//!
//! A position-independent executable carries a relocation table the loader reads at start (about 0.2-0.5 MiB
//! here) and a relocated read-only data segment that becomes private dirty memory (about 0.15-0.35 MiB), all of
//! it resident for the process's life. Linked at a fixed address, both are resolved by the linker instead. The
//! image loses address-space randomization; shared libraries, heap and stacks keep it.
//!
//! A static build (`-C target-feature=+crt-static`, the shipped build described in the top-level README) is left
//! alone: its relocation model decides (`-C relocation-model=static` for a fixed address), and the musl target
//! links static position-independent executables that must not get `-no-pie`.

fn main() {
    println!("cargo:rerun-if-changed=../exposition/build/no_pie.rs");
    // The shipped build lays out the code by this list (bench/build-exporter.sh): a new list relinks the binary.
    println!("cargo:rerun-if-env-changed=HOT_FUNCTIONS");
    if std::path::Path::new("hot-functions.txt").exists() {
        println!("cargo:rerun-if-changed=hot-functions.txt");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let static_crt = features.split(',').any(|f| f == "crt-static");
    if os == "linux" && env == "gnu" && !static_crt {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
