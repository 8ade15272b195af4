//! Ansible Vault through the `windlass` binary: `windlass vault …`, vault data in playbooks
//! and inventories, the password sources, the errors; and, against the real ansible-vault
//! of the conformance venv, byte compatibility in both directions.
//!
//! The tests that need ansible-vault are `#[ignore = "needs ansible-vault…"]`: a plain
//! `cargo test` lists them as ignored rather than passing them unrun; `.ci/run` makes the
//! venv and runs them with `--ignored` (where a missing venv fails them).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `windlass` in `dir`, cut off from the developer's ANSIBLE_*/WINDLASS_* settings.
fn windlass(dir: &Path) -> Command {
    isolated(Command::new(env!("CARGO_BIN_EXE_windlass")), dir)
}

fn isolated(mut c: Command, dir: &Path) -> Command {
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_") || k == "EDITOR")
        {
            c.env_remove(k);
        }
    }
    c.current_dir(dir).env("HOME", dir).stdin(Stdio::null());
    c
}

fn run(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().expect("runs")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A folder with password files `pw` (`hunter2`) and `pw-dev` (`s3cret`).
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pw"), "hunter2\n").unwrap();
    std::fs::write(d.path().join("pw-dev"), "s3cret\n").unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn encrypt_view_decrypt_round_trip_in_place() {
    let d = project();
    let f = write(d.path(), "secrets.yml", "token: abc\n");
    ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw",
            "secrets.yml",
        ],
    ));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    let mode = std::fs::metadata(&f).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let view = run(
        windlass(d.path()),
        &[
            "vault",
            "view",
            "--vault-password-file",
            "pw",
            "secrets.yml",
        ],
    );
    assert_eq!(ok(&view), "token: abc\n");
    ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "decrypt",
            "--vault-password-file",
            "pw",
            "secrets.yml",
        ],
    ));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "token: abc\n");
}

#[test]
fn a_vault_id_labels_the_file_and_rekey_changes_the_secret() {
    let d = project();
    write(d.path(), "s.yml", "x: 1\n");
    ok(&run(
        windlass(d.path()),
        &["vault", "encrypt", "--vault-id", "dev@pw-dev", "s.yml"],
    ));
    let text = std::fs::read_to_string(d.path().join("s.yml")).unwrap();
    assert!(
        text.starts_with("$ANSIBLE_VAULT;1.2;AES256;dev\n"),
        "{text}"
    );
    ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "rekey",
            "--vault-id",
            "dev@pw-dev",
            "--new-vault-id",
            "prod@pw",
            "s.yml",
        ],
    ));
    let text = std::fs::read_to_string(d.path().join("s.yml")).unwrap();
    assert!(
        text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        "{text}"
    );
    let old = run(
        windlass(d.path()),
        &["vault", "view", "--vault-id", "dev@pw-dev", "s.yml"],
    );
    assert!(fails(&old).contains("decryption failed"));
    let new = run(
        windlass(d.path()),
        &["vault", "view", "--vault-id", "prod@pw", "s.yml"],
    );
    assert_eq!(ok(&new), "x: 1\n");
}

#[test]
fn edit_and_create_run_the_editor_on_a_private_temporary_file() {
    let d = project();
    // The "editor" records the temporary file's mode and appends a line.
    let editor = write(
        d.path(),
        "ed.sh",
        "#!/bin/sh\nstat -c %a \"$1\" > \"$(dirname \"$0\")/mode\"\necho 'added: yes' >> \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ed = editor.to_str().unwrap();
    let mut c = windlass(d.path());
    c.env("EDITOR", ed);
    let args = [
        "vault",
        "create",
        "--skip-tty-check",
        "--vault-password-file",
        "pw",
        "new.yml",
    ];
    ok(&run(c, &args));
    assert_eq!(
        std::fs::read_to_string(d.path().join("mode"))
            .unwrap()
            .trim(),
        "600"
    );
    let mut c = windlass(d.path());
    c.env("EDITOR", ed);
    ok(&run(
        c,
        &[
            "vault",
            "edit",
            "--skip-tty-check",
            "--vault-password-file",
            "pw",
            "new.yml",
        ],
    ));
    let view = run(
        windlass(d.path()),
        &["vault", "view", "--vault-password-file", "pw", "new.yml"],
    );
    assert_eq!(ok(&view), "added: yes\nadded: yes\n");
    let leftover: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|t| t == "added: yes\nadded: yes\n")
        })
        .collect();
    assert!(leftover.is_empty(), "plain text left in {leftover:?}");
}

