//! `ansible.builtin.package_facts`: the installed packages as the fact `packages` (name →
//! the list of its installed versions, each `{name, version, arch, category, origin,
//! source}`), as the module's `apt` manager reports them.
//!
//! Why this module exists: roles decide on what is installed (`'containerd' in
//! ansible_facts.packages`, a kubelet version) without running a command per package.
//! Ansible reads python-apt's cache; windlass needs no Python on the host, so one probe
//! asks dpkg for every installed package (NUL-terminated records in a framed section) and
//! `apt-cache policy` for where each installed version comes from (the `Origin` of the
//! first package file that holds it, empty for dpkg's status alone — python-apt's
//! `origins[0].origin`). Only the `apt` manager exists on the hosts windlass supports;
//! asking for another one is an error that says so.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::{choice, string_list};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::sysprobe::{Sections, framed, header};
use crate::command::RemoteCommand;
use crate::transport::ExecOutput;

/// `package_facts`.
pub struct PackageFacts;

/// Parameters of `package_facts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFactsParams {
    /// The package managers to ask: `auto` (default) or `apt` (the only one windlass
    /// reads; others are refused).
    #[serde(default, deserialize_with = "string_list")]
    pub manager: Vec<String>,
    /// `first` (default) or `all` managers that answer.
    #[allow(
        dead_code,
        reason = "checked when read; with apt the only manager, first and all list the same"
    )]
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

choice! {
    /// `package_facts`'s `strategy`.
    pub enum Strategy {
        /// The first manager that lists packages. The default.
        First = "first",
        /// Every manager that lists packages.
        All = "all",
    }
    else "value of strategy must be one of: first, all, got: {got}"
}

/// The managers Ansible knows (`get_all_pkg_managers` and the aliases).
const KNOWN: &[&str] = &[
    "apk",
    "apt",
    "pacman",
    "pkg",
    "pkg_info",
    "portage",
    "rpm",
    "dnf",
    "dnf5",
    "yum",
    "zypper",
    "pkg5",
    "pkgng",
    "openbsd_pkg",
];

/// One installed package as dpkg and apt report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// The cache's name: the package, `name:arch` for a foreign architecture.
    pub name: String,
    /// The version.
    pub version: String,
    /// The architecture.
    pub arch: String,
    /// The section (`category`).
    pub section: String,
    /// The origin of the first package file holding this version (empty: none).
    pub origin: String,
}

/// The installed packages, in dpkg's order: the module's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packages(pub Vec<Installed>);

/// The dpkg-query format: status, package, architecture, version, section, each ended by
/// `@<nonce>@` (dpkg-query prints no NUL; the reply's nonce is a separator no value can
/// hold: it was drawn after the database was written).
const FORMAT: &str = "\\${db:Status-Abbrev}@$wl_n@\\${Package}@$wl_n@\\${Architecture}@$wl_n@\\${Version}@$wl_n@\\${Section}@$wl_n@";

impl Fact for Packages {
    type Query = ();

    /// A framed reply ([`super::sysprobe`]): `sep` (the nonce), `arch` (dpkg's native
    /// architecture), `dpkg` (five fields per package, each ended by `@<nonce>@`), `files` (`apt-cache policy`: the package
    /// files and their release lines) and `policy` (`apt-cache policy` of each installed
    /// package: its version table).
    fn command(_: &()) -> RemoteCommand {
        RemoteCommand::shell(framed(&format!(
            "export LC_ALL=C; {}printf '%s' \"$wl_n\"; {}dpkg --print-architecture; \
             {}dpkg-query -W -f \"{FORMAT}\"; \
             {}apt-cache policy 2>/dev/null; {}dpkg-query -W -f '${{db:Status-Abbrev}} ${{binary:Package}}\\n' \
             | awk '$1 !~ /^.[nc]/ {{print $2}}' | xargs -r apt-cache policy 2>/dev/null; ",
            header("sep"),
            header("arch"),
            header("dpkg"),
            header("files"),
            header("policy"),
        )))
    }

