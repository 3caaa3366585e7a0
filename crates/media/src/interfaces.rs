//! Local addresses for host candidates (RFC 8445 §5.1.1.1).
//!
//! Two halves, kept apart so the rules can be tested without a network:
//!
//! * [`enumerate`] asks the OS for every interface address (the `if-addrs` crate: a safe
//!   `getifaddrs`/`GetAdaptersAddresses` wrapper, so our `unsafe_code = forbid` holds) and
//!   marks VPN interfaces, per OS: Windows by interface type `IF_TYPE_PPP` (23) or
//!   `IF_TYPE_TUNNEL` (131), which is exactly the rule the platform-services wiki gives;
//!   Linux by the point-to-point flag, the ARPHRD type in `/sys/class/net/<if>/type` (PPP,
//!   `NONE` for tun and WireGuard, the IP-in-IP/GRE/SIT tunnels) and the presence of
//!   `tun_flags` (tap devices); macOS by the point-to-point flag and the `utun`, `ppp`,
//!   `ipsec`, `tun`, `tap`, `gif`, `stf` name prefixes.
//! * [`InterfaceFilter::check`] is the pure rule: loopback only when asked (tests need
//!   it), no link-local addresses (an IPv6 one needs its scope id in every socket address,
//!   which the candidate syntax cannot carry; IPv4 169.254/16 means DHCP failed), no
//!   interface that is down, no VPN when "exclude VPN" is on, and none whose address
//!   starts with an entry of the `EXCLUDEINTERFACES` setting.
//!
//! `EXCLUDEINTERFACES` (wiki, "Windows registry"): a comma-separated list such as
//! `"172,192.168,10.10"` for VPNs Windows does not type as PPP or tunnel. The wiki gives
//! no matching rule beyond the example; we compare the address text (`Display` form:
//! dotted IPv4, compressed lower-case IPv6) with each trimmed entry as a plain prefix, the
//! simplest reading and the one configurations written for the Windows client expect.
//! So `10.10` also excludes `10.100.0.1`; write `10.10.` to stop at the octet.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::IpAddr;

/// One address of one local interface, as [`enumerate`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalInterface {
    /// OS interface name (`eth0`, `en0`; Windows: the adapter's friendly name).
    pub name: String,
    /// The address.
    pub addr: IpAddr,
    /// A VPN interface (PPP or tunnel, see the module docs).
    pub vpn: bool,
    /// Operationally up (or the OS does not say).
    pub up: bool,
}

/// Which addresses may carry media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceFilter {
    /// Keep loopback addresses (off in the product; tests need them).
    pub include_loopback: bool,
    /// Keep IPv6 addresses.
    pub ipv6: bool,
    /// The "exclude VPN" / "media outside VPN" setting.
    pub exclude_vpn: bool,
    /// `EXCLUDEINTERFACES` entries: address text prefixes.
    pub exclude_prefixes: Vec<String>,
}

impl Default for InterfaceFilter {
    fn default() -> Self {
        InterfaceFilter {
            include_loopback: false,
            ipv6: true,
            exclude_vpn: false,
            exclude_prefixes: Vec::new(),
        }
    }
}

/// Why [`InterfaceFilter::check`] rejects an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Loopback, and loopback is not wanted.
    Loopback,
    /// Link-local (IPv6 fe80::/10, IPv4 169.254/16).
    LinkLocal,
    /// Unspecified or multicast: not an interface address one can receive on.
    NotUnicast,
    /// IPv6 is switched off.
    Ipv6Off,
    /// The interface is down.
    Down,
    /// A VPN interface while "exclude VPN" is on.
    Vpn,
    /// The address starts with this `EXCLUDEINTERFACES` entry.
    Excluded(String),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Loopback => f.write_str("loopback"),
            Skip::LinkLocal => f.write_str("link-local"),
            Skip::NotUnicast => f.write_str("not a unicast address"),
            Skip::Ipv6Off => f.write_str("IPv6 is off"),
            Skip::Down => f.write_str("interface down"),
            Skip::Vpn => f.write_str("VPN interface excluded"),
            Skip::Excluded(p) => write!(f, "matches EXCLUDEINTERFACES entry {p:?}"),
        }
    }
}