#[test]
fn encrypt_string_prints_a_named_yaml_block_that_a_playbook_reads() {
    let d = project();
    let out = run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt_string",
            "--vault-id",
            "dev@pw-dev",
            "--name",
            "token",
            "tok-123",
        ],
    );
    let block = ok(&out);
    assert!(
        block.starts_with("token: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;dev\n"),
        "{block}"
    );
    let play = format!(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    {}\n  tasks:\n    - debug:\n        msg: \"{{{{ token }}}}\"\n",
        block.trim_end().replace('\n', "\n    ")
    );
    write(d.path(), "site.yml", &play);
    let o = run(
        windlass(d.path()),
        &[
            "run",
            "site.yml",
            "--vault-id",
            "dev@pw-dev",
            "-c",
            "local",
            "--output",
            "jsonl",
        ],
    );
    assert!(ok(&o).contains("tok-123"));
}

#[test]
fn vaulted_group_vars_and_wrong_secrets_in_a_run() {
    let d = project();
    std::fs::create_dir_all(d.path().join("group_vars")).unwrap();
    write(
        d.path(),
        "group_vars/all.yml",
        "greeting: hello from the vault\n",
    );
    ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw",
            "group_vars/all.yml",
        ],
    ));
    write(d.path(), "hosts", "node1 ansible_connection=local\n");
    write(
        d.path(),
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: var=greeting\n",
    );
    let good = [
        "run",
        "site.yml",
        "-i",
        "hosts",
        "--vault-password-file",
        "pw",
        "--output",
        "jsonl",
    ];
    assert!(ok(&run(windlass(d.path()), &good)).contains("hello from the vault"));
    // ping reads the inventory's vaulted variables too.
    let ping = ["ping", "-i", "hosts", "--vault-password-file", "pw"];
    ok(&run(windlass(d.path()), &ping));
    fails(&run(windlass(d.path()), &ping[..3]));
    // So does an ad-hoc command, whose task sees them.
    let adhoc = [
        "adhoc",
        "all",
        "-m",
        "debug",
        "-a",
        "var=greeting",
        "-i",
        "hosts",
        "--vault-password-file",
        "pw",
    ];
    assert!(ok(&run(windlass(d.path()), &adhoc)).contains("hello from the vault"));
    fails(&run(windlass(d.path()), &adhoc[..8]));
    // A source that fails beside one that works is a warning event of the run.
    let mut args = good.to_vec();
    args.extend(["--vault-id", "dev@missing"]);
    let out = ok(&run(windlass(d.path()), &args));
    assert!(out.contains("hello from the vault"), "{out}");
    let warned = out
        .lines()
        .any(|l| l.contains("\"warning\"") && l.contains("dev@missing"));
    assert!(warned, "{out}");
    let none = fails(&run(
        windlass(d.path()),
        &["run", "site.yml", "-i", "hosts"],
    ));
    assert!(none.contains("all.yml:1:1"), "{none}");
    assert!(none.contains("no vault secret was given"), "{none}");
    let wrong = [
        "run",
        "site.yml",
        "-i",
        "hosts",
        "--vault-password-file",
        "pw-dev",
    ];
    let wrong = fails(&run(windlass(d.path()), &wrong));
    assert!(wrong.contains("decryption failed"), "{wrong}");
}

