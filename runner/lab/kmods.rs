//! `modprobe` of modules the kernel has built in, inside the hosts.
//!
//! Why this file exists: roles `modprobe br_netfilter`, `overlay`, `ip_vs`…; a kernel with
//! those compiled in has no module files, and the hosts share the kernel. A
//! `modules.builtin` listing them makes `modprobe` a successful no-op, as on a real host
//! with that kernel. Left alone when the kernel has real modules.

use std::path::Path;

use super::base::{mkdir, write};
use super::error::Result;
use super::exec;

/// Kernel options and the module each builds in.
const FEATURES: &[(&str, &str)] = &[
    ("CONFIG_BRIDGE_NETFILTER", "br_netfilter"),
    ("CONFIG_OVERLAY_FS", "overlay"),
    ("CONFIG_BRIDGE", "bridge"),
    ("CONFIG_VETH", "veth"),
    ("CONFIG_VXLAN", "vxlan"),
    ("CONFIG_IP_VS", "ip_vs"),
    ("CONFIG_IP_VS_RR", "ip_vs_rr"),
    ("CONFIG_IP_VS_WRR", "ip_vs_wrr"),
    ("CONFIG_IP_VS_SH", "ip_vs_sh"),
    ("CONFIG_NF_CONNTRACK", "nf_conntrack"),
    ("CONFIG_NF_NAT", "nf_nat"),
    ("CONFIG_NF_TABLES", "nf_tables"),
    ("CONFIG_IP_NF_IPTABLES", "ip_tables"),
    ("CONFIG_IP_NF_FILTER", "iptable_filter"),
    ("CONFIG_IP_NF_NAT", "iptable_nat"),
    ("CONFIG_NETFILTER_XT_MATCH_CONNTRACK", "xt_conntrack"),
    ("CONFIG_VLAN_8021Q", "8021q"),
    ("CONFIG_TUN", "tun"),
    ("CONFIG_DUMMY", "dummy"),
    ("CONFIG_WIREGUARD", "wireguard"),
    ("CONFIG_IPVLAN", "ipvlan"),
    ("CONFIG_MACVLAN", "macvlan"),
    ("CONFIG_BTRFS_FS", "btrfs"),
    ("CONFIG_XFS_FS", "xfs"),
    ("CONFIG_EXT4_FS", "ext4"),
    ("CONFIG_FUSE_FS", "fuse"),
];

/// The `modules.builtin` lines for `sys_modules` (names in /sys/module) and the kernel
/// `config` text (`CONFIG_X=y` lines), sorted, without duplicates.
pub fn builtin_list(sys_modules: &[String], config: &str) -> String {
    let built_in: Vec<&str> = config
        .lines()
        .filter_map(|l| l.strip_suffix("=y"))
        .collect();
    let mut names: Vec<&str> = sys_modules.iter().map(String::as_str).collect();
    names.extend(
        FEATURES
            .iter()
            .filter(|(c, _)| built_in.contains(c))
            .map(|(_, m)| *m),
    );
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .map(|n| format!("kernel/builtin/{n}.ko\n"))
        .collect()
}

/// Write `modules.builtin` for the running kernel into the rootfs `r`.
pub fn install(r: &Path) -> Result<()> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    if release.is_empty()
        || Path::new("/lib/modules")
            .join(&release)
            .join("modules.dep")
            .exists()
    {
        return Ok(());
    }
    let d = r.join("lib/modules").join(&release);
    mkdir(&d)?;
    let sys: Vec<String> = std::fs::read_dir("/sys/module")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let (_, config) = exec::output(&super::plan::kernel_config())?;
    write(&d.join("modules.builtin"), &builtin_list(&sys, &config))?;
    write(&d.join("modules.order"), "")?;
    // depmod failing only means modprobe will not find them: not worth failing `up`
    exec::best_effort(&super::plan::depmod(r, &release));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_modules_listed_once() {
        let list = super::builtin_list(
            &["overlay".into(), "kernel".into()],
            "CONFIG_OVERLAY_FS=y\nCONFIG_IP_VS=m\nCONFIG_BRIDGE=y\n",
        );
        assert_eq!(
            list,
            "kernel/builtin/bridge.ko\nkernel/builtin/kernel.ko\nkernel/builtin/overlay.ko\n"
        );
    }
}
