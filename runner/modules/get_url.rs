//! `ansible.builtin.get_url`: download a file to the host, idempotently.
//!
//! Why this module exists: Kubespray downloads kubeadm, kubelet, etcd and CNI archives
//! onto the nodes with a pinned `checksum`. The probe says whether `dest` exists (and, if a
//! directory, which file the URL lands in), its mode/owner/group and its checksum; the plan
//! downloads only when the file is missing, its checksum differs from the pinned one, or
//! `force: yes` (then the download replaces `dest` only when the content differs).
//! Downloads run the host's `curl` into a temp file beside `dest`, verify the checksum,
//! set mode/owner, then rename over `dest`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::TaskResult;
use super::params::{Mode, ansible_bool, opt_ansible_bool, opt_mode, opt_stringish};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, join, quote};
use crate::transport::ExecOutput;

/// Parameters of `get_url`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetUrlParams {
    /// The URL to download (http, https or ftp). Required.
    pub url: String,
    /// Where to save it; a directory means "the URL's file name in it". Required.
    pub dest: String,
    /// `<algorithm>:<hex digest>` (`sha256:ab12…`); a file already at `dest` with this
    /// checksum is not downloaded again, and a download that does not match fails.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Download even when `dest` exists (replacing it only if the content differs).
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Permissions of the file (`"0644"`, `u=rw,g=r,o=r`).
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner of the file.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group of the file.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Seconds the download may take. Default 10.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Request headers, a mapping.
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// Check TLS certificates. Default `true`.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub validate_certs: Option<bool>,
    /// User for basic authentication.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub url_username: Option<String>,
    /// Password for basic authentication.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub url_password: Option<String>,
    /// Accepted; credentials are always sent preemptively.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub force_basic_auth: Option<bool>,
}

const ALGOS: &[(&str, &str)] = &[
    ("md5", "md5sum"),
    ("sha1", "sha1sum"),
    ("sha224", "sha224sum"),
    ("sha256", "sha256sum"),
    ("sha384", "sha384sum"),
    ("sha512", "sha512sum"),
];

/// `(program, lowercase digest)` of `checksum`.
fn checksum(p: &GetUrlParams) -> Result<Option<(&'static str, String)>, String> {
    let Some(c) = &p.checksum else {
        return Ok(None);
    };
    let (algo, hex) = c
        .split_once(':')
        .ok_or_else(|| format!("checksum must be <algorithm>:<digest>, got {c:?}"))?;
    let prog = ALGOS
        .iter()
        .find(|(a, _)| *a == algo)
        .map(|(_, p)| *p)
        .ok_or_else(|| format!("unsupported checksum algorithm {algo:?} (md5, sha1, sha224, sha256, sha384, sha512)"))?;
    if hex.contains("://") {
        return Err("a checksum URL is not supported: give the digest itself".into());
    }
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("checksum digest is not hexadecimal: {hex:?}"));
    }
    Ok(Some((prog, hex.to_lowercase())))
}

/// The URL's last path segment, as the file name for a directory `dest`.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map(|(_, r)| r).unwrap_or(path);
    match path.split_once('/') {
        Some((_, p)) => p
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("index.html")
            .to_string(),
        None => "index.html".to_string(),
    }
}

/// `ansible.builtin.get_url`.
pub struct GetUrl;

/// The file `dest` names: itself, or the URL's file name in it when the probe found a
/// directory there (worked out here, never read back from the host).
fn dest_path(p: &GetUrlParams, isdir: bool) -> String {
    if !isdir {
        return p.dest.clone();
    }
    let dir = p.dest.strip_suffix('/').unwrap_or(&p.dest);
    format!("{dir}/{}", url_file_name(&p.url))
}

/// What the probe found about the file: mode, owner, group (`None`: no such file).
/// What `get_url` asks: its destination (a directory gets the URL's file name) and the
/// checksum program, when a checksum is given.
pub struct DestQuery {
    /// `dest` as given.
    pub dest: String,
    /// The file name a directory `dest` gets.
    pub file_name: String,
    /// `sha256sum`, …: the program of the `checksum` given.
    pub sum_prog: Option<&'static str>,
}

/// A download's destination as the host has it: the `get_url` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestState {
    /// `dest` is a directory (the file goes into it).
    pub into_dir: bool,
    /// `curl` is on the host.
    pub curl: bool,
    /// The file's directory exists.
    pub parent: bool,
    /// The file's mode (octal text), owner and group, when it is a regular file.
    pub stat: Option<(String, String, String)>,
    /// Its checksum with the program asked for.
    pub sum: Option<String>,
}

impl Fact for DestState {
    type Query = DestQuery;

