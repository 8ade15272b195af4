//! `ansible.builtin.stat`: report facts about a path (read-only).
//!
//! Why this module exists: playbooks branch on `stat.exists`, `stat.isdir`,
//! `stat.checksum` and friends. One probe prints the facts as NUL-terminated records; the plan
//! turns them into Ansible's `stat` dictionary and never has steps.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fileops::{self, FileFacts, Kind, path_probe};
use super::params::{ansible_bool, choice};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::command::quote;

fn yes() -> bool {
    true
}

/// Parameters of `stat`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatParams {
    /// The path to examine (aliases `dest`, `name`). Required.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// Report on a link's target instead of the link. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub follow: bool,
    /// Compute `checksum` of regular files. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub get_checksum: bool,
    /// `sha1` (default), `sha224`, `sha256`, `sha384`, `sha512` or `md5` (aliases
    /// `checksum`, `checksum_algo`).
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Report `mimetype`/`charset` using the host's `file` program when it has one.
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub get_mime: bool,
    /// Accepted for compatibility; extended attributes are not reported.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "ansible_bool")]
    pub get_attributes: bool,
}

choice! {
    /// `stat`'s `checksum_algorithm` (choices in lib/ansible/modules/stat.py): the hash of
    /// `checksum`, computed by the host's coreutils program of that name.
    pub enum ChecksumAlgorithm {
        /// MD5 (`md5sum`).
        Md5 = "md5",
        /// SHA-1 (`sha1sum`). The default.
        Sha1 = "sha1",
        /// SHA-224 (`sha224sum`).
        Sha224 = "sha224",
        /// SHA-256 (`sha256sum`).
        Sha256 = "sha256",
        /// SHA-384 (`sha384sum`).
        Sha384 = "sha384",
        /// SHA-512 (`sha512sum`).
        Sha512 = "sha512",
    }
    else "value of checksum_algorithm must be one of: md5, sha1, sha224, sha256, sha384, sha512, got: {got}"
}

/// `ansible.builtin.stat`.
pub struct Stat;

fn algo_prog(a: Option<ChecksumAlgorithm>) -> &'static str {
    match a.unwrap_or(ChecksumAlgorithm::Sha1) {
        ChecksumAlgorithm::Sha1 => "sha1sum",
        ChecksumAlgorithm::Sha224 => "sha224sum",
        ChecksumAlgorithm::Sha256 => "sha256sum",
        ChecksumAlgorithm::Sha384 => "sha384sum",
        ChecksumAlgorithm::Sha512 => "sha512sum",
        ChecksumAlgorithm::Md5 => "md5sum",
    }
}

