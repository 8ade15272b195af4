//! `ansible.builtin.apt`: install, upgrade and remove Debian packages.
//!
//! Why this module exists: every node needs packages (containerd, haproxy, conntrack, …).
//! One probe asks dpkg for all named packages at once (`dpkg-query -W`), plus `apt-cache
//! policy` when versions matter (`latest`, `pkg=1.2.*`) and the age of the package lists
//! for `cache_valid_time`. The plan is at most one `apt-get update` and one `apt-get
//! install`/`remove` for all packages together, with `DEBIAN_FRONTEND=noninteractive`.

use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::params::{ansible_bool, choice, opt_ansible_bool, string_list};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{PRELUDE, Sections, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `apt`.
pub struct Apt;

pub(crate) fn default_dpkg_options() -> String {
    "force-confdef,force-confold".into()
}

/// Parameters of `apt`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptParams {
    /// Package names, as a list or a comma-separated string; `pkg=1.2.3-1` pins a version,
    /// `pkg=1.2.*` a version pattern. Aliases `package`, `pkg`.
    #[serde(
        default,
        alias = "package",
        alias = "pkg",
        deserialize_with = "string_list"
    )]
    pub name: Vec<String>,
    /// `present` (default), `absent`, `latest` or `fixed` (also repair broken dependencies);
    /// `installed` and `removed` are read as `present` and `absent`.
    #[serde(default)]
    pub state: Option<AptState>,
    /// Run `apt-get update` first. Alone (no `name`, `deb` or `autoremove`) the task
    /// reports changed when the update moved the cache's time (in check mode: when an
    /// update is due), as Ansible's; `cache_updated` says the same in every case. Alias
    /// `update-cache`. Default `false`.
    #[serde(default, alias = "update-cache", deserialize_with = "opt_ansible_bool")]
    pub update_cache: Option<bool>,
    /// Skip the update when the lists are younger than this many seconds (setting it turns
    /// `update_cache` on). Default `0`.
    #[serde(default)]
    pub cache_valid_time: Option<u64>,
    /// Path of a `.deb` file on the host to install (with its dependencies).
    #[serde(default)]
    pub deb: Option<String>,
    /// Allow installing a lower version than the installed one. Aliases `allow-downgrade`,
    /// `allow_downgrades`, `allow-downgrades`. Default `false`.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "ansible_bool"
    )]
    pub allow_downgrade: bool,
    /// Install recommended packages (`true`/`false`); unset follows the host's apt config.
    /// Alias `install-recommends`.
    #[serde(
        default,
        alias = "install-recommends",
        deserialize_with = "opt_ansible_bool"
    )]
    pub install_recommends: Option<bool>,
    /// With `state: absent`, also remove configuration files. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub purge: bool,
    /// Remove packages nobody depends on any more. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub autoremove: bool,
    /// Install without authentication and allow downgrades and held-package changes (what
    /// `--force-yes` meant). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Install packages from unauthenticated sources. Alias `allow-unauthenticated`.
    #[serde(
        default,
        alias = "allow-unauthenticated",
        deserialize_with = "ansible_bool"
    )]
    pub allow_unauthenticated: bool,
    /// Allow changing held packages. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub allow_change_held_packages: bool,
    /// Only upgrade packages that are already installed. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub only_upgrade: bool,
    /// The release to install from (`-t`). Alias `default-release`.
    #[serde(default, alias = "default-release")]
    pub default_release: Option<String>,
    /// Options for dpkg, comma-separated. Default `force-confdef,force-confold`.
    #[serde(default = "default_dpkg_options")]
    pub dpkg_options: String,
    /// Seconds to wait for the dpkg lock. Default: apt's own.
    #[serde(default)]
    pub lock_timeout: Option<u64>,
}

