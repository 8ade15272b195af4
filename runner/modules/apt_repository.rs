//! `ansible.builtin.apt_repository`: add or remove a one-line APT source.
//!
//! Why this module exists: Kubernetes, containerd and Docker packages come from their own
//! repositories (`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg]
//! https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /`). Like Ansible, every `.list` file is
//! searched for the line (whitespace-normalised); a missing line goes to
//! `/etc/apt/sources.list.d/<filename>.list`, a commented-out one is re-enabled in place,
//! and `state: absent` removes it wherever it is. The cache is updated after a change.

use serde::Deserialize;
use serde_json::Value;

use super::params::{Mode, ansible_bool, choice, opt_mode};
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{PRELUDE, Sections, cat_file, cat_glob, header};
use crate::command::RemoteCommand;
use crate::transport::ExecOutput;

/// `apt_repository`.
pub struct AptRepository;

fn yes() -> bool {
    true
}

/// Parameters of `apt_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepositoryParams {
    /// The source line (`deb [options] URI suite [components]`). Required.
    pub repo: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<AptRepositoryState>,
    /// The file's name under `/etc/apt/sources.list.d/`, without `.list`. Default: made
    /// from the URI, as Ansible does.
    #[serde(default)]
    pub filename: Option<String>,
    /// Permissions of a written file. Default `0644`.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Run `apt-get update` after a change. Alias `update-cache`. Default `true`.
    #[serde(
        default = "yes",
        alias = "update-cache",
        deserialize_with = "ansible_bool"
    )]
    pub update_cache: bool,
}

choice! {
    /// `apt_repository`'s `state` (choices in lib/ansible/modules/apt_repository.py).
    pub enum AptRepositoryState {
        /// The source line is in a sources file (the named one, or one made from the line).
        /// The default.
        Present = "present",
        /// No sources file holds the line.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

const SOURCES: &str = "/etc/apt/sources.list";
const SOURCES_D: &str = "/etc/apt/sources.list.d";

/// A source line normalised for comparison, or `None` when it is not a source line.
/// `Some((enabled, normalised))`.
pub fn parse_line(line: &str) -> Option<(bool, String)> {
    let mut l = line.trim();
    let mut enabled = true;
    if let Some(rest) = l.strip_prefix('#') {
        enabled = false;
        l = rest.trim();
    }
    let l = match l.find('#') {
        Some(i) => &l[..i],
        None => l,
    };
    let mut norm = l.split_whitespace().collect::<Vec<_>>().join(" ");
    norm = norm.replace("[ ", "[").replace(" ]", "]");
    let mut w = norm.split_whitespace();
    let kind = w.next()?;
    if kind != "deb" && kind != "deb-src" {
        return None;
    }
    // At least a URI and a suite after the options.
    let rest: Vec<&str> = norm[kind.len()..].trim().split(']').collect();
    let after_opts = if norm[kind.len()..].trim().starts_with('[') {
        rest.get(1).copied().unwrap_or("")
    } else {
        &norm[kind.len()..]
    };
    if after_opts.split_whitespace().count() < 2 {
        return None;
    }
    Some((enabled, norm))
}

/// Ansible's default file name for a source line (`pkgs_k8s_io_core_stable_v1_30_deb`).
pub fn suggest_filename(line: &str) -> String {
    let mut s = String::new();
    let mut depth = 0;
    for c in line.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => s.push(c),
            _ => {}
        }
    }
    let first = s
        .split_whitespace()
        .find(|w| *w != "deb" && *w != "deb-src")
        .unwrap_or("");
    let no_scheme = match first.find("://") {
        Some(i) => &first[i + 3..],
        None => first,
    };
    let no_auth = match no_scheme.split_once('@') {
        Some((_, host)) => host,
        None => no_scheme,
    };
    no_auth
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn list_path(p: &AptRepositoryParams) -> String {
    let name = match &p.filename {
        Some(f) => f.trim_end_matches(".list").to_string(),
        None => suggest_filename(&p.repo),
    };
    format!("{SOURCES_D}/{name}.list")
}

/// apt's one-line source lists (`sources.list` and `sources.list.d/*.list`) with their
/// content: the `apt_repository` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceLists {
    /// Each list's path and bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Fact for SourceLists {
    type Query = ();

    fn command(_: &()) -> RemoteCommand {
        RemoteCommand::shell(format!(
            "{PRELUDE}{}{}{}{}",
            cat_file(SOURCES),
            cat_glob(&format!("{SOURCES_D}/*.list")),
            header("aptget"),
            "command -v apt-get",
        ))
    }

    fn parse(_: &(), out: &ExecOutput) -> Result<Self, String> {
        Ok(SourceLists {
            files: Sections::parse(out)?.files(),
        })
    }
}