#[test]
fn inline_vault_errors_name_the_line_and_vault_id_match_refuses_other_ids() {
    let d = project();
    let block = ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt_string",
            "--vault-id",
            "dev@pw-dev",
            "--name",
            "x",
            "v",
        ],
    ));
    let play = format!(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    {}\n  tasks:\n    - debug: msg=start\n    - debug: msg={{{{ x }}}}\n",
        block.trim_end().replace('\n', "\n    ")
    );
    write(d.path(), "site.yml", &play);
    // The secret is right, but under another id: tried unless vault_id_match.
    let args = ["run", "site.yml", "--vault-id", "other@pw-dev"];
    ok(&run(windlass(d.path()), &args));
    // A value no secret opens fails where it is used (ansible-core 2.19's lazy
    // EncryptedString): the play starts, the task using it fails with its line.
    let out_err = |o: &Output| {
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let mut strict = windlass(d.path());
    strict.env("ANSIBLE_VAULT_ID_MATCH", "true");
    let e = out_err(&run(strict, &args));
    assert!(
        e.contains("start")
            && e.contains("Attempt to use undecryptable variable")
            && e.contains("site.yml:5:15")
            && e.contains("vault id `dev`"),
        "{e}"
    );
    // A tampered value (one cipher text digit changed: the last two payload characters are
    // the hex of one hex digit of the cipher text) fails its HMAC.
    let at = play.find("\n  tasks").unwrap() - 2;
    let swap = if &play[at..at + 2] == "30" {
        "31"
    } else {
        "30"
    };
    let tampered = format!("{}{swap}{}", &play[..at], &play[at + 2..]);
    write(d.path(), "site.yml", &tampered);
    let e = out_err(&run(windlass(d.path()), &args));
    assert!(e.contains("site.yml:5:15") && e.contains("tampered"), "{e}");
}

#[test]
fn client_scripts_get_the_vault_id_and_config_lists_secrets() {
    let d = project();
    let client = write(
        d.path(),
        "keys-client.sh",
        "#!/bin/sh\n[ \"$2\" = dev ] && { echo s3cret; exit 0; }\necho \"no $2\" >&2; exit 2\n",
    );
    std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(d.path(), "s.yml", "k: v\n");
    ok(&run(
        windlass(d.path()),
        &["vault", "encrypt", "--vault-id", "dev@pw-dev", "s.yml"],
    ));
    write(
        d.path(),
        "ansible.cfg",
        "[defaults]\nvault_identity_list = prod@keys-client.sh, dev@keys-client.sh\n",
    );
    // prod's lookup fails (a warning), dev's works.
    let o = run(windlass(d.path()), &["vault", "view", "s.yml"]);
    assert_eq!(ok(&o), "k: v\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not find a secret for vault-id=prod"));
    std::fs::remove_file(d.path().join("ansible.cfg")).unwrap();
    let mut env = windlass(d.path());
    env.env("ANSIBLE_VAULT_PASSWORD_FILE", "pw-dev");
    assert_eq!(ok(&run(env, &["vault", "view", "s.yml"])), "k: v\n");
}

#[test]
fn a_yaml_inventory_without_extension_holds_inline_vault_values() {
    let d = project();
    let block = ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "--name",
            "secret",
            "inv-value",
        ],
    ));
    let inv = format!(
        "all:\n  hosts:\n    node1:\n      {}\n",
        block.trim_end().replace('\n', "\n      ")
    );
    write(d.path(), "inventory", &inv);
    let args = [
        "inventory",
        "-i",
        "inventory",
        "--host",
        "node1",
        "--vault-password-file",
        "pw",
    ];
    assert!(ok(&run(windlass(d.path()), &args)).contains("\"secret\": \"inv-value\""));
}

#[test]
fn a_prompt_without_a_terminal_is_a_clear_error() {
    let d = project();
    write(
        d.path(),
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks: []\n",
    );
    for flags in [&["--ask-vault-pass"][..], &["--vault-id", "dev@prompt"]] {
        let mut args = vec!["run", "site.yml"];
        args.extend(flags);
        let e = fails(&run(windlass(d.path()), &args));
        assert!(
            e.contains("a vault password prompt needs a terminal"),
            "{e}"
        );
    }
}

