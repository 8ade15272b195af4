//! `ipaddr`, `ipv4`, `ipv6`, `ipwrap`, `ipsubnet` filters (ansible.utils), on `ipnet`.
//!
//! Why this module exists: Kubernetes playbooks compute service IPs, pod CIDRs and node
//! addresses with these filters (`kube_service_addresses | ipaddr('net') | ipaddr(1)`).

use std::net::IpAddr;

use ipnet::IpNet;
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error};

use super::filters::{err, text};

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("ipaddr", |v: &Value, q: Option<Value>| {
        filter(v, q.as_ref(), None)
    });
    env.add_filter("ipv4", |v: &Value, q: Option<Value>| {
        filter(v, q.as_ref(), Some(4))
    });
    env.add_filter("ipv6", |v: &Value, q: Option<Value>| {
        filter(v, q.as_ref(), Some(6))
    });
    env.add_filter("ipwrap", ipwrap);
    env.add_filter("ipsubnet", ipsubnet);
}

/// An address or network as written: the net, and whether a prefix was given.
struct Ip {
    net: IpNet,
    has_prefix: bool,
}

fn parse(s: &str) -> Option<Ip> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(Ip {
            net,
            has_prefix: true,
        });
    }
    // "addr/netmask" (IPv4 dotted netmask)
    if let Some((a, m)) = s.split_once('/') {
        if let (Ok(a), Ok(IpAddr::V4(m))) = (a.parse::<IpAddr>(), m.parse::<IpAddr>()) {
            let bits = u32::from(m);
            if bits.leading_ones() + bits.trailing_zeros() == 32 {
                return IpNet::new(a, bits.leading_ones() as u8).ok().map(|net| Ip {
                    net,
                    has_prefix: true,
                });
            }
        }
        return None;
    }
    s.parse::<IpAddr>().ok().map(|a| Ip {
        net: IpNet::from(a),
        has_prefix: false,
    })
}

fn size(net: &IpNet) -> u128 {
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    }
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(x) => u128::from(u32::from(x)),
        IpAddr::V6(x) => u128::from(x),
    }
}

fn from_u128(like: IpAddr, n: u128) -> Option<IpAddr> {
    match like {
        IpAddr::V4(_) => u32::try_from(n)
            .ok()
            .map(|x| IpAddr::from(std::net::Ipv4Addr::from(x))),
        IpAddr::V6(_) => Some(IpAddr::from(std::net::Ipv6Addr::from(n))),
    }
}

fn is_private(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(x) => x.is_private() || x.is_loopback() || x.is_link_local(),
        IpAddr::V6(x) => (x.segments()[0] & 0xfe00) == 0xfc00 || x.is_loopback(),
    }
}

/// One query on one parsed value; `None` means "not applicable" (renders as False).
fn query(ip: &Ip, q: &str) -> Option<Value> {
    let net = &ip.net;
    let s = |x: String| Some(Value::from(x));
    let addr = net.addr();
    let single = size(net) == 1;
    let is_network_addr = addr == net.network();
    let with_prefix = |a: IpAddr| format!("{a}/{}", net.prefix_len());
    if let Ok(n) = q.trim().parse::<i128>() {
        let sz = size(net) as i128;
        let idx = if n < 0 { sz + n } else { n };
        if idx < 0 || idx >= sz {
            return None;
        }
        let a = from_u128(addr, to_u128(net.network()) + idx as u128)?;
        return s(with_prefix(a));
    }
    match q {
        "" => Some(Value::UNDEFINED),
        "address" | "ip" => {
            if !single && is_network_addr && ip.has_prefix {
                None
            } else {
                s(addr.to_string())
            }
        }
        "host" => {
            if single || !is_network_addr {
                s(with_prefix(addr))
            } else {
                None
            }
        }
        "network" => s(net.network().to_string()),
        "netmask" => s(net.netmask().to_string()),
        "hostmask" => s(net.hostmask().to_string()),
        "prefix" => Some(Value::from(net.prefix_len())),
        "size" => Some(Value::from(size(net))),
        "net" => {
            if !single && is_network_addr {
                s(net.to_string())
            } else {
                None
            }
        }
        "cidr" | "subnet" => s(net.trunc().to_string()),
        "broadcast" => match net {
            IpNet::V4(n) if !single => s(n.broadcast().to_string()),
            _ => None,
        },
        "first_usable" => {
            let first = to_u128(net.network()) + if size(net) > 2 { 1 } else { 0 };
            from_u128(addr, first).map(|a| Value::from(a.to_string()))
        }
        "last_usable" => {
            let sz = size(net);
            let last = to_u128(net.network()) + sz - if sz > 2 { 2 } else { 1 };
            from_u128(addr, last).map(|a| Value::from(a.to_string()))
        }
        "version" => Some(Value::from(if addr.is_ipv4() { 4 } else { 6 })),
        "private" => is_private(addr).then_some(Value::UNDEFINED),
        "public" => (!is_private(addr)).then_some(Value::UNDEFINED),
        "ipv4" => addr.is_ipv4().then_some(Value::UNDEFINED),
        "ipv6" => addr.is_ipv6().then_some(Value::UNDEFINED),
        "wrap" | "ipwrap" => {
            let a = match addr {
                IpAddr::V6(_) => format!("[{addr}]"),
                _ => addr.to_string(),
            };
            s(if ip.has_prefix {
                format!("{a}/{}", net.prefix_len())
            } else {
                a
            })
        }
        "int" => Some(Value::from(to_u128(addr))),
        "revdns" => None,
        _ => None,
    }
}

