//! `ansible.posix.mount`: keep a mount point's fstab line, and mount, unmount or remount
//! it.
//!
//! Why this module exists: nodes need data disks, bind mounts and tmpfs scratch space
//! mounted now and after a reboot. The one framed probe reads the fstab file, whether the
//! path exists and the host's `/proc/self/mountinfo`; the pure plan ports ansible.posix's
//! Linux branch: `set_mount`/`unset_mount` edit fstab lines exactly as it does (fields
//! escaped with `\040`, `\046`, `\134`; a short line rewritten whole), and the state says
//! what happens to the live mount (`mount [-T fstab] path`, `mount -o remount` falling back
//! to umount + mount, `umount`). A failed mount puts the old fstab back, as Ansible does.
//! A path counts as mounted when it is a mount point in mountinfo (Ansible's `ismount` or
//! `is_bind_mounted`).

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::fileops::{self, Attrs, WriteSpec};
use super::params::{ansible_bool, choice, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `ansible.posix.mount`.
pub struct Mount;

fn yes() -> bool {
    true
}

fn zero() -> String {
    "0".into()
}

/// Parameters of `mount`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountParams {
    /// The mount point (alias `name`). Required.
    #[serde(alias = "name")]
    pub path: String,
    /// The device, or the directory of a bind mount. Required with `mounted`, `present`
    /// and `ephemeral`.
    #[serde(default)]
    pub src: Option<String>,
    /// The filesystem type. Required with `mounted`, `present` and `ephemeral`.
    #[serde(default)]
    pub fstype: Option<String>,
    /// Mount options. Default `defaults`.
    #[serde(default)]
    pub opts: Option<String>,
    /// Hide `opts` from the logs (accepted; windlass's results show them).
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "ansible_bool")]
    pub opts_no_log: bool,
    /// The fstab dump field. Default `0`.
    #[serde(default = "zero", deserialize_with = "stringish")]
    pub dump: String,
    /// The fstab pass field. Default `0`.
    #[serde(default = "zero", deserialize_with = "stringish")]
    pub passno: String,
    /// The fstab file. Default `/etc/fstab` (another file is given to `mount -T`).
    #[serde(default)]
    pub fstab: Option<String>,
    /// Mount at boot; `false` adds `noauto` to the options. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub boot: bool,
    /// Keep a timestamped copy of fstab before changing it (result `backup_file`).
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// What to do. Required.
    pub state: MountState,
}

fn stringish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_stringish(d)?.unwrap_or_default())
}

choice! {
    /// `mount`'s `state` (choices in ansible.posix's mount module).
    pub enum MountState {
        /// Not in fstab, not mounted, and the mount point directory removed.
        Absent = "absent",
        /// Not in fstab and not mounted (the directory kept).
        AbsentMount = "absent_mount",
        /// Not in fstab (the live mount untouched).
        AbsentFromFstab = "absent_from_fstab",
        /// In fstab and mounted (remounted when its fstab line changed).
        Mounted = "mounted",
        /// In fstab (the live mount untouched).
        Present = "present",
        /// Not mounted (fstab untouched).
        Unmounted = "unmounted",
        /// Remounted now (always a change).
        Remounted = "remounted",
        /// Mounted now with these options, fstab ignored.
        Ephemeral = "ephemeral",
    }
    else "value of state must be one of: absent, absent_from_fstab, absent_mount, mounted, present, unmounted, remounted, ephemeral, got: {got}"
}

/// A live mount from mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveMount {
    /// The mount point, unescaped.
    pub dst: String,
    /// The source as `get_linux_mounts` computes it.
    pub src: String,
    /// The mount's source field (what `mount -v` prints first).
    pub device: String,
}

/// What the plan needs of the host: the `mount` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountFacts {
    /// The fstab text (`None`: no such file).
    pub fstab: Option<String>,
    /// Whether the mount point path exists.
    pub path_exists: bool,
    /// The live mounts.
    pub mounts: Vec<LiveMount>,
}