choice! {
    /// apt's `state` (choices in lib/ansible/modules/apt.py; `build-dep` is not supported).
    pub enum AptState {
        /// The packages are installed (any version, or the pinned one). windlass also reads
        /// `installed` so, as the older package modules did; ansible-core's apt refuses it.
        Present = "present" | "installed",
        /// The packages are not installed. windlass also reads `removed` so.
        Absent = "absent" | "removed",
        /// The packages are at the newest version the host's sources offer.
        Latest = "latest",
        /// As `present`, and broken dependencies are repaired (`apt-get --fix-broken`).
        Fixed = "fixed",
    }
    else "state must be one of present, absent, latest, fixed; got {got}"
}

/// One requested package: name and an optional version (exact or a `*` pattern).
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    /// Package name (may carry `:arch`).
    pub name: String,
    /// Version or version pattern after `=`.
    pub version: Option<String>,
}

/// What dpkg knows of one package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Installed {
    /// The third word of dpkg's status (`installed`, `config-files`, `not-installed`).
    pub status: String,
    /// Installed version.
    pub version: String,
}

/// `apt-cache policy` for one package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    /// The candidate version (`None` when apt has none).
    pub candidate: Option<String>,
    /// Every version apt knows, in the policy table's order.
    pub versions: Vec<String>,
}

fn split_name(spec: &str) -> Wanted {
    match spec.split_once('=') {
        Some((n, v)) => Wanted {
            name: n.trim().to_string(),
            version: Some(v.trim().to_string()),
        },
        None => Wanted {
            name: spec.trim().to_string(),
            version: None,
        },
    }
}

fn base_name(n: &str) -> &str {
    n.split(':').next().unwrap_or(n)
}

/// Shell-style `*`/`?` match, as Ansible's fnmatch on versions.
pub fn glob_match(pat: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| rec(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && rec(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && rec(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

/// Parse `dpkg-query -W -f='${Package}\t${Status}\t${Version}\n'` output.
pub fn parse_dpkg(text: &str) -> std::collections::HashMap<String, Installed> {
    let mut m = std::collections::HashMap::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(status), version) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let st = status.split_whitespace().nth(2).unwrap_or("").to_string();
        let e = Installed {
            status: st,
            version: version.unwrap_or("").trim().to_string(),
        };
        // Several architectures: prefer the installed one.
        let keep = m
            .get(name)
            .is_none_or(|old: &Installed| old.status != "installed");
        if keep {
            m.insert(name.to_string(), e);
        }
    }
    m
}

/// Parse `apt-cache policy` output for several packages.
pub fn parse_policy(text: &str) -> std::collections::HashMap<String, Policy> {
    let mut m: std::collections::HashMap<String, Policy> = std::collections::HashMap::new();
    let mut cur: Option<String> = None;
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let n = line.trim_end_matches(':').to_string();
            m.entry(n.clone()).or_default();
            cur = Some(n);
            in_table = false;
            continue;
        }
        let Some(n) = &cur else { continue };
        let t = line.trim();
        let e = m.entry(n.clone()).or_default();
        if let Some(c) = t.strip_prefix("Candidate:") {
            let c = c.trim();
            e.candidate = (c != "(none)" && !c.is_empty()).then(|| c.to_string());
        } else if t.starts_with("Version table:") {
            in_table = true;
        } else if in_table {
            // "*** 1.2-3 500" or "     1.2-3 500"; source lines are "500 http://…".
            let words: Vec<&str> = t.trim_start_matches("***").split_whitespace().collect();
            if words.len() == 2 && words[1].parse::<i64>().is_ok() {
                e.versions.push(words[0].to_string());
            }
        }
    }
    m
}

fn apt_env() -> Vec<(String, String)> {
    vec![
        ("DEBIAN_FRONTEND".into(), "noninteractive".into()),
        ("DEBIAN_PRIORITY".into(), "critical".into()),
        ("LC_ALL".into(), "C".into()),
    ]
}

impl AptParams {
    fn state(&self) -> AptState {
        self.state.unwrap_or(AptState::Present)
    }

    /// Nothing to do but update the cache: `modules/apt.py` exits after the update, with
    /// `changed` saying whether the cache was updated.
    pub(crate) fn cache_only(&self) -> bool {
        self.name.is_empty() && self.deb.is_none() && !self.autoremove && self.wants_update()
    }

