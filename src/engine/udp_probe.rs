//! One UDP probe with a given TTL, as `traceroute -U` sends: a datagram to an unlikely port, and
//! the ICMP error it causes read from the socket's error queue (IP_RECVERR): "time exceeded"
//! from a router on the way, "port unreachable" from the destination itself.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect, recvmsg, send, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    SockaddrStorage,
};

use super::error::{EngineError, Result};

/// traceroute's first destination port; probe n goes to 33434 + n - 1.
pub const BASE_PORT: u16 = 33434;

/// What came back for one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeAnswer {
    /// A router said the TTL ran out.
    TimeExceeded { from: IpAddr, rtt: Duration },
    /// Someone said unreachable: the destination itself for "port" (the trace is done).
    Unreachable { from: IpAddr, rtt: Duration, port: bool },
    /// Nothing within the timeout.
    Silence,
    /// The kernel would not send it (no route, ...): its words.
    NotSent(String),
}

/// Sends one UDP datagram with `ttl` to `dst:port` from inside `ns`, and waits up to `timeout`
/// for the ICMP error it causes.
pub fn probe(ns: &File, home: &File, dst: IpAddr, port: u16, ttl: u8, timeout: Duration) -> Result<ProbeAnswer> {
    let fd = super::netns::within(ns, home, || open(dst, ttl))??;
    if let Err(e) = connect(fd.as_raw_fd(), &SockaddrStorage::from(SocketAddr::new(dst, port))) {
        return Ok(ProbeAnswer::NotSent(e.desc().to_string()));
    }
    let sent = Instant::now();
    if let Err(e) = send(fd.as_raw_fd(), &[0u8; 32], MsgFlags::empty()) {
        return Ok(ProbeAnswer::NotSent(e.desc().to_string()));
    }
    let deadline = sent + timeout;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(ProbeAnswer::Silence);
        }
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
        let ms = left.as_micros().div_ceil(1000).min(50) as u16;
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(EngineError::errno("wait for a traceroute answer", e)),
        }
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
        let Ok(msg) = recvmsg::<SockaddrStorage>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_ERRQUEUE) else {
            continue;
        };
        let rtt = sent.elapsed();
        for c in msg.cmsgs().map_err(|e| EngineError::errno("read a traceroute answer", e))? {
            let (origin, kind, code, from) = match c {
                ControlMessageOwned::Ipv4RecvErr(ee, Some(a)) => {
                    (ee.ee_origin, ee.ee_type, ee.ee_code, IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
                }
                ControlMessageOwned::Ipv6RecvErr(ee, Some(a)) => {
                    (ee.ee_origin, ee.ee_type, ee.ee_code, IpAddr::V6(std::net::Ipv6Addr::from(a.sin6_addr.s6_addr)))
                }
                _ => continue,
            };
            return Ok(match (origin, kind, code) {
                (libc::SO_EE_ORIGIN_ICMP, 11, _) | (libc::SO_EE_ORIGIN_ICMP6, 3, _) => ProbeAnswer::TimeExceeded { from, rtt },
                (libc::SO_EE_ORIGIN_ICMP, 3, c) => ProbeAnswer::Unreachable { from, rtt, port: c == 3 },
                (libc::SO_EE_ORIGIN_ICMP6, 1, c) => ProbeAnswer::Unreachable { from, rtt, port: c == 4 },
                _ => continue,
            });
        }
    }
}

fn open(dst: IpAddr, ttl: u8) -> Result<OwnedFd> {
    let op = "open a UDP socket for traceroute";
    let family = if dst.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).map_err(|e| EngineError::errno(op, e))?;
    let ttl = i32::from(ttl);
    let set = if dst.is_ipv4() {
        setsockopt(&fd, sockopt::Ipv4Ttl, &ttl).and_then(|_| setsockopt(&fd, sockopt::Ipv4RecvErr, &true))
    } else {
        setsockopt(&fd, sockopt::Ipv6Ttl, &ttl).and_then(|_| setsockopt(&fd, sockopt::Ipv6RecvErr, &true))
    };
    set.map_err(|e| EngineError::errno(op, e))?;
    Ok(fd)
}