// ---- against the real ansible-vault ---------------------------------------------------

/// An ansible-core program of the conformance venv (`.ci/run` makes it): next to
/// `$WINDLASS_ANSIBLE_PLAYBOOK` as the conformance suite finds it, else in
/// target/ansible-venv; a failure saying so when it is missing.
fn ansible_tool(name: &str, dir: &Path) -> Command {
    let playbook = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook"),
        PathBuf::from,
    );
    let p = playbook.with_file_name(name);
    assert!(
        p.is_file(),
        "{} is missing: make the venv as .ci/run does",
        p.display()
    );
    isolated(Command::new(p), dir)
}

fn ansible_vault(dir: &Path) -> Command {
    ansible_tool("ansible-vault", dir)
}

#[test]
#[ignore = "needs ansible-vault: target/ansible-venv, made by .ci/run"]
fn files_and_strings_made_by_ansible_vault_open_in_windlass() {
    let d = project();
    write(d.path(), "a.yml", "a: 1\n");
    write(d.path(), "b.yml", "b: 2\n");
    ok(&run(
        ansible_vault(d.path()),
        &["encrypt", "--vault-password-file", "pw", "a.yml"],
    ));
    ok(&run(
        ansible_vault(d.path()),
        &["encrypt", "--vault-id", "dev@pw-dev", "b.yml"],
    ));
    let both = [
        "vault",
        "view",
        "--vault-password-file",
        "pw",
        "--vault-id",
        "dev@pw-dev",
        "a.yml",
        "b.yml",
    ];
    assert_eq!(ok(&run(windlass(d.path()), &both)), "a: 1\nb: 2\n");
    let block = ok(&run(
        ansible_vault(d.path()),
        &[
            "encrypt_string",
            "--vault-id",
            "dev@pw-dev",
            "--name",
            "s",
            "from ansible",
        ],
    ));
    write(d.path(), "vars.yml", &block);
    write(d.path(), "hosts", "n ansible_connection=local\n");
    write(
        d.path(),
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars_files: [vars.yml, a.yml]\n  tasks:\n    - debug: msg=\"{{ s }} {{ a }}\"\n",
    );
    let args = [
        "run",
        "site.yml",
        "-i",
        "hosts",
        "--vault-id",
        "dev@pw-dev",
        "--vault-password-file",
        "pw",
        "--output",
        "jsonl",
    ];
    assert!(ok(&run(windlass(d.path()), &args)).contains("from ansible 1"));
}

#[test]
#[ignore = "needs ansible-vault: target/ansible-venv, made by .ci/run"]
fn files_and_strings_made_by_windlass_open_in_ansible_vault() {
    let d = project();
    write(d.path(), "a.yml", "a: 1\n");
    ok(&run(
        windlass(d.path()),
        &["vault", "encrypt", "--vault-id", "dev@pw-dev", "a.yml"],
    ));
    let view = run(
        ansible_vault(d.path()),
        &["view", "--vault-id", "dev@pw-dev", "a.yml"],
    );
    assert_eq!(ok(&view), "a: 1\n");
    let block = ok(&run(
        windlass(d.path()),
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "--name",
            "s",
            "from windlass",
        ],
    ));
    write(d.path(), "vars.yml", &block);
    write(
        d.path(),
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n    - debug: var=s\n",
    );
    let o = run(
        ansible_tool("ansible-playbook", d.path()),
        &["site.yml", "--vault-password-file", "pw"],
    );
    assert!(ok(&o).contains("from windlass"));
}