/// Splits an `EXCLUDEINTERFACES` value into its prefixes (trimmed; empty entries dropped).
pub fn parse_exclude_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl InterfaceFilter {
    /// The filter with the prefixes of an `EXCLUDEINTERFACES` value.
    pub fn with_exclude_list(mut self, list: &str) -> Self {
        self.exclude_prefixes = parse_exclude_list(list);
        self
    }

    /// `Ok` when `iface` may carry media, else the first rule it breaks.
    pub fn check(&self, iface: &LocalInterface) -> Result<(), Skip> {
        let ip = iface.addr;
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(Skip::NotUnicast);
        }
        if ip.is_loopback() && !self.include_loopback {
            return Err(Skip::Loopback);
        }
        match ip {
            IpAddr::V4(v4) if v4.is_link_local() => return Err(Skip::LinkLocal),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => return Err(Skip::LinkLocal),
            IpAddr::V6(_) if !self.ipv6 => return Err(Skip::Ipv6Off),
            _ => {}
        }
        if !iface.up {
            return Err(Skip::Down);
        }
        if self.exclude_vpn && iface.vpn {
            return Err(Skip::Vpn);
        }
        let text = ip.to_string();
        if let Some(p) = self
            .exclude_prefixes
            .iter()
            .find(|p| text.starts_with(p.as_str()))
        {
            return Err(Skip::Excluded(p.clone()));
        }
        Ok(())
    }

    /// The usable entries of `ifaces`, in order, each address once.
    pub fn apply(&self, ifaces: &[LocalInterface]) -> Vec<LocalInterface> {
        let mut seen = HashSet::new();
        ifaces
            .iter()
            .filter(|i| match self.check(i) {
                Ok(()) => seen.insert(i.addr),
                Err(why) => {
                    tracing::debug!(iface = %i.name, addr = %i.addr, %why, "address not used for media");
                    false
                }
            })
            .cloned()
            .collect()
    }
}

/// Every address of every local interface, VPNs marked (see the module docs).
pub fn enumerate() -> io::Result<Vec<LocalInterface>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .map(|i| LocalInterface {
            vpn: os::is_vpn(&i),
            up: !matches!(i.oper_status, if_addrs::IfOperStatus::Down),
            addr: i.ip(),
            name: i.name,
        })
        .collect())
}

/// The addresses [`enumerate`] finds that `filter` allows.
pub fn usable(filter: &InterfaceFilter) -> io::Result<Vec<LocalInterface>> {
    Ok(filter.apply(&enumerate()?))
}

#[cfg(target_os = "linux")]
mod os {
    use std::path::Path;

    /// ARPHRD types (linux/if_arp.h) of interfaces that are VPN-like: PPP, tunnels, and
    /// `NONE`, which tun devices (OpenVPN, most VPN clients) and WireGuard report.
    const VPN_ARPHRD: [u32; 7] = [
        512,   // ARPHRD_PPP
        768,   // ARPHRD_TUNNEL (IP-in-IP)
        769,   // ARPHRD_TUNNEL6
        776,   // ARPHRD_SIT
        778,   // ARPHRD_IPGRE
        823,   // ARPHRD_IP6GRE
        65534, // ARPHRD_NONE: tun, WireGuard
    ];

    pub(super) fn is_vpn(i: &if_addrs::Interface) -> bool {
        i.is_p2p() || sysfs_vpn(Path::new("/sys/class/net"), &i.name)
    }

    /// Whether `/sys/class/net/<name>` (under `root`) describes a VPN-like device: an
    /// ARPHRD type above, or a tun/tap device (only those have `tun_flags`; a tap device
    /// reports the Ethernet type).
    pub(super) fn sysfs_vpn(root: &Path, name: &str) -> bool {
        // An interface name never contains '/', but it comes from the OS: stay in `root`.
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return false;
        }
        let dir = root.join(name);
        let typ = std::fs::read_to_string(dir.join("type"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        typ.is_some_and(|t| VPN_ARPHRD.contains(&t)) || dir.join("tun_flags").exists()
    }
}

#[cfg(target_os = "macos")]
mod os {
    /// Name prefixes of macOS VPN and tunnel interfaces (utun: IKEv2/WireGuard/most VPN
    /// apps; ppp: L2TP/PPTP; ipsec: Cisco IPsec; tun/tap: tuntaposx; gif/stf: IP tunnels).
    const VPN_PREFIXES: [&str; 7] = ["utun", "ppp", "ipsec", "tun", "tap", "gif", "stf"];