    fn parse(_: &(), out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let native = s.text("arch").unwrap_or_default().to_string();
        let dpkg = s
            .get("dpkg")
            .ok_or_else(|| format!("dpkg-query did not answer: {}", out.stderr_str()))?;
        let origins = file_origins(s.get("files").unwrap_or_default());
        let sources = installed_sources(s.get("policy").unwrap_or_default());
        let sep = format!("@{}@", s.get("sep").unwrap_or_default());
        if sep.len() < 34 {
            return Err("dpkg-query: the reply has no separator".into());
        }
        let fields: Vec<&str> = dpkg.split(sep.as_str()).collect();
        let (last, fields) = fields.split_last().unwrap_or((&"", &[]));
        if !last.is_empty() || fields.len() % 5 != 0 {
            return Err("dpkg-query: unexpected output".into());
        }
        let mut v = Vec::new();
        for r in fields.chunks(5) {
            let status = r[0].as_bytes();
            if status.len() < 2 || matches!(status[1], b'n' | b'c') {
                continue;
            }
            let name = match r[2] {
                a if a == native || a == "all" => r[1].to_string(),
                a => format!("{}:{a}", r[1]),
            };
            let origin = sources
                .get(&name)
                .and_then(|f| origins.get(f.as_str()))
                .cloned()
                .unwrap_or_default();
            v.push(Installed {
                name,
                version: r[3].to_string(),
                arch: r[2].to_string(),
                section: r[4].to_string(),
                origin,
            });
        }
        Ok(Packages(v))
    }
}

/// `apt-cache policy`'s "Package files": each file (` 500 http://… Packages`) → the `o=`
/// of its `release` line.
fn file_origins(text: &str) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    let mut file: Option<String> = None;
    for line in text.lines() {
        if let Some(rel) = line.trim_start().strip_prefix("release ") {
            if let Some(f) = file.take() {
                let o = rel
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("o="))
                    .unwrap_or("");
                m.insert(f, o.to_string());
            }
        } else if line.starts_with(' ') && !line.starts_with("  ") {
            file = line
                .trim_start()
                .split_once(' ')
                .map(|(_, f)| f.to_string());
        }
    }
    m
}

/// `apt-cache policy <packages>`: each package → the first file listed under its
/// installed (`***`) version.
fn installed_sources(text: &str) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    let mut pkg: Option<String> = None;
    let mut in_installed = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            pkg = line.strip_suffix(':').map(str::to_string);
            in_installed = false;
        } else if line.starts_with(" *** ") {
            in_installed = true;
        } else if line.starts_with("        ") && in_installed {
            if let (Some(p), Some((_, f))) = (&pkg, line.trim_start().split_once(' ')) {
                m.entry(p.clone()).or_insert_with(|| f.to_string());
            }
        } else {
            in_installed = false;
        }
    }
    m
}

impl Planned for PackageFacts {
    type Params = PackageFactsParams;
    type Facts = Packages;

