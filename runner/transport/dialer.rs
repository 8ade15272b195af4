//! The TCP dialer of the ssh masters: it opens the connection with `TCP_NODELAY` and hands
//! the socket to ssh.
//!
//! Why this module exists: OpenSSH's client leaves Nagle's algorithm on unless a session
//! is interactive. During a login it often writes a packet while the host has not yet
//! acknowledged the one before; the host delays that acknowledgement (40 ms on Linux), and
//! the packet waits for it. Measured here: two such waits in every login, 0.16 s → 0.08 s
//! per connection without them. So each master gets `ProxyCommand <windlass> __dial …` with
//! `ProxyUseFdpass yes`: ssh starts this dialer, which connects as ssh itself would (every
//! address of the name in turn, `ConnectTimeout`, `AddressFamily`), sets `TCP_NODELAY`
//! (and `SO_KEEPALIVE` when `TCPKeepAlive` is on, as ssh does), passes the connected socket
//! back over its stdout and exits. ssh then speaks SSH on that socket as on its own.
//!
//! When it is not used (see `Route::from_effective_config`): the host's effective ssh
//! configuration (`ssh -G`) already routes the connection (`ProxyCommand`, `ProxyJump`),
//! binds it (`BindAddress`, `BindInterface`) or canonicalizes the name (ssh does not with a
//! proxy); `WINDLASS_SSH_DIALER=0` is set; or no dialer program is known ([`enable`]:
//! the `windlass` binary enables itself, an embedding program may point at a binary that
//! calls [`main`] for `__dial`).

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The first argument that makes a program run [`main`].
pub const SUBCOMMAND: &str = "__dial";

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Use `program` (which runs [`main`] when its first argument is [`SUBCOMMAND`]) as the
/// dialer of every ssh master this process starts. The first call wins.
pub fn enable(program: PathBuf) {
    let _ = PROGRAM.set(program);
}

/// The dialer program, unless none was enabled, it is gone (a binary replaced or removed
/// while a run goes on: ssh then connects by itself), or `WINDLASS_SSH_DIALER=0`.
pub(crate) fn program() -> Option<&'static Path> {
    if std::env::var_os("WINDLASS_SSH_DIALER").is_some_and(|v| v == "0") {
        return None;
    }
    PROGRAM.get().map(PathBuf::as_path).filter(|p| p.is_file())
}

/// How a master reaches its host through the dialer: what `ssh -G` says of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    /// `ConnectTimeout` (`None`: the system's own).
    pub timeout: Option<Duration>,
    /// `AddressFamily`: `any`, `inet` or `inet6`.
    pub family: String,
    /// `TCPKeepAlive`.
    pub keepalive: bool,
}

impl Route {
    /// The route for the effective configuration `ssh -G` printed, or `None` when ssh must
    /// connect by itself (see the module docs).
    pub(crate) fn from_effective_config(g: &str) -> Option<Route> {
        let mut route = Route {
            timeout: None,
            family: "any".into(),
            keepalive: true,
        };
        for line in g.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "proxycommand" | "proxyjump" | "bindaddress" | "bindinterface"
                    if !v.is_empty() && v != "none" =>
                {
                    return None;
                }
                "canonicalizehostname" if v != "false" && v != "no" => return None,
                "connecttimeout" if v != "none" => {
                    route.timeout = Some(Duration::from_secs(v.parse().ok()?));
                }
                "addressfamily" => route.family = v.to_string(),
                "tcpkeepalive" => route.keepalive = v == "yes",
                _ => {}
            }
        }
        ["any", "inet", "inet6"]
            .contains(&route.family.as_str())
            .then_some(route)
    }

    /// The `ssh_config` lines that make ssh use the dialer `program`, which writes why a
    /// connection failed to `errors` (ssh itself only says the dialer gave no socket).
    pub(crate) fn config_lines(&self, program: &Path, errors: &Path) -> Vec<String> {
        // ssh runs the command with `$SHELL -c "exec …"` after expanding `%` tokens.
        let arg = |s: &str| {
            shlex::try_quote(s)
                .map(|q| q.replace('%', "%%"))
                .unwrap_or_else(|_| "/nonexistent".into())
        };
        let timeout = self
            .timeout
            .map_or("none".into(), |t| t.as_secs().to_string());
        vec![
            format!(
                "ProxyCommand {} {SUBCOMMAND} %h %p {timeout} {} {} {}",
                arg(&program.to_string_lossy()),
                self.family,
                if self.keepalive { "yes" } else { "no" },
                arg(&errors.to_string_lossy()),
            ),
            "ProxyUseFdpass yes".into(),
        ]
    }
}

/// The dialer itself: `__dial HOST PORT TIMEOUT FAMILY KEEPALIVE ERRORS`, with ssh's end of
/// a socket pair as stdout. Returns the exit code (0: the socket was passed).
pub fn main(args: &[String]) -> i32 {
    let [host, port, timeout, family, keepalive, errors] = args else {
        eprintln!("usage: {SUBCOMMAND} HOST PORT TIMEOUT FAMILY KEEPALIVE ERRORS");
        return 2;
    };
    let timeout = timeout.parse().ok().map(Duration::from_secs);
    let result = port
        .parse::<u16>()
        .map_err(|_| format!("bad port '{port}'"))
        .and_then(|port| dial(host, port, timeout, family, keepalive == "yes"))
        .and_then(|s| pass(&s, std::io::stdout().as_fd()));
    match result {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(errors)
            {
                let _ = writeln!(f, "{msg}");
            }
            255
        }
    }
}