    fn wants_update(&self) -> bool {
        self.update_cache == Some(true)
            || (self.update_cache.is_none() && self.cache_valid_time.is_some())
    }

    fn common_opts(&self) -> Vec<String> {
        let mut v = vec!["-y".to_string(), "-q".to_string()];
        for o in self.dpkg_options.split(',').map(str::trim) {
            if !o.is_empty() {
                v.push("-o".into());
                v.push(format!("Dpkg::Options::=--{o}"));
            }
        }
        if let Some(t) = self.lock_timeout {
            v.push("-o".into());
            v.push(format!("DPkg::Lock::Timeout={t}"));
        }
        v
    }
}

/// The apt cache's time as `modules/apt.py` reads it (`get_cache_mtime`): the mtime of
/// the update-success stamp, else of the lists folder, else 0.
const CACHE_TIME: &str = "if [ -e /var/lib/apt/periodic/update-success-stamp ]; then \
     stat -c %Y /var/lib/apt/periodic/update-success-stamp; \
     elif [ -e /var/lib/apt/lists ]; then stat -c %Y /var/lib/apt/lists; else echo 0; fi";

/// The probe script for `names` (+ a `.deb` path).
pub fn probe_script(names: &[String], need_policy: bool, deb: Option<&str>) -> String {
    let mut script = format!(
        "{PRELUDE}{}command -v apt-get; {}date +%s; {}\
         {CACHE_TIME}; ",
        header("aptget"),
        header("now"),
        header("stamp"),
    );
    let bases: Vec<String> = names
        .iter()
        .map(|n| quote(base_name(&split_name(n).name)).into_owned())
        .collect();
    if !bases.is_empty() {
        script.push_str(&format!(
            "{}dpkg-query -W -f='${{Package}}\\t${{Status}}\\t${{Version}}\\n' -- {} 2>/dev/null; ",
            header("dpkg"),
            bases.join(" ")
        ));
        if need_policy {
            script.push_str(&format!(
                "{}LC_ALL=C apt-cache policy -- {} 2>/dev/null; ",
                header("policy"),
                bases.join(" ")
            ));
        }
    }
    if let Some(d) = deb {
        let q = quote(d);
        script.push_str(&format!(
            "{}dpkg-deb -W --showformat='${{Package}}\\t${{Version}}\\n' -- {q} 2>&1; rc=$?; {}echo \"$rc\"; ",
            header("deb"),
            header("debrc"),
        ));
    }
    script.push_str(&header("end"));
    script
}

/// What `apt` and `package` ask the host: the packages' dpkg status (and apt's policy for
/// them when a version matters), a `.deb`'s name and version, the apt cache's time.
pub struct AptQuery {
    /// The package specs as given (`name`, `name=version`).
    pub names: Vec<String>,
    /// Ask `apt-cache policy` too (`latest`, or a version asked for).
    pub need_policy: bool,
    /// A `.deb` file to read the name and version of.
    pub deb: Option<String>,
}

/// The answer to an [`AptQuery`]: the `apt` and `package` modules' fact.
#[derive(Clone, Debug, PartialEq)]
pub struct AptFacts {
    /// `apt-get` is on the host.
    pub apt_get: bool,
    /// The host's clock, seconds since the epoch (0 when unreadable).
    pub now: i64,
    /// The apt cache's time as `modules/apt.py`'s `get_cache_mtime` reads it (0: none).
    pub stamp: i64,
    /// dpkg's status of the packages, by name.
    pub installed: std::collections::HashMap<String, Installed>,
    /// apt's policy for them, by name (empty unless asked).
    pub policy: std::collections::HashMap<String, Policy>,
    /// The `.deb`'s `(name, version)`, or dpkg-deb's error text when it could not read it.
    pub deb: Result<(String, String), String>,
}

impl Fact for AptFacts {
    type Query = AptQuery;

    fn command(q: &AptQuery) -> RemoteCommand {
        RemoteCommand::shell(probe_script(&q.names, q.need_policy, q.deb.as_deref()))
    }

