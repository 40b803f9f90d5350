//! dns_sd against a small DNS server on loopback UDP (answers from a table in the test): SRV, A, AAAA and MX
//! targets and labels, NXDOMAIN emptying a group, server failures keeping the previous targets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use server::config::discovery::DnsSdConfig;
use server::discovery::dns::DnsDiscoverer;
use server::discovery::{DiscovererOptions, TargetGroup};

#[derive(Clone, Debug)]
enum Answer {
    Records(Vec<RData>),
    ServFail,
}

type Zone = Arc<Mutex<HashMap<(String, RecordType), Answer>>>;

/// Serves `zone` over UDP; unknown names get NXDOMAIN.
async fn dns_server(zone: Zone) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = req.queries.first().cloned() else {
                continue;
            };
            let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
            resp.metadata.authoritative = true;
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.add_query(q.clone());
            let key = (q.name.to_ascii().to_ascii_lowercase(), q.query_type);
            let answer = zone.lock().unwrap().get(&key).cloned();
            match answer {
                Some(Answer::Records(records)) => {
                    for r in records {
                        resp.add_answer(Record::from_rdata(q.name.clone(), 60, r));
                    }
                }
                Some(Answer::ServFail) => resp.metadata.response_code = ResponseCode::ServFail,
                None => resp.metadata.response_code = ResponseCode::NXDomain,
            }
            let _ = sock.send_to(&resp.to_vec().unwrap(), peer).await;
        }
    });
    (addr, task)
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn discoverer(yaml: &str, server: SocketAddr) -> DnsDiscoverer {
    let config: DnsSdConfig = serde_saphyr::from_str(yaml).unwrap();
    let options = DiscovererOptions {
        job: "dns".into(),
        dns_servers: Some(vec![server]),
        ..DiscovererOptions::default()
    };
    DnsDiscoverer::new(&config, &options).unwrap()
}

fn labels(group: &TargetGroup) -> Vec<Vec<(String, String)>> {
    group
        .targets
        .iter()
        .map(|t| t.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn record_types_and_labels() {
    let zone: Zone = Arc::default();
    {
        let mut z = zone.lock().unwrap();
        z.insert(
            ("_node._tcp.example.org.".into(), RecordType::SRV),
            Answer::Records(vec![
                RData::SRV(SRV::new(0, 0, 9100, name("n1.example.org."))),
                RData::SRV(SRV::new(0, 0, 9101, name("n2.example.org."))),
            ]),
        );
        z.insert(
            ("web.example.org.".into(), RecordType::A),
            Answer::Records(vec![
                RData::CNAME(CNAME(name("web.example.org."))),
                RData::A(A::new(192, 0, 2, 1)),
            ]),
        );
        z.insert(
            ("web.example.org.".into(), RecordType::AAAA),
            Answer::Records(vec![RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))]),
        );
        z.insert(
            ("example.org.".into(), RecordType::MX),
            Answer::Records(vec![RData::MX(MX::new(10, name("mx.example.org.")))]),
        );
    }
    let (addr, _server) = dns_server(zone).await;
    // Config, expected source, expected targets' labels.
    type Case = (&'static str, &'static str, Vec<Vec<(String, String)>>);
    let cases: Vec<Case> = vec![
        (
            "names: [_node._tcp.example.org.]",
            "_node._tcp.example.org.",
            vec![
                l(&[
                    ("__address__", "n1.example.org:9100"),
                    ("__meta_dns_name", "_node._tcp.example.org."),
                    ("__meta_dns_srv_record_port", "9100"),
                    ("__meta_dns_srv_record_target", "n1.example.org."),
                ]),
                l(&[
                    ("__address__", "n2.example.org:9101"),
                    ("__meta_dns_name", "_node._tcp.example.org."),
                    ("__meta_dns_srv_record_port", "9101"),
                    ("__meta_dns_srv_record_target", "n2.example.org."),
                ]),
            ],
        ),
        (
            "names: [web.example.org.]\ntype: A\nport: 9100",
            "web.example.org.",
            vec![l(&[
                ("__address__", "192.0.2.1:9100"),
                ("__meta_dns_name", "web.example.org."),
            ])],
        ),
        (
            "names: [web.example.org.]\ntype: AAAA\nport: 9100",
            "web.example.org.",
            vec![l(&[
                ("__address__", "[2001:db8::1]:9100"),
                ("__meta_dns_name", "web.example.org."),
            ])],
        ),
        (
            "names: [example.org.]\ntype: MX\nport: 25",
            "example.org.",
            vec![l(&[
                ("__address__", "mx.example.org:25"),
                ("__meta_dns_mx_record_target", "mx.example.org."),
                ("__meta_dns_name", "example.org."),
            ])],
        ),
        (
            "names: [missing.example.org.]\ntype: A\nport: 80",
            "missing.example.org.",
            vec![],
        ),
    ];
    for (yaml, source, want) in cases {
        let mut d = discoverer(yaml, addr);
        let groups = d.refresh().await;
        assert_eq!(groups.len(), 1, "{yaml}");
        assert_eq!(groups[0].source, source, "{yaml}");
        assert_eq!(labels(&groups[0]), want, "{yaml}");
    }
}

#[tokio::test]
async fn failures_keep_targets_and_nxdomain_removes_them() {
    let zone: Zone = Arc::default();
    let key = ("svc.example.org.".to_string(), RecordType::A);
    zone.lock()
        .unwrap()
        .insert(key.clone(), Answer::Records(vec![RData::A(A::new(10, 0, 0, 1))]));
    let (addr, _server) = dns_server(zone.clone()).await;
    let mut d = discoverer("names: [svc.example.org.]\ntype: A\nport: 80", addr);
    assert_eq!(d.refresh().await[0].targets.len(), 1);

    // Unchanged: nothing to send.
    assert!(d.refresh().await.is_empty());

    // The server fails: keep what we have (nothing sent).
    zone.lock().unwrap().insert(key.clone(), Answer::ServFail);
    assert!(d.refresh().await.is_empty());

    // Back with another address.
    zone.lock()
        .unwrap()
        .insert(key.clone(), Answer::Records(vec![RData::A(A::new(10, 0, 0, 2))]));
    let g = d.refresh().await;
    assert_eq!(g[0].targets[0].get("__address__"), Some("10.0.0.2:80"));

    // The name is gone: the group empties.
    zone.lock().unwrap().remove(&key);
    let g = d.refresh().await;
    assert_eq!(g.len(), 1);
    assert!(g[0].targets.is_empty());
}