#[test]
#[ignore = "needs ansible-vault: target/ansible-venv, made by .ci/run"]
fn with_the_same_salt_windlass_writes_the_bytes_ansible_vault_writes() {
    let d = project();
    for tool in ["ansible", "windlass"] {
        write(d.path(), &format!("{tool}.yml"), "same: bytes\n");
    }
    let salted = |mut c: Command| {
        c.env("ANSIBLE_VAULT_ENCRYPT_SALT", "fixed-salt");
        c
    };
    let enc = ["encrypt", "--vault-id", "dev@pw-dev"];
    ok(&run(
        salted(ansible_vault(d.path())),
        &[&enc[..], &["ansible.yml"]].concat(),
    ));
    ok(&run(
        salted(windlass(d.path())),
        &[&["vault"][..], &enc, &["windlass.yml"]].concat(),
    ));
    assert_eq!(
        std::fs::read(d.path().join("ansible.yml")).unwrap(),
        std::fs::read(d.path().join("windlass.yml")).unwrap()
    );
    let s = [
        "encrypt_string",
        "--vault-password-file",
        "pw",
        "--name",
        "n",
        "v",
    ];
    let a = ok(&run(salted(ansible_vault(d.path())), &s));
    let w = ok(&run(
        salted(windlass(d.path())),
        &[&["vault"][..], &s].concat(),
    ));
    assert_eq!(a, w);
}

/// `encrypt_string --prompt`: a variable name (empty for none) and the string, read as
/// ansible-vault's prompts ask for them (here from a pipe, as getpass falls back to);
/// the prompts go to stderr, the block to stdout; stdin input and --prompt exclude each
/// other, and an empty string is refused.
#[test]
fn encrypt_string_prompts_for_the_name_and_the_string() {
    use std::io::Write as _;
    let d = project();
    let prompt = |input: &str, extra: &[&str]| {
        let mut c = windlass(d.path());
        c.args([
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "-p",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = prompt("my_var\ns3cret value\n", &[]);
    let block = ok(&o);
    assert!(block.starts_with("my_var: !vault |\n"), "{block}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Variable name (enter for no name): String to encrypt (hidden): "),
        "{err}"
    );
    write(d.path(), "vars.yml", &block);
    write(
        d.path(),
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n    - debug: msg=\"[{{ my_var }}]\"\n",
    );
    let o = run(
        windlass(d.path()),
        &["run", "site.yml", "--vault-password-file", "pw"],
    );
    assert!(ok(&o).contains("[s3cret value]"));
    let o = prompt("\nshown\n", &["--show-input"]);
    assert!(ok(&o).starts_with("!vault |\n"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("String to encrypt:"));
    let e = fails(&prompt("x\n", &["-"]));
    assert!(
        e.contains("not supported if also reading input from stdin"),
        "{e}"
    );
    let e = fails(&prompt("n\n\n", &[]));
    assert!(e.contains("provided from the prompt was empty"), "{e}");
}

/// `view` pages as ansible-vault does (cli/__init__.py `CLI.pager`): into a pipe it prints
/// (a line end added to text without one, as `display` does); on a terminal it pipes the
/// text to `$PAGER` (here a `sed` that marks each line), run under `script` for a
/// terminal.
#[test]
fn view_pages_on_a_terminal_and_prints_into_a_pipe() {
    let d = project();
    write(d.path(), "v.yml", "a: 1");
    ok(&run(
        windlass(d.path()),
        &["vault", "encrypt", "--vault-password-file", "pw", "v.yml"],
    ));
    let piped = run(
        windlass(d.path()),
        &["vault", "view", "--vault-password-file", "pw", "v.yml"],
    );
    assert_eq!(ok(&piped), "a: 1\n");
    let bin = env!("CARGO_BIN_EXE_windlass");
    let mut c = isolated(Command::new("script"), d.path());
    c.args([
        "-qec",
        &format!("{bin} vault view --vault-password-file pw v.yml"),
        "/dev/null",
    ])
    .env("PAGER", "sed 's/^/paged:/'");
    let o = c.output().expect("util-linux `script` runs");
    let out = ok(&o);
    assert!(out.contains("paged:a: 1"), "{out:?}");
}