/// Connect to `host`:`port` as ssh would, with `TCP_NODELAY` set.
pub(crate) fn dial(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    family: &str,
    keepalive: bool,
) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("Could not resolve hostname {host}: {}", gai_message(&e)))?
        .filter(|a| match family {
            "inet" => a.is_ipv4(),
            "inet6" => a.is_ipv6(),
            _ => true,
        })
        .collect();
    let mut last = None;
    for a in &addrs {
        let r = match timeout {
            Some(t) if !t.is_zero() => TcpStream::connect_timeout(a, t),
            _ => TcpStream::connect(a),
        };
        match r {
            Ok(s) => {
                s.set_nodelay(true)
                    .map_err(|e| format!("setsockopt TCP_NODELAY: {e}"))?;
                if keepalive {
                    rustix::net::sockopt::set_socket_keepalive(&s, true)
                        .map_err(|e| format!("setsockopt SO_KEEPALIVE: {e}"))?;
                }
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => format!("connect to host {host} port {port}: {}", os_message(&e)),
        None => {
            format!("Could not resolve hostname {host}: Address family for hostname not supported")
        }
    })
}

/// Hand `socket` to ssh over `to` (its end of the socket pair), as `ProxyUseFdpass` wants:
/// one byte with the descriptor attached.
pub(crate) fn pass(socket: &TcpStream, to: std::os::fd::BorrowedFd<'_>) -> Result<(), String> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let fds = [socket.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err("cannot pass the connection to ssh (control buffer)".into());
    }
    sendmsg(
        to,
        &[std::io::IoSlice::new(&[0])],
        &mut control,
        SendFlags::empty(),
    )
    .map(|_| ())
    .map_err(|e| format!("cannot pass the connection to ssh: {e}"))
}

/// An OS error as `strerror` words ("Connection refused"), as ssh prints them.
fn os_message(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return "Connection timed out".into();
    }
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A resolver error as ssh prints it ("Name or service not known").
fn gai_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&s)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn the_socket_reaches_ssh_with_nodelay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (ssh_end, dialer_end) = UnixStream::pair().unwrap();
        let s = dial("127.0.0.1", port, Some(Duration::from_secs(5)), "any", true).unwrap();
        pass(&s, dialer_end.as_fd()).unwrap();
        drop(s);
        // What ssh's mm_receive_fd does: one byte, one descriptor.
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut byte = [1u8];
        let got = recvmsg(
            &ssh_end,
            &mut [std::io::IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::empty(),
        )
        .unwrap();
        assert_eq!((got.bytes, byte[0]), (1, 0));
        let fd = control
            .drain()
            .find_map(|m| match m {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            })
            .expect("a descriptor");
        assert!(rustix::net::sockopt::tcp_nodelay(&fd).unwrap());
        assert!(rustix::net::sockopt::socket_keepalive(&fd).unwrap());
        let (mut accepted, _) = listener.accept().unwrap();
        let mut theirs = TcpStream::from(fd);
        theirs.write_all(b"SSH-2.0-x\r\n").unwrap();
        let mut buf = [0u8; 11];
        use std::io::Read;
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"SSH-2.0-x\r\n");
    }

    #[test]
    fn failures_read_like_ssh() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = dial("127.0.0.1", port, Some(Duration::from_secs(2)), "any", true).unwrap_err();
        assert_eq!(
            e,
            format!("connect to host 127.0.0.1 port {port}: Connection refused")
        );
        let e = dial("127.0.0.1", port, None, "inet6", true).unwrap_err();
        assert!(e.contains("Address family"), "{e}");
        let e = dial("no-such-host.invalid", 22, None, "any", true).unwrap_err();
        assert!(
            e.starts_with("Could not resolve hostname no-such-host.invalid: "),
            "{e}"
        );
    }

    #[test]
    fn the_route_follows_the_effective_config() {
        let plain = "host 10.0.0.1\nport 22\nconnecttimeout 10\naddressfamily any\ntcpkeepalive yes\ncanonicalizehostname false\n";
        let r = Route::from_effective_config(plain).unwrap();
        assert_eq!(r.timeout, Some(Duration::from_secs(10)));
        assert!(r.keepalive);
        let none = plain.replace("connecttimeout 10", "connecttimeout none");
        assert_eq!(Route::from_effective_config(&none).unwrap().timeout, None);
        let v4 = plain.replace("addressfamily any", "addressfamily inet");
        assert_eq!(Route::from_effective_config(&v4).unwrap().family, "inet");
        for own in [
            "proxyjump bastion",
            "proxycommand nc %h %p",
            "bindaddress 10.0.0.9",
            "bindinterface eth1",
        ] {
            assert_eq!(
                Route::from_effective_config(&format!("{plain}{own}\n")),
                None,
                "{own}"
            );
        }
        let canon = plain.replace("canonicalizehostname false", "canonicalizehostname true");
        assert_eq!(Route::from_effective_config(&canon), None);
        let lines = r.config_lines(
            Path::new("/opt/my tools/windlass"),
            Path::new("/tmp/c/1.dial"),
        );
        assert_eq!(
            lines,
            [
                "ProxyCommand '/opt/my tools/windlass' __dial %h %p 10 any yes /tmp/c/1.dial",
                "ProxyUseFdpass yes"
            ]
        );
        let pct = r.config_lines(Path::new("/x/100%/w"), Path::new("/e"));
        assert!(
            pct[0].starts_with("ProxyCommand '/x/100%%/w' __dial"),
            "{pct:?}"
        );
    }
}