/// The probe (see the module docs).
pub fn probe_command(p: &MountParams) -> RemoteCommand {
    let fstab = p.fstab.as_deref().unwrap_or("/etc/fstab");
    RemoteCommand::shell(framed(&format!(
        "f={}; p={}; if [ -e \"$f\" ]; then {}base64 -w0 -- \"$f\"; fi; if [ -e \"$p\" ]; then {}fi; {}cat /proc/self/mountinfo; ",
        quote(fstab),
        quote(&p.path),
        header("fstab"),
        header("exists"),
        header("mountinfo")
    )))
}

/// The kernel's octal escapes (`\040`) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `get_linux_mounts`: mountinfo's records, a child's source computed from its parent's
/// as ansible.posix does for bind mounts.
fn linux_mounts(text: &str) -> Vec<LiveMount> {
    struct Rec<'a> {
        id: &'a str,
        parent: &'a str,
        root: &'a str,
        dst: &'a str,
        fs_src: &'a str,
    }
    let recs: Vec<Rec> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 10).then(|| Rec {
                id: f[0],
                parent: f[1],
                root: f[3],
                dst: f[4],
                fs_src: f[f.len() - 2],
            })
        })
        .collect();
    recs.iter()
        .map(|m| {
            let parent = recs
                .iter()
                .find(|p| p.id == m.parent)
                .filter(|_| m.parent != "1");
            let src = match parent {
                Some(p) => {
                    let mut root = m.root.to_string();
                    if p.root.len() > 1 && root.starts_with(&format!("{}/", p.root)) {
                        root = root[p.root.len()..].to_string();
                    }
                    if p.dst != "/" {
                        root = format!("{}{root}", p.dst);
                    }
                    root
                }
                None => m.fs_src.to_string(),
            };
            LiveMount {
                dst: unescape(m.dst),
                src: unescape(&src),
                device: unescape(m.fs_src),
            }
        })
        .collect()
}

/// The facts from the probe's reply.
pub fn parse(out: &ExecOutput) -> Result<MountFacts, String> {
    let s = Sections::parse(out)?;
    let fstab = match s.get("fstab") {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .map_err(|_| "unexpected probe output: fstab is not base64".to_string())?,
        ),
        None => None,
    };
    let info = s
        .get("mountinfo")
        .ok_or("unexpected probe output: no mountinfo")?;
    Ok(MountFacts {
        fstab,
        path_exists: s.has("exists"),
        mounts: linux_mounts(info),
    })
}

/// `_escape_fstab`.
fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

/// The values an fstab line is made of (Ansible's `args`).
struct Args {
    name: String,
    src: Option<String>,
    fstype: Option<String>,
    opts: String,
    dump: String,
    passno: String,
    fstab: String,
}

impl Args {
    fn of(p: &MountParams) -> (Self, Option<String>) {
        let mut opts = p.opts.clone().unwrap_or_else(|| "defaults".into());
        let mut warning = None;
        let list: Vec<&str> = opts.split(',').collect();
        if p.boot && list.contains(&"noauto") {
            warning = Some("Ignore the 'boot' due to 'opts' contains 'noauto'.".to_string());
        } else if !p.boot {
            opts = format!("{opts},noauto");
        }
        let args = Args {
            name: p.path.clone(),
            src: p.src.clone(),
            fstype: p.fstype.clone(),
            opts,
            dump: p.dump.clone(),
            passno: p.passno.clone(),
            fstab: p.fstab.clone().unwrap_or_else(|| "/etc/fstab".into()),
        };
        (args, warning)
    }

    fn line(&self) -> String {
        let e = |v: &Option<String>| escape(v.as_deref().unwrap_or("None"));
        format!(
            "{} {} {} {} {} {}\n",
            e(&self.src),
            escape(&self.name),
            e(&self.fstype),
            escape(&self.opts),
            escape(&self.dump),
            escape(&self.passno)
        )
    }

    /// Whether an fstab line's fields name this mount (a swap line by its source).
    fn matches(&self, f: &[&str]) -> bool {
        let swap_other = self.src.is_some()
            && f[1] == "none"
            && f.get(2) == Some(&"swap")
            && Some(f[0]) != self.src.as_deref();
        f[1] == escape(&self.name) && !swap_other
    }
}

