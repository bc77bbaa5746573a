//! TCP_NODELAY for the plugin's gRPC connection.
//!
//! tf-provider serves gRPC on a TCP socket without TCP_NODELAY. A response
//! goes out in several small writes, so Nagle's algorithm holds the second
//! one until Terraform acknowledges the first, which Linux delays by up to
//! 40 ms: every RPC took ~43 ms (300 tenants planned with -parallelism=1 took
//! 39 s). tf-provider keeps its sockets private, so a short-lived thread
//! finds them in /proc/self/fd, takes a duplicate through a pidfd (no unsafe
//! code) and sets the option on the listener (accepted sockets inherit it)
//! and on Terraform's connection.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::sockopt::{set_tcp_nodelay, socket_type};
use rustix::net::{getpeername, SocketType};
use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};

/// How long to look for Terraform's connection; it arrives right after the
/// handshake line, well within this.
const WATCH_FOR: Duration = Duration::from_secs(10);
const POLL_EVERY: Duration = Duration::from_millis(1);

/// Starts the watcher; it ends once Terraform's connection has the option.
pub fn spawn() {
    // Without the thread the provider still works, only slower.
    let _ = std::thread::Builder::new()
        .name("nodelay".into())
        .spawn(watch);
}

fn watch() {
    let Ok(pidfd) = pidfd_open(getpid(), PidfdFlags::empty()) else {
        return;
    };
    let deadline = Instant::now() + WATCH_FOR;
    while Instant::now() < deadline {
        if set_on_all_tcp_sockets(&pidfd) {
            return;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Sets TCP_NODELAY on every TCP socket of this process; true once one of
/// them is connected (Terraform's connection).
fn set_on_all_tcp_sockets(pidfd: &OwnedFd) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return true;
    };
    let mut connected = false;
    for entry in entries.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let fd = entry.file_name().to_str().and_then(|n| n.parse().ok());
        let (true, Some(fd)) = (is_socket, fd) else {
            continue;
        };
        let Ok(socket) = pidfd_getfd(pidfd, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        if socket_type(&socket).ok() != Some(SocketType::STREAM) {
            continue;
        }
        // Fails harmlessly on Unix-domain stream sockets.
        if set_tcp_nodelay(&socket, true).is_ok()
            && getpeername(&socket).is_ok_and(|peer| peer.is_some())
        {
            connected = true;
        }
    }
    connected
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::sockopt::tcp_nodelay;

    #[test]
    fn sets_nodelay_on_this_process_tcp_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert!(!tcp_nodelay(&server).unwrap());
        let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).unwrap();
        assert!(set_on_all_tcp_sockets(&pidfd));
        assert!(tcp_nodelay(&server).unwrap());
        assert!(tcp_nodelay(&client).unwrap());
    }
}
