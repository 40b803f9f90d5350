//! Conformance: every service discovery section of upstream's valid configuration files
//! (`prometheus_config/*.good.yml`) builds its discoverer: the HTTP client settings, Kubernetes credentials and
//! DNS settings they use are all accepted. Sections whose construction needs files the corpus does not include (a
//! kubeconfig in a home folder, certificate files of upstream's test tree) are listed by name with the reason, not
//! counted.

mod discovery_support;

use std::path::{Path, PathBuf};

use exposition::conformance::{Tally, corpus_dir};
use server::config::{Config, Mode};
use server::discovery::kubernetes::InCluster;
use server::discovery::{DiscovererOptions, DiscoveryError, alertmanager_sets, scrape_jobs};

fn good_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("corpus folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(good_files(&path));
        } else if path.to_string_lossy().ends_with(".good.yml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Why a construction failure is outside what the corpus can exercise, if it is.
fn out_of_scope(err: &DiscoveryError) -> Option<String> {
    use server::discovery::kubernetes::KubernetesError;
    use server::httpclient::HttpClientError;
    match err {
        DiscoveryError::HttpClient(HttpClientError::ReadFile { path, .. })
        | DiscoveryError::Kubernetes(KubernetesError::Http(HttpClientError::ReadFile { path, .. }))
        | DiscoveryError::Kubernetes(KubernetesError::ReadFile { path, .. }) => Some(format!(
            "names {}, a file the corpus does not include (upstream's test tree or a home folder)",
            path.display()
        )),
        _ => None,
    }
}

#[test]
fn upstream_configs_build_their_discoverers() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("prometheus_config");
    let pki = discovery_support::Pki::new();
    let sa = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = sa.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let options = DiscovererOptions {
        dns_servers: Some(vec!["127.0.0.1:53".parse().unwrap()]),
        kubernetes_in_cluster: Some(InCluster {
            api_server: "https://127.0.0.1:6443".into(),
            token_file: write("token", "t"),
            ca_file: write("ca.crt", &pki.ca_pem),
            namespace_file: write("namespace", "monitoring"),
        }),
        ..DiscovererOptions::default()
    };
    let mut tally = Tally::new("discovery-build");
    let mut skipped = 0;
    for path in good_files(&dir) {
        let name = path.strip_prefix(&dir).unwrap_or(&path).to_string_lossy().into_owned();
        let config = match Config::load_file(&path, Mode::Server) {
            Ok(c) => c,
            // The config suite counts loading; this one only the files that load.
            Err(_) => continue,
        };
        let sets = scrape_jobs(&config).into_iter().chain(alertmanager_sets(&config));
        for (job, configs) in sets {
            for (i, provider) in configs.providers().into_iter().enumerate() {
                let case = format!("{name} {job} {}#{i}", provider.mechanism());
                let mut opts = options.clone();
                opts.job = job.clone();
                match provider.discoverer(&opts) {
                    Ok(_) => tally.record(&case, true),
                    Err(e) => match out_of_scope(&e) {
                        Some(reason) => {
                            skipped += 1;
                            println!("OUT OF SCOPE {case}: {reason}");
                        }
                        None => tally.fail(&case, e),
                    },
                }
            }
        }
    }
    println!("discovery-build: {skipped} out of scope");
    tally.finish();
}