    fn name(&self) -> &'static str {
        "ansible.builtin.package_facts"
    }

    fn probe(&self, p: &PackageFactsParams, _ctx: PlanCtx) -> Result<Probe<Packages>, String> {
        let managers: Vec<String> = p.manager.iter().map(|m| m.to_lowercase()).collect();
        let unknown: Vec<&str> = managers
            .iter()
            .map(String::as_str)
            .filter(|m| *m != "auto" && !KNOWN.contains(m))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "Unsupported package managers requested: {}",
                unknown.join(", ")
            ));
        }
        let other: Vec<&str> = managers
            .iter()
            .map(String::as_str)
            .filter(|m| !matches!(*m, "auto" | "apt"))
            .collect();
        if !other.is_empty() {
            return Err(format!(
                "package_facts: windlass reads only the apt package manager; requested: {}",
                other.join(", ")
            ));
        }
        Ok(Probe::fact(()))
    }

    fn plan(
        &self,
        _p: &PackageFactsParams,
        facts: &Packages,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        if facts.0.is_empty() {
            return Err(format!(
                "Could not detect a supported package manager from the following list: {:?}, \
                 or the required Python library is not installed. Check warnings for details.",
                ["apt"]
            ));
        }
        let mut packages = Map::new();
        for i in &facts.0 {
            let mut d = Map::new();
            d.insert("name".into(), Value::String(i.name.clone()));
            d.insert("version".into(), Value::String(i.version.clone()));
            d.insert("arch".into(), Value::String(i.arch.clone()));
            d.insert("category".into(), Value::String(i.section.clone()));
            d.insert("origin".into(), Value::String(i.origin.clone()));
            d.insert("source".into(), Value::String("apt".into()));
            match packages.get_mut(&i.name) {
                Some(Value::Array(list)) => list.push(Value::Object(d)),
                _ => {
                    packages.insert(i.name.clone(), Value::Array(vec![Value::Object(d)]));
                }
            }
        }
        let mut f = Map::new();
        f.insert("packages".into(), Value::Object(packages));
        let mut plan = Plan::default();
        plan.result.insert("ansible_facts".into(), Value::Object(f));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{
        NONCE, params, plan_of, plan_with, reply, with_stand_in,
    };
    use serde_json::json;

    const FILES: &str = "Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n \
        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n     \
        release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64\n     \
        origin deb.debian.org\n 500 file:/srv/localrepo ./ Packages\n     release c=\nPinned packages:\n";

    const POLICY: &str = "bash:\n  Installed: 5.2\n  Candidate: 5.2\n  Version table:\n \
        *** 5.2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n        \
        100 /var/lib/dpkg/status\nlibc6:i386:\n  Installed: 2.36\n  Version table:\n     2.37 500\n        \
        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n *** 2.36 100\n        \
        100 /var/lib/dpkg/status\n";

    /// The `dpkg` section's body for records of five fields.
    fn dpkg(records: &[[&str; 5]]) -> String {
        let sep = format!("@{NONCE}@");
        records
            .iter()
            .flatten()
            .map(|f| format!("{f}{sep}"))
            .collect()
    }

    #[test]
    fn packages_with_origins() {
        let dpkg = dpkg(&[
            ["ii ", "bash", "amd64", "5.2", "shells"],
            ["rc ", "gone", "amd64", "1.0", "misc"],
            ["ii ", "libc6", "i386", "2.36", "libs"],
            ["ii ", "libc6", "amd64", "2.36", "libs"],
            ["ii ", "tzdata", "all", "2024a", "localization"],
        ]);
        let p: PackageFactsParams = params(json!({}));
        let out = reply(&[
            ("sep", NONCE),
            ("arch", "amd64\n"),
            ("dpkg", &dpkg),
            ("files", FILES),
            ("policy", POLICY),
        ]);
        let plan = plan_of(&PackageFacts, &p, &out);
        insta::assert_yaml_snapshot!(plan.result);
        assert!(!plan.is_change());
        let bad = reply(&[("sep", NONCE), ("arch", "amd64\n"), ("dpkg", "ii @x@")]);
        assert!(plan_with(&PackageFacts, &p, &bad, PlanCtx::default()).is_err());
    }

    #[test]
    fn other_managers_are_refused() {
        let p: PackageFactsParams = params(json!({"manager": ["rpm"]}));
        let out = reply(&[]);
        let e = plan_with(&PackageFacts, &p, &out, PlanCtx::default()).unwrap_err();
        assert!(e.contains("only the apt package manager"), "{e}");
        let p: PackageFactsParams = params(json!({"manager": "nosuch"}));
        let e = plan_with(&PackageFacts, &p, &out, PlanCtx::default()).unwrap_err();
        assert_eq!(e, "Unsupported package managers requested: nosuch");
    }

    /// The probe against a `dpkg-query` stand-in printing what a hostile status database
    /// could (a header-like line with a guessed nonce inside a version): it stays a version.
    #[test]
    fn a_hostile_version_cannot_forge_a_section() {
        let cmd = Packages::command(&());
        let hostile = "printf '%s' \"$3\" | sed -e 's/${db:Status-Abbrev}/ii /' \
            -e 's/${Package}/evil/' -e 's/${Architecture}/all/' -e 's/${Section}/x/' \
            -e 's/${Version}/1\\n@0123456789abcdef0123456789abcdef@ii @/'";
        let got = Packages::parse(&(), &with_stand_in("dpkg-query", hostile, &cmd)).unwrap();
        assert_eq!(got.0.len(), 1);
        assert_eq!(got.0[0].name, "evil");
        assert_eq!(
            got.0[0].version,
            "1\n@0123456789abcdef0123456789abcdef@ii @"
        );
        assert_eq!(got.0[0].section, "x");
    }
}