    pub(super) fn is_vpn(i: &if_addrs::Interface) -> bool {
        i.is_p2p() || VPN_PREFIXES.iter().any(|p| i.name.starts_with(p))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod os {
    /// Windows: `is_p2p` is IfType `IF_TYPE_PPP` (23) or `IF_TYPE_TUNNEL` (131), the
    /// wiki's own definition; elsewhere the point-to-point flag.
    pub(super) fn is_vpn(i: &if_addrs::Interface) -> bool {
        i.is_p2p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, addr: &str, vpn: bool, up: bool) -> LocalInterface {
        LocalInterface {
            name: name.into(),
            addr: addr.parse().unwrap(),
            vpn,
            up,
        }
    }

    #[test]
    fn exclude_list_parsing() {
        assert_eq!(
            parse_exclude_list(" 172, 192.168 ,,10.10,"),
            ["172", "192.168", "10.10"]
        );
        assert!(parse_exclude_list("").is_empty());
        assert!(parse_exclude_list(" , ").is_empty());
    }

    #[test]
    fn rules_table() {
        let product = InterfaceFilter::default().with_exclude_list("172,192.168,10.10,fd00:");
        let no_vpn = InterfaceFilter {
            exclude_vpn: true,
            ..InterfaceFilter::default()
        };
        let tests = InterfaceFilter {
            include_loopback: true,
            ..InterfaceFilter::default()
        };
        let v4_only = InterfaceFilter {
            ipv6: false,
            ..InterfaceFilter::default()
        };
        let cases: &[(&InterfaceFilter, LocalInterface, Result<(), Skip>)] = &[
            (&product, iface("eth0", "192.0.2.10", false, true), Ok(())),
            (
                &product,
                iface("eth0", "172.20.1.1", false, true),
                Err(Skip::Excluded("172".into())),
            ),
            (
                &product,
                iface("wlan0", "192.168.178.20", false, true),
                Err(Skip::Excluded("192.168".into())),
            ),
            // Plain text prefixes: "10.10" also takes 10.100/16 (module docs).
            (
                &product,
                iface("tun0", "10.100.0.1", false, true),
                Err(Skip::Excluded("10.10".into())),
            ),
            (&product, iface("eth1", "10.1.0.1", false, true), Ok(())),
            (
                &product,
                iface("eth0", "fd00::1", false, true),
                Err(Skip::Excluded("fd00:".into())),
            ),
            (&product, iface("eth0", "2001:db8::1", false, true), Ok(())),
            (
                &product,
                iface("lo", "127.0.0.1", false, true),
                Err(Skip::Loopback),
            ),
            (
                &product,
                iface("lo", "::1", false, true),
                Err(Skip::Loopback),
            ),
            (&tests, iface("lo", "127.0.0.1", false, true), Ok(())),
            (&tests, iface("lo", "::1", false, true), Ok(())),
            (
                &tests,
                iface("eth0", "fe80::1", false, true),
                Err(Skip::LinkLocal),
            ),
            (
                &tests,
                iface("eth0", "169.254.3.4", false, true),
                Err(Skip::LinkLocal),
            ),
            (
                &tests,
                iface("eth0", "0.0.0.0", false, true),
                Err(Skip::NotUnicast),
            ),
            (
                &tests,
                iface("eth0", "192.0.2.1", false, false),
                Err(Skip::Down),
            ),
            // VPN only matters with the setting on.
            (&product, iface("ppp0", "198.51.100.7", true, true), Ok(())),
            (
                &no_vpn,
                iface("ppp0", "198.51.100.7", true, true),
                Err(Skip::Vpn),
            ),
            (&no_vpn, iface("eth0", "198.51.100.8", false, true), Ok(())),
            (
                &v4_only,
                iface("eth0", "2001:db8::1", false, true),
                Err(Skip::Ipv6Off),
            ),
            (&v4_only, iface("eth0", "192.0.2.1", false, true), Ok(())),
        ];
        for (filter, i, want) in cases {
            assert_eq!(&filter.check(i), want, "{} {}", i.name, i.addr);
        }
    }

    #[test]
    fn apply_keeps_order_and_drops_duplicates() {
        let list = [
            iface("eth0", "192.0.2.1", false, true),
            iface("lo", "127.0.0.1", false, true),
            iface("eth1", "2001:db8::2", false, true),
            iface("eth0:1", "192.0.2.1", false, true),
            iface("tun0", "10.8.0.2", true, true),
        ];
        let f = InterfaceFilter {
            exclude_vpn: true,
            ..InterfaceFilter::default()
        };
        let got: Vec<String> = f.apply(&list).iter().map(|i| i.addr.to_string()).collect();
        assert_eq!(got, ["192.0.2.1", "2001:db8::2"]);
    }

    /// The OS enumeration finds loopback, and the filter lets it through only when asked.
    #[test]
    fn enumerate_finds_loopback() {
        let all = enumerate().unwrap();
        assert!(
            all.iter().any(|i| i.addr.is_loopback()),
            "no loopback address in {all:?}"
        );
        let with_lo = InterfaceFilter {
            include_loopback: true,
            ..InterfaceFilter::default()
        };
        assert!(
            usable(&with_lo)
                .unwrap()
                .iter()
                .any(|i| i.addr == IpAddr::from([127, 0, 0, 1]))
        );
        assert!(
            usable(&InterfaceFilter::default())
                .unwrap()
                .iter()
                .all(|i| !i.addr.is_loopback())
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_sysfs_vpn_detection() {
        let root = std::env::temp_dir().join(format!("myapps-sysfs-{}", std::process::id()));
        let dev = |name: &str, typ: &str, tun: bool| {
            let d = root.join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("type"), format!("{typ}\n")).unwrap();
            if tun {
                std::fs::write(d.join("tun_flags"), "0x1002\n").unwrap();
            }
        };
        dev("eth0", "1", false);
        dev("wlan0", "1", false);
        dev("ppp0", "512", false);
        dev("tun0", "65534", true);
        dev("wg0", "65534", false);
        dev("tap0", "1", true);
        dev("gre1", "778", false);
        dev("lo", "772", false);
        for (name, want) in [
            ("eth0", false),
            ("wlan0", false),
            ("lo", false),
            ("ppp0", true),
            ("tun0", true),
            ("wg0", true),
            ("tap0", true),
            ("gre1", true),
            ("missing0", false),
            ("..", false),
            ("a/b", false),
        ] {
            assert_eq!(os::sysfs_vpn(&root, name), want, "{name}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