    fn command(q: &DestQuery) -> RemoteCommand {
        let mut s = format!(
            "d={}; if [ -d \"$d\" ]; then d=\"${{d%/}}\"/{}; {}fi\n",
            quote(&q.dest),
            quote(&q.file_name),
            header("isdir")
        );
        s.push_str(&format!(
            "command -v curl >/dev/null 2>&1 && {{ {}}}\n",
            header("curl")
        ));
        s.push_str(&format!(
            "[ -d \"$(dirname -- \"$d\")\" ] && {{ {}}}\n",
            header("parent")
        ));
        // Owner and group names end in NUL: no name can hold one.
        s.push_str(&format!(
            "if [ -f \"$d\" ]; then {}stat --printf '%a\\0%U\\0%G\\0' -- \"$d\"",
            header("stat")
        ));
        if let Some(prog) = q.sum_prog {
            s.push_str(&format!(
                "; {}{prog} < \"$d\" | cut -d' ' -f1",
                header("sum")
            ));
        }
        s.push_str(&format!("; fi\n{}", header("end")));
        RemoteCommand::shell(framed(&s))
    }

    fn parse(_q: &DestQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(DestState {
            into_dir: s.has("isdir"),
            curl: s.has("curl"),
            parent: s.has("parent"),
            stat: stat_of(&s),
            sum: s.text("sum").map(str::to_string),
        })
    }
}

fn stat_of(s: &Sections) -> Option<(String, String, String)> {
    let body = s.get("stat")?;
    let mut f = body.split('\0').map(str::to_string);
    Some((
        f.next().unwrap_or_default(),
        f.next().unwrap_or_default(),
        f.next().unwrap_or_default(),
    ))
}

#[async_trait::async_trait]
impl Planned for GetUrl {
    type Params = GetUrlParams;
    type Facts = DestState;

    fn name(&self) -> &'static str {
        "ansible.builtin.get_url"
    }

    fn required(&self) -> &'static [&'static str] {
        &["url", "dest"]
    }

    fn probe(&self, p: &GetUrlParams, _ctx: PlanCtx) -> Result<Probe<DestState>, String> {
        let sum = checksum(p)?;
        Ok(Probe::fact(DestQuery {
            dest: p.dest.clone(),
            file_name: url_file_name(&p.url),
            sum_prog: sum.map(|(prog, _)| prog),
        }))
    }

    fn plan(&self, p: &GetUrlParams, facts: &DestState, ctx: PlanCtx) -> Result<Plan, String> {
        let sum = checksum(p)?;
        let path = dest_path(p, facts.into_dir);
        let stat = facts.stat.clone();
        let mut result = ResultMapBuilder::default();
        result.0.insert("dest".into(), json!(path));
        result.0.insert("url".into(), json!(p.url));
        if let Some(c) = &p.checksum {
            result.0.insert("checksum".into(), json!(c));
        }
        let exists = stat.is_some();
        let sum_ok = match (&sum, facts.sum.as_deref()) {
            (Some((_, want)), Some(have)) => have == want,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let download = !exists || !sum_ok || p.force;
        let mut steps = Vec::new();
        if download {
            if !facts.curl && !ctx.check {
                return Err("get_url needs curl on the target host; install it first (apt-get install curl)".into());
            }
            if !facts.parent && !ctx.check {
                return Err(format!(
                    "Destination dir {} does not exist",
                    parent_of(&path)
                ));
            }
            steps.push(Step::Run {
                cmd: download_cmd(p, &path, sum.as_ref(), exists),
            });
            if exists && sum.is_none() {
                // force: changed only if the content differs; decided after the download.
                result.0.insert(
                    "msg".into(),
                    json!("file would be downloaded again (force)"),
                );
            }
        } else {
            // Attributes only.
            let mut fix = Vec::new();
            match &p.mode {
                Some(Mode::Octal(bits)) => {
                    let have = stat
                        .as_ref()
                        .and_then(|m| u32::from_str_radix(&m.0, 8).ok());
                    if have != Some(*bits) {
                        fix.push(format!("chmod {:o} {}", bits, quote(&path)));
                    }
                }
                Some(Mode::Symbolic(s)) => {
                    // Symbolic modes are applied and reported as a change only if they differ.
                    fix.push(format!(
                        "b=$(stat -c %a {q}); chmod {} {q}; [ \"$b\" != \"$(stat -c %a {q})\" ] && echo changed",
                        quote(s),
                        q = quote(&path)
                    ));
                }
                None => {}
            }
            let owner_diff = p
                .owner
                .as_deref()
                .is_some_and(|o| Some(o) != stat.as_ref().map(|s| s.1.as_str()));
            let group_diff = p
                .group
                .as_deref()
                .is_some_and(|g| Some(g) != stat.as_ref().map(|s| s.2.as_str()));
            if owner_diff || group_diff {
                let spec = match (&p.owner, &p.group) {
                    (Some(o), Some(g)) => format!("{o}:{g}"),
                    (Some(o), None) => o.clone(),
                    (None, Some(g)) => format!(":{g}"),
                    (None, None) => String::new(),
                };
                fix.push(format!("chown {} {}", quote(&spec), quote(&path)));
            }
            if !fix.is_empty() {
                steps.push(Step::Run {
                    cmd: RemoteCommand::shell(fix.join("; ")),
                });
            }
            result.0.insert("msg".into(), json!("file already exists"));
        }
        Ok(Plan {
            steps,
            diffs: vec![],
            result: result.0,
            changed: None,
        })
    }

    fn finish(&self, p: &GetUrlParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        if let Some(o) = outputs.first() {
            let text = o.stdout_str();
            if text.lines().any(|l| l == "unchanged") {
                result.set_changed(false);
                result.set_msg(json!("file already exists"));
            } else if text.lines().any(|l| l == "downloaded") {
                result.set_msg(json!("OK"));
            } else if matches!(p.mode, Some(Mode::Symbolic(_)))
                && !text.lines().any(|l| l == "changed")
                && !text.contains("downloaded")
                && p.owner.is_none()
                && p.group.is_none()
            {
                result.set_changed(false);
            }
        }
    }
}