/// `_set_mount_save_old`: the new fstab text and whether it changed.
fn set_mount(a: &Args, text: &str) -> (String, bool) {
    let mut out = String::new();
    let (mut exists, mut changed) = (false, false);
    for line in text.split_inclusive('\n') {
        let line = match line.ends_with('\n') {
            true => line.to_string(),
            false => format!("{line}\n"),
        };
        let t = line.trim();
        let fields: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if t.is_empty()
            || t.starts_with('#')
            || !(4..=6).contains(&fields.len())
            || !a.matches(&fields)
        {
            out.push_str(&line);
            continue;
        }
        exists = true;
        let want = [
            escape(a.src.as_deref().unwrap_or("None")),
            escape(a.fstype.as_deref().unwrap_or("None")),
            escape(&a.opts),
            escape(&a.dump),
            escape(&a.passno),
        ];
        // A missing dump or pass field is Python's int 0, never equal to a text.
        let have = [0, 2, 3, 4, 5].map(|i| fields.get(i).copied());
        let differs = have.iter().zip(&want).any(|(h, w)| *h != Some(w.as_str()));
        if differs {
            changed = true;
            out.push_str(&format!(
                "{} {} {} {} {} {}\n",
                want[0], fields[1], want[1], want[2], want[3], want[4]
            ));
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&a.line());
        changed = true;
    }
    (out, changed)
}

