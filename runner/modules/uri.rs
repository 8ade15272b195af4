//! `ansible.builtin.uri`: make an HTTP request from the host and check the answer.
//!
//! Why this module exists: bring-up waits for health endpoints (`/healthz`, `/readyz`) and
//! calls APIs from the nodes themselves. Ansible uses Python's urllib on the host; windlass
//! runs the host's `curl` (failing with a clear message when it is missing) in ONE command
//! that prints curl's `-w` summary, the response headers and the body in sections it
//! delimits. The request is built in [`request`] and the response parsed in
//! [`parse_response`], both pure. Like Ansible's uri, it does not support check mode: the
//! task is skipped under `--check`. Credentials go to curl as `-u` (visible in the host's
//! process list while curl runs) and are always sent preemptively (basic auth).

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::{choice, opt_ansible_bool, opt_stringish};
use super::plan::{field_names, params};
use super::sysprobe::{PRELUDE, Sections, header};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, join, quote};

/// Parameters of `uri`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UriParams {
    /// The URL (http or https). Required.
    pub url: String,
    /// HTTP method. Default `GET`.
    #[serde(default)]
    pub method: Option<String>,
    /// Request body: a string, or a structure encoded per `body_format`.
    #[serde(default)]
    pub body: Option<Value>,
    /// `raw` (default), `json` or `form-urlencoded`; json/form set the Content-Type.
    #[serde(default)]
    pub body_format: Option<BodyFormat>,
    /// Request headers, a mapping.
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// Accepted status codes, one or a list. Default `[200]`.
    #[serde(default)]
    pub status_code: Option<Value>,
    /// Return the body as `content`. Default `false` (`json` is returned for JSON bodies
    /// either way).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub return_content: Option<bool>,
    /// Seconds the whole request may take. Default 30.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Check TLS certificates. Default `true`.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub validate_certs: Option<bool>,
    /// User for basic authentication (alias `user`).
    #[serde(default, alias = "user", deserialize_with = "opt_stringish")]
    pub url_username: Option<String>,
    /// Password for basic authentication (alias `password`).
    #[serde(default, alias = "password", deserialize_with = "opt_stringish")]
    pub url_password: Option<String>,
    /// Send credentials without waiting for a 401 (always done). Default `false`.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub force_basic_auth: Option<bool>,
    /// `safe` (default: follow for GET/HEAD), `all`/`yes`, `none`/`no`.
    #[serde(default)]
    pub follow_redirects: Option<FollowRedirects>,
    /// Save the body to this path on the host (reported as changed).
    #[serde(default)]
    pub dest: Option<String>,
    /// CA bundle on the host to verify the server with.
    #[serde(default)]
    pub ca_path: Option<String>,
    /// Client certificate on the host.
    #[serde(default)]
    pub client_cert: Option<String>,
    /// Client key on the host.
    #[serde(default)]
    pub client_key: Option<String>,
}

choice! {
    /// `uri`'s `body_format` (choices in lib/ansible/modules/uri.py; `form-multipart` is not
    /// supported).
    pub enum BodyFormat {
        /// A mapping (or a list of pairs) sent URL-encoded, as a form.
        FormUrlencoded = "form-urlencoded",
        /// A structure sent as JSON (a string as it is).
        Json = "json",
        /// The body as text. The default.
        Raw = "raw",
    }
    else "value of body_format must be one of: form-urlencoded, json, raw, got: {got}"
}