    fn parse(_q: &AptQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let body = s.get("deb").unwrap_or("");
        // The exit code has its own section: dpkg-deb's error text repeats the path, which
        // may hold anything.
        let deb = if s.text("debrc") == Some("0") {
            let mut f = body.lines().next().unwrap_or("").split('\t');
            let (name, ver) = (f.next().unwrap_or(""), f.next().unwrap_or("").trim());
            Ok((name.to_string(), ver.to_string()))
        } else {
            Err(body.trim().to_string())
        };
        Ok(AptFacts {
            apt_get: !s.text("aptget").unwrap_or("").is_empty(),
            now: s.text("now").and_then(|t| t.parse().ok()).unwrap_or(0),
            stamp: s.text("stamp").and_then(|t| t.parse().ok()).unwrap_or(0),
            installed: parse_dpkg(s.get("dpkg").unwrap_or("")),
            policy: parse_policy(s.get("policy").unwrap_or("")),
            deb,
        })
    }
}

impl Planned for Apt {
    type Params = AptParams;
    type Facts = AptFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.apt"
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[&["deb", "name"], &["deb", "package"], &["deb", "pkg"]]
    }

    fn probe(&self, p: &AptParams, _ctx: PlanCtx) -> Result<Probe<AptFacts>, String> {
        let state = p.state();
        let need_policy =
            state == AptState::Latest || p.name.iter().any(|n| split_name(n).version.is_some());
        Ok(Probe::fact(AptQuery {
            names: p.name.clone(),
            need_policy,
            deb: p.deb.clone(),
        }))
    }

    fn plan(&self, p: &AptParams, facts: &AptFacts, ctx: PlanCtx) -> Result<Plan, String> {
        plan_apt(p, facts, ctx)
    }

    fn finish(&self, p: &AptParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        finish_apt(result, outputs, p.cache_only());
    }
}