/// Applies the query to one value: the value itself (for validity queries), the result, or
/// `None` when it is not an IP or the query does not apply.
fn one(v: &Value, q: &str, version: Option<u8>) -> Result<Option<Value>, Error> {
    let s = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_owned(),
        ValueKind::Number => {
            // an integer is an address
            return Ok(None);
        }
        _ => return Ok(None),
    };
    let Some(ip) = parse(&s) else {
        return Ok(None);
    };
    match version {
        Some(4) if !ip.net.addr().is_ipv4() => return Ok(None),
        Some(6) if !ip.net.addr().is_ipv6() => return Ok(None),
        _ => {}
    }
    Ok(query(&ip, q).map(|r| if r.is_undefined() { Value::from(s) } else { r }))
}

fn filter(v: &Value, q: Option<&Value>, version: Option<u8>) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(Error::new(
            minijinja::ErrorKind::UndefinedError,
            "undefined value",
        ));
    }
    let q = match q {
        None => String::new(),
        Some(q) if q.is_none() => String::new(),
        Some(q) => text(q)?,
    };
    if v.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for x in v.try_iter()? {
            if let Some(r) = one(&x, &q, version)? {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    Ok(one(v, &q, version)?.unwrap_or(Value::from(false)))
}

fn ipwrap(v: &Value) -> Result<Value, Error> {
    let wrap = |x: &Value| -> Result<Value, Error> {
        let s = text(x)?;
        Ok(match parse(&s) {
            Some(ip) => query(&ip, "wrap").unwrap_or(Value::from(s)),
            None => Value::from(s),
        })
    };
    if v.kind() == ValueKind::Seq {
        return Ok(Value::from(
            v.try_iter()?
                .map(|x| wrap(&x))
                .collect::<Result<Vec<_>, _>>()?,
        ));
    }
    wrap(v)
}

/// `'10.0.0.0/8' | ipsubnet(16)` (count of /16s) and `| ipsubnet(16, 2)` (the third /16).
fn ipsubnet(v: &Value, prefix: Value, index: Option<i64>) -> Result<Value, Error> {
    let s = text(v)?;
    let Some(ip) = parse(&s) else {
        return Ok(Value::from(false));
    };
    let p: u8 = text(&prefix)?
        .trim()
        .parse()
        .map_err(|_| err(format!("ipsubnet: bad prefix {prefix}")))?;
    let net = ip.net.trunc();
    if p < net.prefix_len() || p > net.max_prefix_len() {
        return Ok(Value::from(false));
    }
    let count = 1u128 << u32::from(p - net.prefix_len());
    match index {
        None => Ok(Value::from(count.to_string())),
        Some(i) => {
            let i = if i < 0 {
                count as i128 + i as i128
            } else {
                i as i128
            };
            if i < 0 || i as u128 >= count {
                return Ok(Value::from(false));
            }
            let step = 1u128 << u32::from(net.max_prefix_len() - p);
            let a = from_u128(net.addr(), to_u128(net.network()) + step * i as u128)
                .ok_or_else(|| err("ipsubnet: out of range"))?;
            Ok(Value::from(format!("{a}/{p}")))
        }
    }
}
