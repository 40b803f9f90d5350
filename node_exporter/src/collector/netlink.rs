//! A minimal netlink client for the collectors that query the kernel over netlink (`qdisc` and `netdev` through
//! rtnetlink, `wifi` through generic netlink / nl80211): one request, all reply messages, and attribute decoding. Built on
//! `nix` sockets; no unsafe code.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto, socket,
};

/// `nlmsghdr` length.
pub const HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `NLM_F_REQUEST`.
pub const F_REQUEST: u16 = 0x1;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const F_DUMP: u16 = 0x300;
const NLMSG_MIN_TYPE: u16 = 0x10;
/// `RTM_NEWLINK`: one link of a link dump.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_GETLINK`: asks for links (with [`F_DUMP`], all of them).
pub const RTM_GETLINK: u16 = 18;
/// `ifinfomsg` length (family, padding, type, index, flags, change mask).
pub const IFINFOMSG_LEN: usize = 16;

/// Why a netlink exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// A socket call failed.
    #[error("netlink {op}: {source}")]
    Socket {
        /// The call.
        op: &'static str,
        /// The errno.
        source: nix::Error,
    },
    /// The kernel answered with an error (a positive errno).
    #[error("netlink request failed: {}", std::io::Error::from_raw_os_error(*.0))]
    Kernel(i32),
    /// A message is truncated or malformed.
    #[error("netlink: malformed message ({0})")]
    Malformed(&'static str),
}

impl NetlinkError {
    /// Whether the kernel said the object does not exist (e.g. no nl80211 family: no WiFi support).
    pub fn is_not_found(&self) -> bool {
        matches!(self, NetlinkError::Kernel(e) if *e == libc::ENOENT || *e == libc::ENODEV)
    }
}

impl From<NetlinkError> for std::io::Error {
    fn from(e: NetlinkError) -> std::io::Error {
        match e {
            NetlinkError::Kernel(errno) => std::io::Error::from_raw_os_error(errno),
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// Reads a native-endian u16 at `at`.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Reads a native-endian u32 at `at`.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a native-endian u64 at `at`.
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The `(type, payload)` attributes of `b` (nested and byte-order flags masked off). A truncated attribute
/// ends the list.
pub fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let (Some(len), Some(kind)) = (u16_at(b, 0), u16_at(b, 2)) {
        let len = usize::from(len);
        if len < 4 || len > b.len() {
            break;
        }
        out.push((kind & 0x3FFF, &b[4..len]));
        b = b.get(align4(len)..).unwrap_or_default();
    }
    out
}

/// One attribute as bytes: `(type, payload)` with the header and padding.
pub fn attribute(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(align4(len));
    out.extend((len as u16).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(payload);
    out.resize(align4(len), 0);
    out
}

/// An `ifinfomsg` request payload for `RTM_GETLINK`: address family `family` (`AF_UNSPEC`, 0, for every link)
/// and interface `index` (0 in a dump); type, flags and change mask are zero.
pub fn ifinfomsg(family: u8, index: i32) -> [u8; IFINFOMSG_LEN] {
    let mut out = [0u8; IFINFOMSG_LEN];
    out[0] = family;
    out[4..8].copy_from_slice(&index.to_ne_bytes());
    out
}

/// A netlink socket of one protocol. It may serve many requests: replies are matched by sequence number, and its
/// receive buffer is allocated once.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// Opens and binds a socket (`NETLINK_ROUTE`, `NETLINK_GENERIC`, ...).
    pub fn open(protocol: SockProtocol) -> Result<Socket, NetlinkError> {
        let err = |op| move |source| NetlinkError::Socket { op, source };
        let fd =
            socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol).map_err(err("socket"))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(err("bind"))?;
        Ok(Socket {
            fd,
            seq: 0,
            buf: Vec::new(),
        })
    }

    /// Sends one request and returns the `(type, payload)` of every reply message until the dump ends (or, for a
    /// plain request, the first reply).
    pub fn request(&mut self, kind: u16, flags: u16, payload: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, NetlinkError> {
        let err = |op| move |source| NetlinkError::Socket { op, source };
        self.seq += 1;
        let mut msg = Vec::with_capacity(HDRLEN + payload.len());
        msg.extend(((HDRLEN + payload.len()) as u32).to_ne_bytes());
        msg.extend(kind.to_ne_bytes());
        msg.extend(flags.to_ne_bytes());
        msg.extend(self.seq.to_ne_bytes());
        msg.extend(0u32.to_ne_bytes());
        msg.extend(payload);
        sendto(self.fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty()).map_err(err("sendto"))?;
        let dump = flags & F_DUMP != 0;
        let mut out = Vec::new();
        if self.buf.is_empty() {
            self.buf = vec![0u8; 1 << 16];
        }
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()).map_err(err("recv"))?;
            let mut msgs = &self.buf[..n];
            if msgs.is_empty() {
                return Ok(out);
            }
            while msgs.len() >= HDRLEN {
                let len = u32_at(msgs, 0).ok_or(NetlinkError::Malformed("header"))? as usize;
                let kind = u16_at(msgs, 4).ok_or(NetlinkError::Malformed("header"))?;
                if len < HDRLEN || len > msgs.len() {
                    return Err(NetlinkError::Malformed("message length"));
                }
                let body = &msgs[HDRLEN..len];
                // A reply to an earlier request (one abandoned after an error) is not this request's.
                if u32_at(msgs, 8) != Some(self.seq) {
                    msgs = msgs.get(align4(len)..).unwrap_or_default();
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = body
                            .get(..4)
                            .and_then(|b| b.try_into().ok())
                            .map(i32::from_ne_bytes)
                            .ok_or(NetlinkError::Malformed("error message"))?;
                        if errno != 0 {
                            return Err(NetlinkError::Kernel(-errno));
                        }
                        if !dump {
                            return Ok(out);
                        }
                    }
                    k if k >= NLMSG_MIN_TYPE => {
                        out.push((k, body.to_vec()));
                        if !dump {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
                msgs = msgs.get(align4(len)..).unwrap_or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_round_trip_and_truncation() {
        let mut bytes = attribute(1, b"fq\0");
        bytes.extend(attribute(0x8007, &42u32.to_ne_bytes()));
        let attrs = attributes(&bytes);
        assert_eq!(attrs, [(1, &b"fq\0"[..]), (7, &42u32.to_ne_bytes()[..])]);
        assert_eq!(attributes(&bytes[..6]), []);
        assert_eq!(u32_at(attrs[1].1, 0), Some(42));
        assert_eq!(u64_at(attrs[1].1, 0), None);
    }

    #[test]
    fn ifinfomsg_layout() {
        let msg = ifinfomsg(10, 7);
        assert_eq!(msg[0], 10);
        assert_eq!(u32_at(&msg, 4), Some(7));
        assert!(msg[1..4].iter().chain(&msg[8..]).all(|&b| b == 0));
    }

    #[test]
    fn link_dump_on_this_host() {
        // Every network namespace has a loopback link.
        let mut sock = Socket::open(SockProtocol::NetlinkRoute).unwrap();
        let replies = sock.request(RTM_GETLINK, F_REQUEST | F_DUMP, &ifinfomsg(0, 0)).unwrap();
        assert!(!replies.is_empty());
        assert!(
            replies
                .iter()
                .all(|(kind, body)| *kind == RTM_NEWLINK && body.len() >= IFINFOMSG_LEN)
        );
        // The same socket serves a second dump with the same links.
        let again = sock.request(RTM_GETLINK, F_REQUEST | F_DUMP, &ifinfomsg(0, 0)).unwrap();
        assert_eq!(again.len(), replies.len());
    }
}