impl Planned for AptRepository {
    type Params = AptRepositoryParams;
    type Facts = SourceLists;

    fn name(&self) -> &'static str {
        "ansible.builtin.apt_repository"
    }

    fn required(&self) -> &'static [&'static str] {
        &["repo"]
    }

    fn probe(&self, _p: &AptRepositoryParams, _ctx: PlanCtx) -> Result<Probe<SourceLists>, String> {
        Ok(Probe::fact(()))
    }

    fn plan(
        &self,
        p: &AptRepositoryParams,
        facts: &SourceLists,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        if p.repo.trim().starts_with("ppa:") {
            return Err(
                "ppa: repositories need Launchpad lookups and are not supported; give the deb line"
                    .into(),
            );
        }
        let Some((_, want)) = parse_line(&p.repo) else {
            return Err(format!("Invalid repository string: {}", p.repo));
        };
        let present = p.state != Some(AptRepositoryState::Absent);
        let mode = match &p.mode {
            None => 0o644,
            Some(Mode::Octal(b)) => *b,
            Some(Mode::Symbolic(s)) => {
                return Err(format!(
                    "mode {s:?}: give octal permissions for a sources file"
                ));
            }
        };
        let files = &facts.files;
        let mut plan = Plan::default();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let write = |plan: &mut Plan, path: &str, before: &str, after: String| {
            plan.steps.push(Step::Write {
                dest: path.to_string(),
                content: after.clone().into_bytes(),
                mode: Some(mode),
                owner: None,
                group: None,
            });
            // apt_repository.py heads a file it makes `before: /dev/null`.
            let existed = files.iter().any(|(p, _)| p == path);
            let diff = FileDiff {
                path: path.to_string(),
                before: before.to_string(),
                after,
                ..Default::default()
            };
            plan.diffs
                .push(diff.headed(if existed { path } else { "/dev/null" }, path));
        };
        if present {
            let enabled_somewhere = files.iter().any(|(_, b)| {
                String::from_utf8_lossy(b)
                    .lines()
                    .any(|l| parse_line(l) == Some((true, want.clone())))
            });
            if !enabled_somewhere {
                // Re-enable a commented-out line in place, else append to our file.
                let disabled = files.iter().find(|(_, b)| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .any(|l| parse_line(l) == Some((false, want.clone())))
                });
                match disabled {
                    Some((path, b)) => {
                        let before = String::from_utf8_lossy(b).into_owned();
                        let mut done = false;
                        let after: String = before
                            .split_inclusive('\n')
                            .map(|l| {
                                if !done && parse_line(l) == Some((false, want.clone())) {
                                    done = true;
                                    format!("{want}\n")
                                } else {
                                    l.to_string()
                                }
                            })
                            .collect();
                        write(&mut plan, path, &before, after);
                        added.push(path.clone());
                    }
                    None => {
                        let path = list_path(p);
                        let before = files
                            .iter()
                            .find(|(f, _)| *f == path)
                            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default();
                        let mut after = before.clone();
                        if !after.is_empty() && !after.ends_with('\n') {
                            after.push('\n');
                        }
                        after.push_str(&want);
                        after.push('\n');
                        write(&mut plan, &path, &before, after);
                        added.push(path);
                    }
                }
            }
        } else {
            for (path, b) in files {
                let before = String::from_utf8_lossy(b).into_owned();
                if !before
                    .lines()
                    .any(|l| parse_line(l).is_some_and(|(_, n)| n == want))
                {
                    continue;
                }
                let after: String = before
                    .split_inclusive('\n')
                    .filter(|l| parse_line(l).is_none_or(|(_, n)| n != want))
                    .collect();
                if after.is_empty() && path != SOURCES {
                    plan.steps.push(Step::Run {
                        cmd: RemoteCommand::argv(["rm", "-f", "--", path.as_str()]),
                    });
                    let diff = FileDiff {
                        path: path.clone(),
                        before,
                        after: String::new(),
                        ..Default::default()
                    };
                    plan.diffs.push(diff.headed(path.as_str(), "/dev/null"));
                } else {
                    write(&mut plan, path, &before, after);
                }
                removed.push(path.clone());
            }
        }
        if !plan.steps.is_empty() && p.update_cache {
            plan.steps.push(Step::Run {
                cmd: RemoteCommand {
                    env: vec![("DEBIAN_FRONTEND".into(), "noninteractive".into())],
                    ..RemoteCommand::argv(["apt-get", "update", "-q"])
                },
            });
        }
        plan.result
            .insert("repo".into(), Value::String(p.repo.clone()));
        plan.result.insert(
            "state".into(),
            Value::String(if present { "present" } else { "absent" }.into()),
        );
        plan.result
            .insert("sources_added".into(), Value::from(added));
        plan.result
            .insert("sources_removed".into(), Value::from(removed));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{file_section, out, params, plan_of};
    use crate::transport::ExecOutput;
    use serde_json::json;

    const K8S: &str = "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /";

    fn probe(files: &[(&str, &str)]) -> ExecOutput {
        let mut s = String::new();
        for (p, c) in files {
            s.push_str(&file_section(p, c));
        }
        s.push_str("@@aptget\n/usr/bin/apt-get\n");
        out(&s)
    }

    #[test]
    fn kubernetes_repository_on_a_fresh_host() {
        assert_eq!(suggest_filename(K8S), "pkgs_k8s_io_core_stable_v1_30_deb");
        let p: AptRepositoryParams =
            params(json!({"repo": K8S, "filename": "kubernetes", "update_cache": false}));
        let plan = plan_of(
            &AptRepository,
            &p,
            &probe(&[(
                "/etc/apt/sources.list",
                "deb http://deb.debian.org/debian bookworm main\n",
            )]),
        );
        insta::assert_yaml_snapshot!(plan);
    }

    #[test]
    fn present_anywhere_is_unchanged_and_commented_is_enabled() {
        let p: AptRepositoryParams = params(json!({"repo": K8S}));
        let spaced = "deb [ signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg ]   https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /\n";
        assert!(
            !plan_of(
                &AptRepository,
                &p,
                &probe(&[("/etc/apt/sources.list.d/k.list", spaced)])
            )
            .is_change()
        );
        insta::assert_yaml_snapshot!(plan_of(
            &AptRepository,
            &p,
            &probe(&[(
                "/etc/apt/sources.list.d/k.list",
                &format!("# k8s\n# {K8S}\n")
            )])
        ));
    }

    #[test]
    fn absent_removes_the_line_and_the_empty_file() {
        let p: AptRepositoryParams = params(json!({"repo": K8S, "state": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(
            &AptRepository,
            &p,
            &probe(&[
                (
                    "/etc/apt/sources.list",
                    &format!("deb http://x/ y main\n{K8S}\n")
                ),
                ("/etc/apt/sources.list.d/k.list", &format!("{K8S}\n")),
            ])
        ));
    }

    #[test]
    fn bad_lines() {
        let p: AptRepositoryParams = params(json!({"repo": "https://pkgs.k8s.io/ /"}));
        let e = plan_with(&AptRepository, &p, &probe(&[]), PlanCtx::default()).unwrap_err();
        assert!(e.starts_with("Invalid repository string"), "{e}");
    }
}