#[async_trait::async_trait]
impl Planned for Stat {
    type Params = StatParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.stat"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest", "name"]
    }

    fn probe(&self, p: &StatParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        fileops::check_path("path", &p.path)?;
        let prog = algo_prog(p.checksum_algorithm);
        let l = if p.follow { "-L " } else { "" };
        let mut s = format!("p={}; ", quote(&p.path));
        // The times first: computing the checksum reads the file, which may move its
        // atime; lib/ansible/modules/stat.py takes os.stat() before it hashes.
        s.push_str(&format!(
            "if [ -e \"$p\" ] || [ -L \"$p\" ]; then stat {l}--printf='atime=%X\\0ctime=%Z\\0dev=%d\\0ftype=%F\\0' -- \"$p\"; \
             [ -r \"$p\" ] && printf 'readable=1\\0'; [ -w \"$p\" ] && printf 'writeable=1\\0'; [ -x \"$p\" ] && printf 'executable=1\\0'; \
             if [ -L \"$p\" ]; then printf 'lnk_source='; readlink -fn -- \"$p\"; printf '\\0'; fi; fi; "
        ));
        s.push_str(&fileops::stat_snippet(fileops::StatOpts {
            follow: p.follow,
            checksum: p.get_checksum.then_some(prog),
            content_limit: None,
        }));
        if p.get_mime {
            s.push_str("if [ -e \"$p\" ] && command -v file >/dev/null 2>&1; then printf 'mime=%s\\0' \"$(file -b --mime -- \"$p\")\"; fi; ");
        }
        s.push_str("true");
        Ok(path_probe(&p.path, s))
    }

    fn plan(&self, p: &StatParams, f: &FileFacts, _ctx: PlanCtx) -> Result<Plan, String> {
        let mut st = Map::new();
        st.insert("exists".into(), Value::Bool(f.exists()));
        if f.exists() {
            let ftype = f.get("ftype").unwrap_or_default();
            let islnk = f.kind == Kind::Link || f.get("islnk") == Some("1");
            let flag = |k: &str| Value::Bool(f.get(k) == Some("1"));
            st.insert("path".into(), Value::String(p.path.clone()));
            st.insert(
                "mode".into(),
                Value::String(fileops::mode_str(f.mode & 0o7777)),
            );
            st.insert("isdir".into(), Value::Bool(f.kind == Kind::Directory));
            st.insert("isreg".into(), Value::Bool(f.kind == Kind::File));
            st.insert(
                "islnk".into(),
                Value::Bool(if p.follow { false } else { islnk }),
            );
            st.insert("isblk".into(), Value::Bool(ftype == "block special file"));
            st.insert(
                "ischr".into(),
                Value::Bool(ftype == "character special file"),
            );
            st.insert("isfifo".into(), Value::Bool(ftype == "fifo"));
            st.insert("issock".into(), Value::Bool(ftype == "socket"));
            st.insert("uid".into(), Value::from(f.uid));
            st.insert("gid".into(), Value::from(f.gid));
            st.insert("pw_name".into(), Value::String(f.owner.clone()));
            st.insert("gr_name".into(), Value::String(f.group.clone()));
            st.insert("size".into(), Value::from(f.size));
            st.insert("inode".into(), Value::from(f.inode));
            st.insert("nlink".into(), Value::from(f.nlink));
            let num = |k: &str| -> Result<f64, String> {
                let v = f.get(k).unwrap_or_default();
                v.parse::<u64>().map(|n| n as f64).map_err(|_| {
                    crate::modules::reply::unexpected(&format!("{k} is not a number"), v.as_bytes())
                })
            };
            st.insert("mtime".into(), Value::from(f.mtime as f64));
            st.insert("atime".into(), Value::from(num("atime")?));
            st.insert("ctime".into(), Value::from(num("ctime")?));
            st.insert("dev".into(), Value::from(num("dev")? as u64));
            st.insert("readable".into(), flag("readable"));
            st.insert("writeable".into(), flag("writeable"));
            st.insert("executable".into(), flag("executable"));
            let m = f.mode;
            for (k, bit) in [
                ("rusr", 0o400),
                ("wusr", 0o200),
                ("xusr", 0o100),
                ("rgrp", 0o040),
                ("wgrp", 0o020),
                ("xgrp", 0o010),
                ("roth", 0o004),
                ("woth", 0o002),
                ("xoth", 0o001),
                ("isuid", 0o4000),
                ("isgid", 0o2000),
            ] {
                st.insert(k.into(), Value::Bool(m & bit != 0));
            }
            if islnk {
                if let Some(t) = &f.target {
                    let t = String::from_utf8_lossy(t).into_owned();
                    st.insert("lnk_target".into(), Value::String(t));
                }
                if let Some(s) = f.get("lnk_source") {
                    st.insert("lnk_source".into(), Value::String(s.to_string()));
                }
            }
            if let Some(c) = &f.checksum {
                st.insert("checksum".into(), Value::String(c.clone()));
            }
            if let Some(mime) = f.get("mime") {
                let (t, cs) = mime.split_once("; charset=").unwrap_or((mime, ""));
                st.insert("mimetype".into(), Value::String(t.to_string()));
                st.insert("charset".into(), Value::String(cs.to_string()));
            }
        }
        let mut result = Map::new();
        result.insert("stat".into(), Value::Object(st));
        Ok(Plan::unchanged(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::transport::ExecOutput;
    use serde_json::json;

    fn plan_of(args: Value, probe: &str) -> Result<Plan, String> {
        let Value::Object(m) = args else { panic!() };
        let p: StatParams = params("stat", m).map_err(|e| e.to_string())?;
        let out = ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(probe),
            stderr: vec![],
        };
        plan_with(&Stat, &p, &out, PlanCtx::default())
    }

    #[test]
    fn golden_stat() {
        let absent = plan_of(json!({"path": "/nope"}), "path=/nope\nkind=absent\n").unwrap();
        insta::assert_yaml_snapshot!("stat_absent", absent);
        let link = plan_of(
            json!({"path": "/usr/bin/cc", "checksum_algorithm": "sha256"}),
            "path=/usr/bin/cc\nkind=link\ntarget=/etc/alternatives/cc\nmode=777\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=20\nmtime=1700000000\ninode=5\nnlink=1\natime=1700000001\nctime=1700000002\ndev=64769\nftype=symbolic link\nreadable=1\nlnk_source=/usr/bin/gcc-12\n",
        )
        .unwrap();
        insta::assert_yaml_snapshot!("stat_link", link);
        let e = plan_of(
            json!({"path": "/x", "checksum_algorithm": "crc"}),
            "kind=absent\n",
        )
        .unwrap_err();
        insta::assert_snapshot!("stat_err_algo", e);
    }
}