/// The plan of `apt` (shared with `package`).
pub fn plan_apt(p: &AptParams, facts: &AptFacts, ctx: PlanCtx) -> Result<Plan, String> {
    let state = p.state();
    if p.name.is_empty() && p.deb.is_none() && !p.wants_update() && !p.autoremove {
        return Err("one of the following is required: name, deb, update_cache, autoremove".into());
    }
    if !facts.apt_get {
        return Err("apt-get was not found on the host (apt needs a Debian-family system)".into());
    }
    let (now, stamp) = (facts.now, facts.stamp);
    let (installed, policy) = (&facts.installed, &facts.policy);
    let mut plan = Plan::default();
    let mut changed = false;

    // The cache.
    let update = p.wants_update()
        && match p.cache_valid_time {
            Some(valid) if valid > 0 => now - stamp > valid as i64,
            _ => true,
        };
    if update {
        plan.steps.push(Step::Run {
            cmd: RemoteCommand {
                env: apt_env(),
                ..RemoteCommand::shell(format!(
                    "apt-get update -q && printf '@@cache_update_time\\n' && {CACHE_TIME}"
                ))
            },
        });
    }
    // modules/apt.py: in check mode a due update counts as done; otherwise it counts when
    // the cache time moved (settled in `finish_apt`).
    plan.result
        .insert("cache_updated".into(), Value::Bool(update && ctx.check));
    plan.result
        .insert("cache_update_time".into(), Value::from(stamp));

    let wanted: Vec<Wanted> = p.name.iter().map(|n| split_name(n)).collect();
    let mut args: Vec<String> = Vec::new();
    match state {
        AptState::Present | AptState::Latest | AptState::Fixed => {
            for w in &wanted {
                let base = base_name(&w.name);
                let cur = installed.get(base);
                let is_installed = cur.is_some_and(|c| c.status == "installed");
                let pol = policy.get(base);
                let need = match &w.version {
                    Some(v) if v.contains(['*', '?']) => {
                        !(is_installed && cur.is_some_and(|c| glob_match(v, &c.version)))
                    }
                    Some(v) => !(is_installed && cur.is_some_and(|c| &c.version == v)),
                    None if state == AptState::Latest => {
                        !is_installed
                            || update
                            || pol
                                .and_then(|pl| pl.candidate.as_ref())
                                .is_some_and(|cand| cur.is_some_and(|c| &c.version != cand))
                    }
                    None => !is_installed,
                };
                if !need {
                    continue;
                }
                if p.only_upgrade && !is_installed {
                    continue;
                }
                let spec = match &w.version {
                    Some(v) if v.contains(['*', '?']) => {
                        // Resolve the pattern to a concrete version apt knows, like Ansible.
                        match pol.and_then(|pl| pl.versions.iter().find(|x| glob_match(v, x))) {
                            Some(concrete) => format!("{}={concrete}", w.name),
                            None => format!("{}={v}", w.name),
                        }
                    }
                    Some(v) => format!("{}={v}", w.name),
                    None => w.name.clone(),
                };
                args.push(spec);
                // With `latest` after a cache update, apt decides; the summary line tells.
                let predicted = !(state == AptState::Latest
                    && is_installed
                    && update
                    && pol
                        .and_then(|pl| pl.candidate.as_ref())
                        .is_some_and(|cand| cur.is_some_and(|c| &c.version == cand)));
                changed |= predicted;
            }
            if let Some(deb) = &p.deb {
                let need = match &facts.deb {
                    Ok((name, ver)) => !installed
                        .get(name)
                        .is_some_and(|c| c.status == "installed" && &c.version == ver),
                    Err(_) if ctx.check => true,
                    Err(text) => return Err(format!("unable to read the package {deb}: {text}")),
                };
                if need {
                    args.push(if deb.starts_with('/') {
                        deb.clone()
                    } else {
                        format!("./{deb}")
                    });
                    changed = true;
                }
            }
            if !args.is_empty() {
                let mut argv = vec!["apt-get".to_string()];
                argv.extend(p.common_opts());
                if let Some(r) = &p.default_release {
                    argv.push("-t".into());
                    argv.push(r.clone());
                }
                if state == AptState::Fixed {
                    argv.push("--fix-broken".into());
                }
                if p.only_upgrade {
                    argv.push("--only-upgrade".into());
                }
                match p.install_recommends {
                    Some(true) => argv.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
                    Some(false) => argv.extend(["-o".into(), "APT::Install-Recommends=no".into()]),
                    None => {}
                }
                if p.allow_downgrade || p.force {
                    argv.push("--allow-downgrades".into());
                }
                if p.allow_unauthenticated || p.force {
                    argv.push("--allow-unauthenticated".into());
                }
                if p.allow_change_held_packages || p.force {
                    argv.push("--allow-change-held-packages".into());
                }
                if p.autoremove {
                    argv.push("--auto-remove".into());
                }
                argv.push("install".into());
                argv.extend(args.iter().cloned());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand {
                        env: apt_env(),
                        ..RemoteCommand::argv(argv)
                    },
                });
            }
        }
        AptState::Absent => {
            for w in &wanted {
                let base = base_name(&w.name);
                let Some(cur) = installed.get(base) else {
                    continue;
                };
                let present = if p.purge {
                    cur.status != "not-installed" && !cur.status.is_empty()
                } else {
                    cur.status == "installed" || cur.status == "half-configured"
                };
                let version_ok = match &w.version {
                    Some(v) => glob_match(v, &cur.version),
                    None => true,
                };
                if present && version_ok {
                    args.push(w.name.clone());
                }
            }
            if !args.is_empty() || (p.autoremove && p.name.is_empty()) {
                let mut argv = vec!["apt-get".to_string()];
                argv.extend(p.common_opts());
                if p.purge {
                    argv.push("--purge".into());
                }
                if p.autoremove {
                    argv.push("--auto-remove".into());
                }
                if p.force || p.allow_change_held_packages {
                    argv.push("--allow-change-held-packages".into());
                }
                argv.push(
                    if args.is_empty() {
                        "autoremove"
                    } else {
                        "remove"
                    }
                    .into(),
                );
                argv.extend(args.iter().cloned());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand {
                        env: apt_env(),
                        ..RemoteCommand::argv(argv)
                    },
                });
                changed |= !args.is_empty();
            }
        }
    }
    if p.autoremove && state != AptState::Absent && args.is_empty() {
        let mut argv = vec!["apt-get".to_string()];
        argv.extend(p.common_opts());
        if p.purge {
            argv.push("--purge".into());
        }
        argv.push("autoremove".into());
        plan.steps.push(Step::Run {
            cmd: RemoteCommand {
                env: apt_env(),
                ..RemoteCommand::argv(argv)
            },
        });
    }
    // Only a cache update to do: it is the change (`exit_json(changed=updated_cache)`).
    if p.cache_only() {
        changed = update && ctx.check;
    }
    plan.changed = Some(changed);
    Ok(plan)
}