choice! {
    /// `uri`'s `follow_redirects` (choices in lib/ansible/modules/uri.py).
    pub enum FollowRedirects {
        /// Follow redirects of GET and HEAD requests only. The default; Ansible's `urllib2` too.
        Safe = "safe" | "urllib2",
        /// Follow every redirect (`yes`, and a YAML `true`, too).
        All = "all" | "yes" | "True",
        /// Follow none (`no`, and a YAML `false`, too).
        None = "none" | "no" | "False",
    }
    else "value of follow_redirects must be one of: all, none, safe, got: {got}"
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Accepted status codes.
pub fn status_codes(v: &Option<Value>) -> Result<Vec<i64>, String> {
    let one = |v: &Value| match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("bad status code {n}")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("bad status code {s:?}")),
        other => Err(format!("bad status code {other}")),
    };
    match v {
        None | Some(Value::Null) => Ok(vec![200]),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(Value::String(s)) if s.contains(',') => s
            .split(',')
            .map(|x| one(&Value::String(x.to_string())))
            .collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

/// The command that makes the request (body on stdin); curl's output files go to a
/// per-command scratch directory under `remote_tmp`.
pub fn request(p: &UriParams, remote_tmp: &str) -> Result<RemoteCommand, String> {
    let method = p
        .method
        .clone()
        .unwrap_or_else(|| "GET".into())
        .to_uppercase();
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into()];
    if method != "GET" && method != "HEAD" {
        argv.push("-X".into());
        argv.push(method.clone());
    }
    argv.push("--max-time".into());
    argv.push(p.timeout.unwrap_or(30.0).to_string());
    let follow = match p.follow_redirects.unwrap_or(FollowRedirects::Safe) {
        FollowRedirects::Safe => method == "GET" || method == "HEAD",
        FollowRedirects::All => true,
        FollowRedirects::None => false,
    };
    if follow {
        argv.push("-L".into());
    }
    if method == "HEAD" {
        argv.push("-I".into());
    }
    if p.validate_certs == Some(false) {
        argv.push("-k".into());
    }
    for (flag, v) in [
        ("--cacert", &p.ca_path),
        ("--cert", &p.client_cert),
        ("--key", &p.client_key),
    ] {
        if let Some(v) = v {
            argv.push(flag.into());
            argv.push(v.clone());
        }
    }
    if let Some(u) = &p.url_username {
        argv.push("--basic".into());
        argv.push("-u".into());
        argv.push(format!(
            "{u}:{}",
            p.url_password.clone().unwrap_or_default()
        ));
    }
    let mut headers: Vec<(String, String)> = p
        .headers
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    let has = |h: &[(String, String)], k: &str| h.iter().any(|(n, _)| n.eq_ignore_ascii_case(k));
    let body: Option<Vec<u8>> = match (&p.body, p.body_format.unwrap_or(BodyFormat::Raw)) {
        (None | Some(Value::Null), _) => None,
        (Some(b), BodyFormat::Json) => {
            if !has(&headers, "Content-Type") {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Some(match b {
                Value::String(s) => s.clone().into_bytes(),
                other => serde_json::to_vec(other).map_err(|e| e.to_string())?,
            })
        }
        (Some(b), BodyFormat::FormUrlencoded) => {
            if !has(&headers, "Content-Type") {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            Some(match b {
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(&text(v))))
                    .collect::<Vec<_>>()
                    .join("&")
                    .into_bytes(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(|pair| match pair {
                        Value::Array(kv) if kv.len() == 2 => Some(format!(
                            "{}={}",
                            urlencode(&text(&kv[0])),
                            urlencode(&text(&kv[1]))
                        )),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("&")
                    .into_bytes(),
                other => text(other).into_bytes(),
            })
        }
        (Some(b), BodyFormat::Raw) => Some(text(b).into_bytes()),
    };
    for (k, v) in &headers {
        argv.push("-H".into());
        argv.push(format!("{k}: {v}"));
    }
    if body.is_some() {
        argv.push("--data-binary".into());
        argv.push("@-".into());
    }
    // Fixed curl options with the temp paths (which must expand) are literal text;
    // everything from the task is quoted.
    let curl = format!(
        "{} -D \"$d/h\" -o \"$d/b\" -w '%{{http_code}} %{{num_redirects}} %{{url_effective}}' -- {}",
        join(&argv),
        quote(&p.url)
    );
    // The reply's sections are framed (see `sysprobe`): a response header, curl's error
    // text or the body may hold anything, a section header line included.
    let mut script = format!(
        "{PRELUDE}command -v curl >/dev/null 2>&1 || {{ {}exit 0; }}\n{}\n{}",
        header("nocurl"),
        crate::command::scratch_prelude(remote_tmp),
        header("summary"),
    );
    if body.is_none() {
        script.push_str(&format!("{curl} </dev/null 2>\"$d/e\"; rc=$?\n"));
    } else {
        script.push_str(&format!("{curl} 2>\"$d/e\"; rc=$?\n"));
    }
    script.push_str(&format!(
        "{}printf '%s' \"$rc\"; {}cat \"$d/e\"; {}cat \"$d/h\" 2>/dev/null\n",
        header("rc"),
        header("stderr"),
        header("headers"),
    ));
    if let Some(d) = &p.dest {
        script.push_str(&format!(
            "[ \"$rc\" = 0 ] && cp \"$d/b\" {} && {{ {}}}\n",
            quote(d),
            header("dest")
        ));
    }
    script.push_str(&format!("{}cat \"$d/b\" 2>/dev/null\n", header("body")));
    let mut cmd = RemoteCommand::shell(script);
    if let Some(b) = body {
        cmd = cmd.with_stdin(b);
    }
    Ok(cmd)
}

/// Turn the command's output into the result (pure).
pub fn parse_response(p: &UriParams, out: &[u8], elapsed_secs: u64) -> Result<TaskResult, String> {
    let mut r = TaskResult::new();
    r.set_changed(false);
    let s = Sections::parse_bytes(out).ok_or("uri: unexpected output from the request")?;
    if s.has("nocurl") {
        return Err(
            "uri needs curl on the target host; install it first (apt-get install curl)".into(),
        );
    }
    let summary = s.get("summary").unwrap_or("");
    let rc = s
        .text("rc")
        .ok_or("uri: unexpected output from the request")?;
    let stderr = s.get("stderr").unwrap_or("");
    let headers = s.get("headers").unwrap_or("");
    let body = s.get("body").unwrap_or("");
    let wrote_dest = s.has("dest");
    let mut w = summary.trim().splitn(3, ' ');
    let code: i64 = w.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let redirects: u64 = w.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let url = w.next().unwrap_or(&p.url).to_string();
    let status = if code == 0 { -1 } else { code };
    // The last header block (after redirects) is the final response's.
    let block = headers
        .replace("\r\n", "\n")
        .trim_end()
        .rsplit("\n\n")
        .next()
        .unwrap_or("")
        .to_string();
    let mut lines = block.lines();
    let status_line = lines.next().unwrap_or("").trim().to_string();
    let mut content_type = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let key = k.trim().to_lowercase().replace('-', "_");
            let v = v.trim().to_string();
            if key == "content_type" {
                content_type = v.clone();
            }
            r.insert(key, json!(v));
        }
    }
    r.insert("status", json!(status));
    r.insert("url", json!(url));
    r.insert("redirected", json!(redirects > 0));
    r.insert("elapsed", json!(elapsed_secs));
    let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("").to_string();
    if status == -1 {
        r.set_msg(json!(format!(
            "Status code was -1 and not {:?}: Request failed: {}",
            status_codes(&p.status_code)?,
            stderr.trim()
        )));
        r.set_failed(true);
        return Ok(r);
    }
    r.set_msg(json!(format!("OK ({} bytes)", body.len())));
    if content_type.contains("json") {
        if let Ok(j) = serde_json::from_str::<Value>(body) {
            r.insert("json", j);
        }
    }
    if p.return_content == Some(true) {
        r.insert("content", json!(body));
    }
    if let Some(d) = &p.dest {
        r.insert("path", json!(d));
        r.set_changed(wrote_dest);
    }
    let _ = rc;
    let ok = status_codes(&p.status_code)?;
    if !ok.contains(&status) {
        r.set_failed(true);
        r.set_msg(json!(format!(
            "Status code was {status} and not {ok:?}: HTTP Error {status}: {reason}"
        )));
    }
    Ok(r)
}

/// `ansible.builtin.uri`.
pub struct Uri;

#[async_trait::async_trait]
impl Module for Uri {
    fn name(&self) -> &'static str {
        "ansible.builtin.uri"
    }
    fn spec(&self) -> ParamSpec {
        let mut params: Vec<(&'static str, &'static [&'static str])> = field_names::<UriParams>()
            .iter()
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        params.extend([("user", &[] as &'static [&'static str]), ("password", &[])]);
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            required: &["url"],
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: UriParams = params("uri", args)?;
        let cmd = request(&p, &ctx.remote_tmp).map_err(ModuleError::Failed)?;
        if ctx.check {
            let mut r = TaskResult::with_changed(false);
            r.set_skipped();
            r.set_msg(json!("remote module (uri) does not support check mode"));
            return Ok(r);
        }
        let mut cmd = cmd.with_become(ctx.become_.clone());
        cmd.env = ctx.env.clone();
        cmd.timeout = Some(std::time::Duration::from_secs_f64(
            p.timeout.unwrap_or(30.0) + 15.0,
        ));
        if let Some(t) = ctx.timeout {
            cmd.timeout = cmd.timeout.map(|c| c.min(t));
        }
        let start = Instant::now();
        let out = ctx.transport.exec(&cmd).await?;
        parse_response(&p, &out.stdout, start.elapsed().as_secs()).map_err(ModuleError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;

    fn p(v: Value) -> UriParams {
        let Value::Object(m) = v else { panic!() };
        params("uri", m).unwrap()
    }

    #[test]
    fn golden_requests() {
        insta::assert_yaml_snapshot!(
            "uri_get",
            request(
                &p(json!({"url": "https://10.0.0.1:6443/healthz", "validate_certs": false})),
                "~/.ansible/tmp"
            )
            .unwrap()
        );
        let post = request(&p(json!({
            "url": "http://x/api", "method": "post", "body_format": "json",
            "body": {"a": [1, 2]}, "headers": {"X-Token": "it's"}, "url_username": "u", "url_password": "p w"
        })), "~/.ansible/tmp")
        .unwrap();
        assert_eq!(post.stdin.as_deref(), Some(&b"{\"a\":[1,2]}"[..]));
        insta::assert_yaml_snapshot!("uri_post_json", post);
        let form = request(&p(json!({"url": "http://x/", "method": "POST", "body_format": "form-urlencoded", "body": {"name": "a b", "x": "&="}})), "~/.ansible/tmp").unwrap();
        assert_eq!(form.stdin.as_deref(), Some(&b"name=a+b&x=%26%3D"[..]));
        let e =
            refused::<UriParams>(json!({"url": "http://x/", "body_format": "xml", "body": "<a/>"}));
        insta::assert_snapshot!("uri_err_format", e);
        assert_eq!(
            refused::<UriParams>(json!({"url": "http://x/", "follow_redirects": "some"})),
            "value of follow_redirects must be one of: all, none, safe, got: some"
        );
        let no = p(json!({"url": "http://x/", "follow_redirects": false}));
        assert_eq!(no.follow_redirects, Some(FollowRedirects::None));
    }

    fn reply(text: &str) -> Vec<u8> {
        crate::modules::sysprobe::testutil::out(text).stdout
    }

    #[test]
    fn parses_responses() {
        let out = reply(
            "@@summary\n200 1 http://127.0.0.1:8000/d/\n@@rc\n0\n@@stderr\n@@headers\nHTTP/1.0 301 Moved Permanently\r\nLocation: /d/\r\n\r\nHTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nContent-type: application/json\r\nContent-Length: 9\r\n\r\n@@body\n{\"a\": 1}\n",
        );
        let r = parse_response(
            &p(json!({"url": "http://127.0.0.1:8000/d", "return_content": true})),
            &out,
            0,
        )
        .unwrap();
        insta::assert_yaml_snapshot!("uri_ok_json", r);
        let out = reply(
            "@@summary\n404 0 http://h/x\n@@rc\n0\n@@stderr\n@@headers\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n@@body\n",
        );
        let r = parse_response(&p(json!({"url": "http://h/x"})), &out, 0).unwrap();
        assert_eq!(r.registered()["failed"], true);
        assert_eq!(
            r.registered()["msg"],
            "Status code was 404 and not [200]: HTTP Error 404: Not Found"
        );
        let r = parse_response(
            &p(json!({"url": "http://h/x", "status_code": [200, 404]})),
            &out,
            0,
        )
        .unwrap();
        assert!(r.get("failed").is_none());
        let out = reply(
            "@@summary\n000 0 http://h:1/\n@@rc\n7\n@@stderr\ncurl: (7) Failed to connect to h port 1\n@@headers\n@@body\n",
        );
        let r = parse_response(&p(json!({"url": "http://h:1/"})), &out, 0).unwrap();
        insta::assert_yaml_snapshot!("uri_refused", r);
        let e =
            parse_response(&p(json!({"url": "http://h/"})), &reply("@@nocurl\n"), 0).unwrap_err();
        assert!(e.contains("needs curl"));
        let e = parse_response(&p(json!({"url": "http://h/"})), b"@@nocurl\n", 0).unwrap_err();
        assert!(e.contains("unexpected output"), "{e}");
    }

    /// A server (or curl's error text) that prints what the reply's markers used to be
    /// cannot fake another part of the reply: the real request script runs here with a
    /// stand-in `curl` on PATH that answers with hostile headers, body and stderr.
    #[test]
    fn hostile_response_cannot_fake_the_reply() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let curl = bin.join("curl");
        std::fs::write(
            &curl,
            "#!/bin/sh\n\
             while [ $# -gt 0 ]; do case \"$1\" in -D) h=$2; shift;; -o) b=$2; shift;; esac; shift; done\n\
             printf 'HTTP/1.1 500 Oops\\nX-A: 1\\n@@body\\nX-Forged: 1\\n@@dest\\n\\n' > \"$h\"\n\
             printf '{\"real\": 1}\\n\\n@@rc 0\\n@@headers\\nHTTP/1.1 200 OK\\n' > \"$b\"\n\
             printf 'curl: oops\\n\\n@@headers\\nHTTP/1.1 200 OK\\r\\n\\r\\n\\n@@body\\n' >&2\n\
             printf '500 0 http://h/x'; exit 22\n",
        )
        .unwrap();
        std::fs::set_permissions(&curl, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let tmp = dir.path().join("tmp").display().to_string();
        let params = p(
            json!({"url": "http://h/x", "dest": dir.path().join("saved").display().to_string(), "return_content": true}),
        );
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = request(&params, &tmp).unwrap();
        cmd.env.push(("PATH".into(), path));
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        let r = parse_response(&params, &out.stdout, 0).unwrap();
        assert_eq!(r.registered()["status"], 500, "{r:?}");
        assert_eq!(r.registered()["failed"], true);
        assert_eq!(
            r.registered()["content"],
            "{\"real\": 1}\n\n@@rc 0\n@@headers\nHTTP/1.1 200 OK\n"
        );
        assert!(
            r.registered()["msg"]
                .as_str()
                .unwrap()
                .ends_with("HTTP Error 500: Oops"),
            "{r:?}"
        );
        assert_eq!(r.registered()["x_a"], "1");
        assert_eq!(
            r.registered()["changed"],
            false,
            "curl failed: nothing was saved to dest"
        );
        assert!(!dir.path().join("saved").exists());
    }
}