/// `unset_mount`: the fstab text without this mount's 6-field lines.
fn unset_mount(a: &Args, text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let f: Vec<&str> = line.split_whitespace().collect();
        if !t.is_empty() && !t.starts_with('#') && f.len() == 6 && a.matches(&f) {
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    (out, changed)
}

fn fstab_flag(a: &Args) -> String {
    match a.fstab.as_str() {
        "/etc/fstab" => String::new(),
        f => format!("-T {} ", quote(f)),
    }
}

/// `mount [-T fstab] path` (or the ephemeral `-t fstype [-o opts] src`), its failure
/// message `what <path>: <output>`.
fn mount_cmd(a: &Args, ephemeral: bool) -> String {
    let how = match ephemeral {
        false => fstab_flag(a),
        true => {
            let o = match a.opts.as_str() {
                "defaults" => String::new(),
                o => format!("-o {} ", quote(o)),
            };
            format!(
                "-t {} {o}{} ",
                quote(a.fstype.as_deref().unwrap_or_default()),
                quote(a.src.as_deref().unwrap_or_default())
            )
        }
    };
    format!("mount {how}{}", quote(&a.name))
}

/// The script of `remount`: `mount -o remount…`, else (unless options were asked for with
/// `remounted`) umount and mount.
fn remount_script(a: &Args, state: MountState) -> String {
    let eph = state == MountState::Ephemeral;
    let opts = match (state == MountState::Remounted || eph, a.opts.as_str()) {
        (true, o) if o != "defaults" => format!("remount,{o}"),
        _ => "remount".into(),
    };
    let first = format!(
        "mount -o {} {}{}",
        quote(&opts),
        if eph { String::new() } else { fstab_flag(a) },
        quote(&a.name)
    );
    let fallback = match state == MountState::Remounted && a.opts != "defaults" {
        true => "printf '%s' 'Options were specified with remounted, but the remount command failed. Failing in order to prevent an unexpected mount result. Try replacing this command with a \"state: unmounted\" followed by a \"state: mounted\" using the full desired mount options instead.' >&2; false".to_string(),
        false => format!(
            "o=$(umount {} 2>&1) && o=$(LC_ALL=C {} 2>&1)",
            quote(&a.name),
            mount_cmd(a, eph)
        ),
    };
    format!("o=$(LC_ALL=C {first} 2>&1) || {{ {fallback}; }}")
}

fn run(script: String) -> Step {
    Step::Run {
        cmd: RemoteCommand::shell(script),
    }
}

/// The step that fails with `<what> <path>: <output>` unless `script` (which leaves its
/// output in `$o`) succeeds; `restore`: the old fstab text, put back on failure.
fn checked(script: String, what: &str, a: &Args, restore: Option<&str>) -> Step {
    let put_back = match restore {
        Some(_) => format!("cat > {}; ", quote(&a.fstab)),
        None => String::new(),
    };
    let cmd = RemoteCommand::shell(format!(
        "if ! {{ {script}; }}; then {put_back}printf '%s %s: %s' {} {} \"$o\" >&2; exit 1; fi",
        quote(what),
        quote(&a.name)
    ));
    Step::Run {
        cmd: match restore {
            Some(old) => cmd.with_stdin(old.as_bytes().to_vec()),
            None => cmd,
        },
    }
}

fn write_fstab(p: &MountParams, a: &Args, text: &str) -> Result<Step, String> {
    fileops::write_step(&WriteSpec {
        dest: &a.fstab,
        content: text.as_bytes(),
        attrs: &Attrs::default(),
        backup: p.backup,
        validate: None,
        remote_src: None,
    })
}

fn result_of(p: &MountParams, a: &Args) -> super::ResultMap {
    let mut r = super::ResultMap::new();
    r.insert("name".into(), Value::String(a.name.clone()));
    r.insert("opts".into(), Value::String(a.opts.clone()));
    r.insert("dump".into(), Value::String(a.dump.clone()));
    r.insert("passno".into(), Value::String(a.passno.clone()));
    r.insert("fstab".into(), Value::String(a.fstab.clone()));
    r.insert(
        "boot".into(),
        Value::String(if p.boot { "yes" } else { "no" }.into()),
    );
    r.insert("backup_file".into(), Value::String(String::new()));
    if let Some(s) = &a.src {
        r.insert("src".into(), Value::String(s.clone()));
    }
    if let Some(t) = &a.fstype {
        r.insert("fstype".into(), Value::String(t.clone()));
    }
    r
}

#[async_trait::async_trait]
impl Planned for Mount {
    type Params = MountParams;
    type Facts = MountFacts;

    fn name(&self) -> &'static str {
        "ansible.posix.mount"
    }

    fn required(&self) -> &'static [&'static str] {
        &["path", "state"]
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "name", "src", "fstab"]
    }

    fn probe(&self, p: &MountParams, _ctx: PlanCtx) -> Result<Probe<MountFacts>, String> {
        for (what, v) in [("path", Some(&p.path)), ("fstab", p.fstab.as_ref())] {
            if let Some(v) = v {
                fileops::check_path(what, v)?;
            }
        }
        Ok(Probe::ask(probe_command(p), parse))
    }

    fn plan(&self, p: &MountParams, f: &MountFacts, _ctx: PlanCtx) -> Result<Plan, String> {
        // No diff in any mode: ansible.posix.mount returns none (it has no `diff` key).
        use MountState as S;
        if matches!(p.state, S::Mounted | S::Present | S::Ephemeral) {
            let missing: Vec<&str> = [("src", &p.src), ("fstype", &p.fstype)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "state is {} but all of the following are missing: {}",
                    p.state.as_str(),
                    missing.join(", ")
                ));
            }
        }
        let (a, warning) = Args::of(p);
        let old = f.fstab.clone().unwrap_or_default();
        let mounted = f.mounts.iter().any(|m| m.dst == a.name);
        let mut plan = Plan::unchanged(result_of(p, &a));
        if let Some(w) = warning {
            plan.result
                .insert("warnings".into(), Value::Array(vec![Value::String(w)]));
        }
        if f.fstab.is_none() && p.state != S::Ephemeral {
            // Ansible creates a missing fstab file first, whatever the state.
            let dir = a.fstab.rsplit_once('/').map_or("", |(d, _)| d);
            let mkdir = match dir {
                "" => String::new(),
                d => format!("mkdir -p -- {} && ", quote(d)),
            };
            plan.steps
                .push(run(format!("{mkdir}: >> {}", quote(&a.fstab))));
        }
        let mut changed = false;
        match p.state {
            S::AbsentFromFstab | S::Absent | S::AbsentMount | S::Present => {
                let (new, c) = match p.state {
                    S::Present => set_mount(&a, &old),
                    _ => unset_mount(&a, &old),
                };
                changed = c;
                if c {
                    plan.steps.push(write_fstab(p, &a, &new)?);
                    if matches!(p.state, S::Absent | S::AbsentMount) && mounted {
                        let umount = format!("o=$(LC_ALL=C umount {} 2>&1)", quote(&a.name));
                        plan.steps
                            .push(checked(umount, "Error unmounting", &a, None));
                    }
                    if p.state == S::Absent && f.path_exists {
                        let rmdir = format!("o=$(LC_ALL=C rmdir -- {} 2>&1)", quote(&a.name));
                        plan.steps.push(checked(rmdir, "Error rmdir", &a, None));
                    }
                }
            }
            S::Unmounted => {
                if mounted {
                    changed = true;
                    let umount = format!("o=$(LC_ALL=C umount {} 2>&1)", quote(&a.name));
                    plan.steps
                        .push(checked(umount, "Error unmounting", &a, None));
                }
            }
            S::Remounted => {
                changed = true;
                plan.steps.push(checked(
                    remount_script(&a, p.state),
                    "Error remounting",
                    &a,
                    None,
                ));
            }
            S::Mounted | S::Ephemeral => {
                let eph = p.state == S::Ephemeral;
                if !f.path_exists {
                    plan.steps
                        .push(run(format!("mkdir -p -- {}", quote(&a.name))));
                }
                let (new, c) = match eph {
                    false => set_mount(&a, &old),
                    true => (old.clone(), false),
                };
                changed = c;
                if c {
                    plan.steps.push(write_fstab(p, &a, &new)?);
                }
                let restore = (!eph && c).then_some(old.as_str());
                if mounted {
                    let same_src = f.mounts.iter().any(|m| {
                        m.dst == a.name
                            && (Some(&m.src) == a.src.as_ref() || Some(&m.device) == a.src.as_ref())
                    });
                    if eph && !same_src {
                        return Err("Ephemeral mount point is already mounted with a different source than the specified one. Failing in order to prevent an unwanted unmount or override operation. Try replacing this command with a \"state: unmounted\" followed by a \"state: ephemeral\", or use a different destination path.".into());
                    }
                    if c || eph {
                        changed = true;
                        plan.steps.push(checked(
                            remount_script(&a, p.state),
                            "Error mounting",
                            &a,
                            restore,
                        ));
                    }
                } else {
                    changed = true;
                    let mount = format!("o=$(LC_ALL=C {} 2>&1)", mount_cmd(&a, eph));
                    plan.steps
                        .push(checked(mount, "Error mounting", &a, restore));
                }
            }
        }
        plan.changed = Some(changed);
        Ok(plan)
    }

    fn finish(&self, p: &MountParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        let fstab = p.fstab.as_deref().unwrap_or("/etc/fstab");
        fileops::finish_backup(result, outputs, fstab, "backup_file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply};
    use serde_json::json;

    const INFO: &str = "22 1 0:21 / / rw - overlay overlay rw\n\
        40 22 0:35 / /tmp rw - tmpfs tmpfs rw\n\
        41 22 0:36 / /mnt/data\\040disk rw - ext4 /dev/sdb1 rw\n\
        78 40 0:35 /aaa /srv/bind rw - tmpfs tmpfs rw\n";

    fn facts(fstab: Option<&str>, exists: bool) -> ExecOutput {
        let b64 = fstab.map(|t| base64::engine::general_purpose::STANDARD.encode(t));
        let mut v = vec![];
        if let Some(b) = &b64 {
            v.push(("fstab", b.as_str()));
        }
        if exists {
            v.push(("exists", ""));
        }
        v.push(("mountinfo", INFO));
        reply(&v)
    }

    fn p(v: serde_json::Value) -> MountParams {
        params(v)
    }

    fn diff() -> PlanCtx {
        PlanCtx {
            diff: true,
            ..PlanCtx::default()
        }
    }

    #[test]
    fn mountinfo_sources_and_escapes() {
        let m = linux_mounts(INFO);
        assert_eq!(m[2].dst, "/mnt/data disk");
        // As ansible.posix computes it: the mount's root under its parent's mount point.
        assert_eq!(m[2].src, "/");
        assert_eq!(m[2].device, "/dev/sdb1");
        assert_eq!(m[3].src, "/tmp/aaa", "a bind mount's source directory");
    }

    #[test]
    fn mounted_writes_fstab_then_mounts() {
        let q = p(
            json!({"path": "/srv/data", "src": "/dev/sdc1", "fstype": "ext4", "opts": "noatime", "state": "mounted"}),
        );
        let plan = plan_with(
            &Mount,
            &q,
            &facts(Some("# fstab\n/dev/sda1 / ext4 defaults 0 1\n"), false),
            diff(),
        );
        insta::assert_yaml_snapshot!(plan.unwrap());
        let have = "# fstab\n/dev/sda1 / ext4 defaults 0 1\n/dev/sdc1 /srv/data ext4 noatime 0 0\n";
        let q = p(
            json!({"path": "/srv/bind", "src": "/dev/sdc1", "fstype": "ext4", "opts": "noatime", "state": "mounted"}),
        );
        let same = have.replace("/srv/data", "/srv/bind");
        let plan = plan_with(&Mount, &q, &facts(Some(&same), true), diff()).unwrap();
        assert!(!plan.is_change(), "in fstab and mounted: {plan:?}");
    }

    #[test]
    fn fstab_lines_as_ansible_edits_them() {
        let (a, _) = Args::of(&p(
            json!({"path": "/mnt/a b", "src": "//srv/x&y", "fstype": "cifs", "state": "present", "boot": false}),
        ));
        let (text, changed) = set_mount(
            &a,
            "/dev/x /mnt/a\\040b cifs defaults\nUUID=1 /boot ext4 defaults 0 2",
        );
        assert!(changed);
        assert_eq!(
            text,
            "//srv/x\\046y /mnt/a\\040b cifs defaults,noauto 0 0\nUUID=1 /boot ext4 defaults 0 2\n"
        );
        let (same, changed) = set_mount(&a, &text);
        assert!(!changed);
        assert_eq!(same, text);
        let (gone, changed) = unset_mount(&a, &text);
        assert!(changed);
        assert_eq!(gone, "UUID=1 /boot ext4 defaults 0 2\n");
    }

    #[test]
    fn states() {
        let have = "tmpfs /tmp tmpfs defaults 0 0\n";
        let plan = |v, exists| {
            plan_with(
                &Mount,
                &p(v),
                &facts(Some(have), exists),
                PlanCtx::default(),
            )
            .unwrap()
        };
        let absent = plan(json!({"path": "/tmp", "state": "absent"}), true);
        insta::assert_yaml_snapshot!(absent);
        let unmounted = plan(json!({"path": "/srv/none", "state": "unmounted"}), false);
        assert!(!unmounted.is_change());
        let remounted = plan(json!({"path": "/tmp", "state": "remounted"}), true);
        assert!(remounted.is_change());
        let e = plan_with(
            &Mount,
            &p(json!({"path": "/x", "state": "mounted"})),
            &facts(None, false),
            PlanCtx::default(),
        );
        assert_eq!(
            e.unwrap_err(),
            "state is mounted but all of the following are missing: src, fstype"
        );
        let eph = plan_with(
            &Mount,
            &p(json!({"path": "/tmp", "src": "/other", "fstype": "tmpfs", "state": "ephemeral"})),
            &facts(Some(have), true),
            PlanCtx::default(),
        );
        assert!(
            eph.unwrap_err()
                .starts_with("Ephemeral mount point is already mounted")
        );
    }

    /// The probe, run by `sh` with an fstab holding header-like lines: the text comes back
    /// whole, and mountinfo is the machine's.
    #[test]
    fn the_probe_frames_fstab() {
        let dir = tempfile::tempdir().unwrap();
        let fstab = dir.path().join("fstab");
        let text = "@@0123456789abcdef0123456789abcdef mountinfo\n1 1 0:1 / /forged rw - x y rw\n";
        std::fs::write(&fstab, text).unwrap();
        let q = p(
            json!({"path": "/forged", "state": "unmounted", "fstab": fstab.display().to_string()}),
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe_command(&q).to_shell())
            .output()
            .unwrap();
        let f = parse(&ExecOutput {
            rc: 0,
            stdout: out.stdout,
            stderr: out.stderr,
        })
        .unwrap();
        assert_eq!(f.fstab.as_deref(), Some(text));
        assert!(!f.mounts.iter().any(|m| m.dst == "/forged"));
        assert!(f.mounts.iter().any(|m| m.dst == "/"));
    }
}