/// Counts in apt-get's summary line (`1 upgraded, 2 newly installed, 0 to remove …`).
pub fn summary_changes(stdout: &str) -> Option<u64> {
    let line = stdout
        .lines()
        .find(|l| l.contains(" upgraded,") && l.contains("newly installed"))?;
    let mut total = 0;
    // `… 2 to remove and 1 not upgraded.`: the last count shares its clause with another.
    for part in line.split([',', '.']).flat_map(|c| c.split(" and ")) {
        let part = part.trim();
        let mut w = part.splitn(2, ' ');
        let (Some(n), Some(what)) = (w.next(), w.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        if what.starts_with("not upgraded") || what.contains("not upgraded") {
            continue;
        }
        total += n;
    }
    Some(total)
}

/// Add apt's output to the result and settle `changed` from apt's summary line.
/// `cache_only`: the task only updates the cache, so its change is the update's.
pub fn finish_apt(result: &mut TaskResult, outputs: &[ExecOutput], cache_only: bool) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut counted: Option<u64> = None;
    for o in outputs {
        let text = o.stdout_str();
        // The marker before `date`'s output is the last one printed: apt's own output
        // (repository text) comes before it.
        if let Some((before, after)) = text.rsplit_once("@@cache_update_time\n") {
            if let Ok(t) = after.trim().parse::<i64>() {
                let before = result.get("cache_update_time").and_then(Value::as_i64);
                if before != Some(t) {
                    result.insert("cache_updated", Value::Bool(true));
                    if cache_only {
                        result.set_changed(true);
                    }
                }
                result.insert("cache_update_time", Value::from(t));
            }
            stdout.push_str(before);
        } else {
            stdout.push_str(&text);
            if let Some(n) = summary_changes(&text) {
                counted = Some(counted.unwrap_or(0) + n);
            }
        }
        stderr.push_str(&o.stderr_str());
    }
    if let Some(n) = counted {
        result.set_changed(n > 0);
    }
    result.insert("stdout", Value::String(stdout.clone()));
    result.insert(
        "stdout_lines",
        Value::Array(stdout.lines().map(|l| Value::String(l.into())).collect()),
    );
    result.insert("stderr", Value::String(stderr));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of, reply};
    use serde_json::json;

    const POLICY: &str = "haproxy:\n  Installed: 2.6.12-1\n  Candidate: 2.6.12-1+deb12u4\n  Version table:\n     2.6.12-1+deb12u4 500\n        500 file:/srv/localrepo ./ Packages\n *** 2.6.12-1 100\n        100 /var/lib/dpkg/status\n";

    fn probe(dpkg: &str, policy: &str, stamp: i64) -> ExecOutput {
        out(&format!(
            "@@aptget\n/usr/bin/apt-get\n@@now\n100000\n@@stamp\n{stamp}\n@@dpkg\n{dpkg}@@policy\n{policy}@@end\n"
        ))
    }

    #[test]
    fn fresh_host_installs_in_one_command_after_update() {
        let p: AptParams = params(json!({"name": ["haproxy", "keepalived"], "update_cache": true}));
        insta::assert_yaml_snapshot!(plan_of(&Apt, &p, &probe("", "", 0)));
    }

    #[test]
    fn installed_packages_and_a_young_cache_need_nothing() {
        let p: AptParams = params(json!({"name": "haproxy,keepalived", "cache_valid_time": 3600}));
        let plan = plan_of(
            &Apt,
            &p,
            &probe(
                "haproxy\tinstall ok installed\t2.6.12-1\nkeepalived\tinstall ok installed\t1:2.2.7-1\n",
                "",
                99000,
            ),
        );
        assert!(plan.steps.is_empty(), "{plan:?}");
        assert!(!plan.is_change());
        // update_cache with everything installed: a cache update, but no change.
        let p: AptParams = params(json!({"name": ["haproxy"], "update_cache": "yes"}));
        let plan = plan_of(
            &Apt,
            &p,
            &probe("haproxy\tinstall ok installed\t2.6.12-1\n", "", 99000),
        );
        assert_eq!(plan.steps.len(), 1);
        assert!(!plan.is_change());
    }

    #[test]
    fn partial_state_and_version_pins() {
        let p: AptParams = params(json!({
            "name": ["haproxy=2.6.*", "keepalived", "etcd-server=3.4.23-4+b1", "curl"],
            "install_recommends": false, "allow_downgrade": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &Apt,
            &p,
            &probe(
                "haproxy\tinstall ok installed\t2.6.12-1\nkeepalived\tdeinstall ok config-files\t1:2.2.7-1\netcd-server\tinstall ok installed\t3.4.20-1\ncurl\tinstall ok installed\t7.88\n",
                POLICY,
                0
            )
        ));
    }

    #[test]
    fn latest_upgrades_when_candidate_differs() {
        let p: AptParams = params(json!({"name": "haproxy", "state": "latest"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Apt,
            &p,
            &probe("haproxy\tinstall ok installed\t2.6.12-1\n", POLICY, 0)
        ));
    }

    #[test]
    fn absent_with_purge_removes_config_files_too() {
        let p: AptParams = params(json!({"name": ["haproxy", "keepalived", "nothere"],
            "state": "absent", "purge": true, "autoremove": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &Apt,
            &p,
            &probe(
                "haproxy\tinstall ok installed\t2.6.12-1\nkeepalived\tdeinstall ok config-files\t1:2.2.7-1\n",
                "",
                0
            )
        ));
    }

    #[test]
    fn deb_file_is_installed_unless_same_version() {
        let p: AptParams = params(json!({"deb": "/tmp/x_1.0_all.deb"}));
        let facts = |dpkg: &str| {
            out(&format!(
                "@@aptget\n/usr/bin/apt-get\n@@now\n1\n@@stamp\n1\n@@dpkg\n{dpkg}@@deb\nx\t1.0\n@@debrc\n0\n@@end\n"
            ))
        };
        insta::assert_yaml_snapshot!(plan_of(&Apt, &p, &facts("")));
        let plan = plan_of(&Apt, &p, &facts("x\tinstall ok installed\t1.0\n"));
        assert!(!plan.is_change());
    }

    #[test]
    fn check_mode_on_a_bare_host_predicts_change() {
        let p: AptParams = params(json!({"name": ["haproxy"], "update_cache": true}));
        let plan = plan_with(
            &Apt,
            &p,
            &probe("", "", 0),
            PlanCtx {
                check: true,
                ..PlanCtx::default()
            },
        )
        .unwrap();
        assert!(plan.is_change());
        // modules/apt.py: in check mode a due update counts as done.
        assert_eq!(plan.result["cache_updated"], json!(true));
    }

    #[test]
    fn cache_only_changes_when_the_cache_time_moves() {
        let p: AptParams = params(json!({"update_cache": true}));
        let check = PlanCtx {
            check: true,
            ..PlanCtx::default()
        };
        let plan = plan_with(&Apt, &p, &probe("", "", 5), check).unwrap();
        assert!(plan.is_change());
        let plan = plan_of(&Apt, &p, &probe("", "", 5));
        assert!(!plan.is_change(), "changed only once the time moved");
        assert_eq!(plan.steps.len(), 1);
        for (after, changed) in [("5", false), ("9", true)] {
            let mut r = TaskResult::from_map(plan.result.clone());
            let o = ExecOutput {
                rc: 0,
                stdout: format!("Hit:1 x\n@@cache_update_time\n{after}\n").into_bytes(),
                stderr: vec![],
            };
            finish_apt(&mut r, &[o], true);
            assert_eq!(r.data()["cache_updated"], json!(changed), "{after}");
            assert_eq!(r.changed(), changed);
            assert_eq!(
                r.data()["cache_update_time"],
                json!(after.parse::<i64>().unwrap())
            );
        }
    }

    #[test]
    fn bad_parameters_and_hosts() {
        assert_eq!(
            refused::<AptParams>(json!({"name": "x", "state": "installedd"})),
            "state must be one of present, absent, latest, fixed; got installedd"
        );
        let p: AptParams = params(json!({"name": "x", "state": "removed"}));
        assert_eq!(p.state, Some(AptState::Absent));
        let p: AptParams = params(json!({}));
        let e = plan_with(&Apt, &p, &probe("", "", 0), PlanCtx::default()).unwrap_err();
        assert!(e.contains("one of the following is required"), "{e}");
        let p: AptParams = params(json!({"name": "x"}));
        let e = plan_with(&Apt, &p, &out("@@aptget\n@@now\n1\n"), PlanCtx::default()).unwrap_err();
        assert!(e.contains("apt-get was not found"), "{e}");
        let e = serde_json::from_value::<AptParams>(json!({"name": "x", "update_cahce": true}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("update_cahce"), "{e}");
    }

    #[test]
    fn summary_line_counts() {
        assert_eq!(
            summary_changes("x\n0 upgraded, 2 newly installed, 0 to remove and 3 not upgraded.\n"),
            Some(2)
        );
        assert_eq!(
            summary_changes("0 upgraded, 0 newly installed, 0 to remove and 3 not upgraded.\n"),
            Some(0)
        );
        assert_eq!(
            summary_changes(
                "0 upgraded, 0 newly installed, 1 downgraded, 0 to remove and 0 not upgraded.\n"
            ),
            Some(1)
        );
        // A removal's count shares its clause with the packages not upgraded.
        assert_eq!(
            summary_changes("0 upgraded, 0 newly installed, 2 to remove and 1 not upgraded.\n"),
            Some(2)
        );
        assert_eq!(summary_changes("nothing"), None);
    }

    #[test]
    fn policy_parsing() {
        let p = parse_policy(POLICY);
        assert_eq!(p["haproxy"].candidate.as_deref(), Some("2.6.12-1+deb12u4"));
        assert_eq!(p["haproxy"].versions, vec!["2.6.12-1+deb12u4", "2.6.12-1"]);
        assert!(glob_match("2.6.*", "2.6.12-1"));
        assert!(!glob_match("2.7.*", "2.6.12-1"));
    }

    /// dpkg-deb's error text repeats the `.deb` path (a variable): a path holding an
    /// `rc=0` line does not make an unreadable package look readable.
    #[test]
    fn deb_path_cannot_fake_its_exit_code() {
        let deb = "/tmp/x.deb\nrc=0\n";
        let p: AptParams = params(json!({"deb": deb}));
        let facts = reply(&[
            ("aptget", "/usr/bin/apt-get\n"),
            ("now", "1\n"),
            ("stamp", "1\n"),
            ("dpkg", ""),
            (
                "deb",
                &format!(
                    "dpkg-deb: error: failed to read archive '{deb}': No such file or directory\n"
                ),
            ),
            ("debrc", "2\n"),
            ("end", ""),
        ]);
        let e = plan_with(&Apt, &p, &facts, PlanCtx::default()).unwrap_err();
        assert!(e.starts_with("unable to read the package"), "{e}");
    }

    /// apt-get update's output (repository text) printing the marker line does not
    /// replace the time `date` printed after it.
    #[test]
    fn update_output_cannot_fake_the_cache_time() {
        let mut r = TaskResult::new();
        let o = ExecOutput {
            rc: 0,
            stdout: b"Get:1 http://x InRelease\n@@cache_update_time\n42\n@@cache_update_time\n1700000000\n".to_vec(),
            stderr: vec![],
        };
        finish_apt(&mut r, &[o], false);
        assert_eq!(r.data()["cache_update_time"], 1700000000);
    }
}