#[derive(Default)]
struct ResultMapBuilder(Map<String, Value>);

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// The download script: curl into a temp file beside `dest`, verify, set attributes,
/// rename (or, with `force` on an existing file and no checksum, keep `dest` when equal).
fn download_cmd(
    p: &GetUrlParams,
    dest: &str,
    sum: Option<&(&'static str, String)>,
    exists: bool,
) -> RemoteCommand {
    let mut argv: Vec<String> = vec![
        "curl".into(),
        "-fsSL".into(),
        "--max-time".into(),
        p.timeout.unwrap_or(10.0).to_string(),
    ];
    if p.validate_certs == Some(false) {
        argv.push("-k".into());
    }
    if let Some(u) = &p.url_username {
        argv.push("--basic".into());
        argv.push("-u".into());
        argv.push(format!(
            "{u}:{}",
            p.url_password.clone().unwrap_or_default()
        ));
    }
    for (k, v) in p.headers.iter().flatten() {
        argv.push("-H".into());
        argv.push(format!(
            "{k}: {}",
            match v {
                Value::String(s) => s.clone(),
                o => o.to_string(),
            }
        ));
    }
    let q = quote(dest);
    let mut s = format!(
        "set -e; t=$(mktemp \"$(dirname {q})/.windlass-get_url.XXXXXXXX\"); trap 'rm -f \"$t\"' EXIT\n{} -o \"$t\" -- {}\n",
        join(&argv),
        quote(&p.url)
    );
    if let Some((prog, hex)) = sum {
        s.push_str(&format!(
            "got=$({prog} < \"$t\" | cut -d' ' -f1); if [ \"$got\" != {hex} ]; then echo \"The checksum for {dest_txt} did not match {hex}; it was $got.\" >&2; exit 1; fi\n",
            dest_txt = dest.replace(['"', '$', '`', '\\', '\''], "_"),
        ));
    }
    if exists && sum.is_none() {
        s.push_str(&format!(
            "if cmp -s \"$t\" {q}; then echo unchanged; exit 0; fi\n"
        ));
    }
    match &p.mode {
        Some(Mode::Octal(b)) => s.push_str(&format!("chmod {b:o} \"$t\"\n")),
        Some(Mode::Symbolic(m)) => {
            s.push_str(&format!("chmod 644 \"$t\"; chmod {} \"$t\"\n", quote(m)))
        }
        None if exists => s.push_str(&format!("chmod --reference={q} \"$t\"\n")),
        None => s.push_str("chmod $(printf '%o' $(( 0666 & ~0$(umask) ))) \"$t\"\n"),
    }
    match (&p.owner, &p.group) {
        (Some(o), Some(g)) => s.push_str(&format!("chown {} \"$t\"\n", quote(&format!("{o}:{g}")))),
        (Some(o), None) => s.push_str(&format!("chown {} \"$t\"\n", quote(o))),
        (None, Some(g)) => s.push_str(&format!("chgrp {} \"$t\"\n", quote(g))),
        (None, None) => {}
    }
    s.push_str(&format!("mv -f \"$t\" {q}; trap - EXIT; echo downloaded\n"));
    RemoteCommand::shell(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::{plan_with, probe_of};

    const SUM: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn plan_of(args: Value, probe: &str, check: bool) -> Result<Plan, String> {
        let Value::Object(m) = args else { panic!() };
        let p: GetUrlParams = params("get_url", m).map_err(|e| e.to_string())?;
        let out = crate::modules::sysprobe::testutil::out(probe);
        plan_with(
            &GetUrl,
            &p,
            &out,
            PlanCtx {
                check,
                ..PlanCtx::default()
            },
        )
    }

    #[test]
    fn golden_get_url() {
        let args = json!({"url": "http://127.0.0.1:8000/kubeadm", "dest": "/usr/local/bin/kubeadm", "checksum": SUM, "mode": "0755"});
        let fresh = plan_of(args.clone(), "@@curl\n@@parent\n@@end\n", false).unwrap();
        insta::assert_yaml_snapshot!("get_url_fresh", fresh);
        // Check mode on a host without curl still predicts the download.
        assert!(
            plan_of(args.clone(), "@@parent\n@@end\n", true)
                .unwrap()
                .is_change()
        );
        let conv = plan_of(
            args.clone(),
            "@@curl\n@@parent\n@@stat\n755\0root\0root\0\n@@sum\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n@@end\n",
            false,
        )
        .unwrap();
        assert!(conv.steps.is_empty());
        insta::assert_yaml_snapshot!("get_url_converged", conv);
        let wrong_sum = plan_of(
            args.clone(),
            "@@curl\n@@parent\n@@stat\n755\0root\0root\0\n@@sum\n00\n@@end\n",
            false,
        )
        .unwrap();
        assert!(wrong_sum.is_change());
        let mode_only = plan_of(args, "@@curl\n@@parent\n@@stat\n700\0root\0root\0\n@@sum\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n@@end\n", false).unwrap();
        insta::assert_yaml_snapshot!("get_url_mode_only", mode_only);
        // Directory dest, no checksum, exists, not forced: nothing to do.
        let dir = plan_of(
            json!({"url": "http://h/x/cni.tgz?v=1", "dest": "/opt/"}),
            "@@isdir\n@@curl\n@@parent\n@@stat\n644\0root\0root\0\n@@end\n",
            false,
        )
        .unwrap();
        assert!(dir.steps.is_empty());
        assert_eq!(dir.result["dest"], "/opt/cni.tgz");
        let forced = plan_of(
            json!({"url": "http://h/x", "dest": "/opt/x", "force": "yes"}),
            "@@curl\n@@parent\n@@stat\n644\0root\0root\0\n@@end\n",
            false,
        )
        .unwrap();
        insta::assert_yaml_snapshot!("get_url_forced", forced);
        let e = plan_of(
            json!({"url": "http://h/x", "dest": "/x", "checksum": "crc:12"}),
            "",
            false,
        )
        .unwrap_err();
        insta::assert_snapshot!("get_url_err_algo", e);
        let e = plan_of(
            json!({"url": "http://h/x", "dest": "/x"}),
            "@@parent\n@@end\n",
            false,
        )
        .unwrap_err();
        assert!(e.contains("needs curl"), "{e}");
    }

    /// The probe run by this machine's `sh`, as a host would, and the plan from its reply.
    fn plan_on_this_machine(args: Value) -> (GetUrlParams, Plan) {
        let Value::Object(m) = args else { panic!() };
        let p: GetUrlParams = params("get_url", m).unwrap();
        let probe = probe_of(&GetUrl, &p).unwrap();
        let out = crate::transport::local::LocalTransport::exec_blocking(&probe);
        let plan = plan_with(&GetUrl, &p, &out, PlanCtx::default()).unwrap();
        (p, plan)
    }

    /// A `dest` with newlines and field-like lines neither fakes an existing file with the
    /// right checksum nor moves the download elsewhere: the path is the one sent, and the
    /// reply's sections come from the script alone.
    #[test]
    fn hostile_dest_cannot_fake_the_file_or_redirect_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let fake = format!("{d}/f\nexists=1\nmode=644\nsum={}", &SUM[7..]);
        let (_, plan) =
            plan_on_this_machine(json!({"url": "http://h/x", "dest": fake, "checksum": SUM}));
        assert!(
            plan.is_change(),
            "a missing file was reported there: {plan:?}"
        );

        let moved = format!("{d}/f\npath={d}/victim");
        std::fs::create_dir_all(format!("{d}/f\npath={d}")).unwrap();
        let (p, plan) = plan_on_this_machine(json!({"url": "http://h/x", "dest": moved}));
        assert_eq!(plan.result["dest"], json!(p.dest));
        let Step::Run { cmd } = &plan.steps[0] else {
            panic!()
        };
        let script = cmd.to_shell();
        assert!(script.contains(&*quote(&p.dest)), "{script}");
        assert!(!script.contains(&format!("{d}/victim;")), "{script}");
    }
}
