//! `static_configs`: targets listed in the configuration. All entries of a job form one provider whose groups
//! have the sources `0`, `1`, ... in order, as upstream numbers them.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::discovery::StaticConfig;
use crate::model::labels::Labels;

use super::{BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, TargetGroup, address_target};

/// Sends the configured groups once, then waits for cancellation.
#[derive(Debug)]
pub struct StaticDiscoverer {
    groups: Vec<TargetGroup>,
}

impl StaticDiscoverer {
    /// The groups of `configs`.
    pub fn new(configs: &[StaticConfig]) -> StaticDiscoverer {
        StaticDiscoverer {
            groups: groups(configs),
        }
    }
}

/// The target groups `configs` describe.
pub fn groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| TargetGroup {
            source: i.to_string(),
            targets: c.targets.iter().map(address_target).collect(),
            labels: c.labels.iter().collect::<Labels>(),
        })
        .collect()
}

/// The [`super::MECHANISMS`] constructor.
pub fn build(config: &SdConfig, _options: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
    match config {
        SdConfig::Static(c) => Ok(Box::new(StaticDiscoverer::new(c))),
        other => Err(DiscoveryError::Mechanism {
            expected: "static",
            got: other.mechanism(),
        }),
    }
}

impl Discoverer for StaticDiscoverer {
    fn run(self: Box<Self>, cancel: CancellationToken, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            if super::send(&cancel, &updates, self.groups).await {
                cancel.cancelled().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_positions() {
        let configs: Vec<StaticConfig> =
            serde_saphyr::from_str("- targets: [a:1, b:2]\n  labels: {env: prod}\n- targets: [c:3]\n- {}\n").unwrap();
        let got = groups(&configs);
        let want = vec![
            TargetGroup {
                source: "0".into(),
                targets: vec![address_target("a:1"), address_target("b:2")],
                labels: [("env", "prod")].into_iter().collect(),
            },
            TargetGroup {
                source: "1".into(),
                targets: vec![address_target("c:3")],
                labels: Labels::new(),
            },
            TargetGroup::empty("2"),
        ];
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn sends_once_and_stops_on_cancel() {
        let configs: Vec<StaticConfig> = serde_saphyr::from_str("- targets: [a:1]\n").unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(Box::new(StaticDiscoverer::new(&configs)).run(cancel.clone(), tx));
        assert_eq!(rx.recv().await.unwrap(), groups(&configs));
        cancel.cancel();
        task.await.unwrap();
        assert!(rx.recv().await.is_none());
    }
}
