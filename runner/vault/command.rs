//! `windlass vault`: ansible-vault's `create`, `encrypt`, `decrypt`, `view`, `edit`, `rekey`
//! and `encrypt_string`, writing what ansible-vault writes.
//!
//! Why this file exists: a team moving to windlass keeps its vault files and must be able to
//! make and change them without Ansible installed. The behaviour follows ansible-core 2.19
//! (lib/ansible/cli/vault.py, and `VaultEditor` in lib/ansible/parsing/vault/__init__.py):
//! files are rewritten as new files of mode 0600 (an edited or rekeyed file keeps its mode),
//! `edit`/`create` run `$EDITOR` on a private temporary file that is overwritten before it is
//! removed, and "… successful" goes to stderr only when stdout is a terminal.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::args::{VaultArgs, VaultConfig};
use super::envelope::Envelope;
use super::{Vault, VaultError};
use crate::config::Config;
use crate::error::{Error, Result};

/// `windlass vault ACTION`.
#[derive(Debug, Args)]
pub struct VaultCommand {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The actions of `windlass vault`.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Create a new vault file with $EDITOR.
    Create(EditArgs),
    /// Encrypt files in place (or stdin to stdout, or to --output).
    Encrypt(FileArgs),
    /// Decrypt files in place (or stdin to stdout, or to --output).
    Decrypt(FileArgs),
    /// Print the plain text of vault files.
    View(FileArgs),
    /// Edit vault files with $EDITOR, keeping their vault id.
    Edit(EditArgs),
    /// Encrypt vault files again with a new secret.
    Rekey(RekeyArgs),
    /// Encrypt strings as `!vault` YAML values to paste into vars files.
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString(StringArgs),
}

/// Options of every action.
#[derive(Debug, Args)]
pub struct Common {
    /// The secrets.
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The vault id to encrypt with, when several secrets are given
    /// (`vault_encrypt_identity` in the configuration).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
}

/// `encrypt`, `decrypt`, `view`.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The files (none or `-`: stdin).
    pub files: Vec<PathBuf>,
    /// Write the result here instead (`-`: stdout).
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Secrets.
    #[command(flatten)]
    pub common: Common,
}

/// `create`, `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Open the editor even when stdout is not a terminal.
    #[arg(long = "skip-tty-check")]
    pub skip_tty_check: bool,
    /// Secrets.
    #[command(flatten)]
    pub common: Common,
}

/// `rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// The files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The new secret, `[LABEL@]SOURCE`.
    #[arg(long = "new-vault-id", value_name = "[LABEL@]SOURCE")]
    pub new_vault_id: Option<String>,
    /// The new password file.
    #[arg(long = "new-vault-password-file", value_name = "FILE")]
    pub new_vault_password_file: Option<PathBuf>,
    /// Secrets.
    #[command(flatten)]
    pub common: Common,
}

/// `encrypt_string`.
#[derive(Debug, Args)]
pub struct StringArgs {
    /// The strings (`-` or none with --stdin-name: read stdin).
    pub strings: Vec<String>,
    /// Variable names for the strings, in order (repeatable).
    #[arg(short = 'n', long = "name")]
    pub names: Vec<String>,
    /// Read the string from stdin and name it this.
    #[arg(long = "stdin-name", value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Prompt for a variable name and the string to encrypt (not with stdin input).
    #[arg(short = 'p', long = "prompt")]
    pub prompt: bool,
    /// Do not hide the string typed at the prompt.
    #[arg(long = "show-input")]
    pub show_input: bool,
    /// Write the result here instead of stdout.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Secrets.
    #[command(flatten)]
    pub common: Common,
}

/// Run one `windlass vault` action; the process exit code.
pub fn run(cmd: VaultCommand, cfg: &Config) -> Result<i32> {
    let pager = pager(cfg.pager.clone(), std::env::var("PAGER").ok());
    let cfg = &cfg.vault;
    match cmd.action {
        Action::Create(a) => create(&a, cfg)?,
        Action::Encrypt(a) => encrypt(&a, cfg)?,
        Action::Decrypt(a) => decrypt(&a, cfg)?,
        Action::View(a) => view(&a, cfg, &pager)?,
        Action::Edit(a) => edit(&a, cfg)?,
        Action::Rekey(a) => rekey(&a, cfg)?,
        Action::EncryptString(a) => encrypt_string(&a, cfg)?,
    }
    Ok(0)
}

/// The secrets `args` name (a prompt when nothing names one; `confirm`: a new password),
/// their warnings printed as ansible-vault prints them.
fn gather(args: &VaultArgs, cfg: &VaultConfig, confirm: bool) -> Result<Vault> {
    let mut v = args.keyring(cfg, true, confirm)?;
    for w in v.take_warnings() {
        eprintln!("[WARNING]: {w}");
    }
    Ok(v)
}

/// The secrets to decrypt with (a prompt when nothing names one).
fn opening(c: &Common, cfg: &VaultConfig) -> Result<Vault> {
    let v = gather(&c.vault, cfg, false)?;
    if v.is_empty() {
        return Err(Error::Usage("a vault password is required".into()));
    }
    Ok(v)
}

/// The secrets and the vault id to encrypt with (a new-password prompt when nothing names
/// one; with several secrets an id must be chosen).
fn sealing(c: &Common, cfg: &VaultConfig) -> Result<(Vault, Option<String>)> {
    let v = gather(&c.vault, cfg, true)?;
    let id = c.encrypt_vault_id.clone().or(cfg.encrypt_identity.clone());
    if v.ids().len() > 1 && id.is_none() {
        return Err(Error::Usage(format!(
            "the vault-ids {} are available to encrypt; choose one with --encrypt-vault-id",
            v.ids().join(",")
        )));
    }
    if v.is_empty() {
        return Err(Error::Usage("a vault password is required".into()));
    }
    Ok((v, id))
}

fn success(what: &str) {
    if std::io::stdout().is_terminal() {
        eprintln!("{what} successful");
    }
}

fn encrypt(a: &FileArgs, cfg: &VaultConfig) -> Result<()> {
    let (v, id) = sealing(&a.common, cfg)?;
    for f in inputs(&a.files) {
        let plain = read(&f)?;
        let text = v.encrypt(&plain, id.as_deref())?;
        write_private(a.output.as_deref().unwrap_or(&f), text.as_bytes())?;
    }
    success("Encryption");
    Ok(())
}

fn decrypt(a: &FileArgs, cfg: &VaultConfig) -> Result<()> {
    let v = opening(&a.common, cfg)?;
    for f in inputs(&a.files) {
        let plain = open(&v, &f)?.0;
        write_private(a.output.as_deref().unwrap_or(&f), &plain)?;
    }
    success("Decryption");
    Ok(())
}

fn view(a: &FileArgs, cfg: &VaultConfig, pager: &str) -> Result<()> {
    let v = opening(&a.common, cfg)?;
    for f in &a.files {
        let plain = open(&v, f)?.0;
        show(&String::from_utf8_lossy(&plain), pager);
    }
    Ok(())
}

/// The pager `view` uses: `PAGER`, else `pager`/`ANSIBLE_PAGER`, else `less`
/// (config/base.yml `PAGER`: the last of its sources set wins).
fn pager(configured: Option<String>, env: Option<String>) -> String {
    env.or(configured).unwrap_or_else(|| "less".into())
}

/// Show `text` as cli/__init__.py `CLI.pager` does: not a terminal, printed (with a line
/// end added, as `display`); else through `pager` (run by `sh -c`, `LESS=FRSX` when it is a
/// less), or `less` if it is empty and there is one, else printed.
fn show(text: &str, pager: &str) {
    let printed = || match text.ends_with('\n') {
        true => print!("{text}"),
        false => println!("{text}"),
    };
    if !std::io::stdout().is_terminal() {
        return printed();
    }
    let cmd = match pager {
        "" if has_less() => "less",
        "" => return printed(),
        p => p,
    };
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(cmd).stdin(std::process::Stdio::piped());
    if cmd.contains("less") {
        c.env("LESS", "FRSX");
    }
    // As Ansible: a pager that cannot start or is interrupted shows nothing more.
    if let Ok(mut child) = c.spawn() {
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(text.as_bytes());
        }
        let _ = child.wait();
    }
}

fn has_less() -> bool {
    std::process::Command::new("sh")
        .args(["-c", "less --version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn rekey(a: &RekeyArgs, cfg: &VaultConfig) -> Result<()> {
    let v = opening(&a.common, cfg)?;
    let id = a
        .common
        .encrypt_vault_id
        .clone()
        .or(cfg.encrypt_identity.clone());
    let new_args = VaultArgs {
        vault_id: a.new_vault_id.iter().cloned().collect(),
        vault_password_file: a.new_vault_password_file.iter().cloned().collect(),
        ask_vault_pass: a.common.vault.ask_vault_pass,
    };
    let new_cfg = VaultConfig {
        identity_list: if id.is_some() {
            cfg.identity_list.clone()
        } else {
            vec![]
        },
        password_file: None,
        ..cfg.clone()
    };
    let new = gather(&new_args, &new_cfg, true)?;
    for f in &a.files {
        let mode = std::fs::metadata(f)
            .map_err(|e| Error::io(f, e))?
            .permissions();
        let plain = open(&v, f)?.0;
        let text = new.encrypt(&plain, id.as_deref())?;
        write_private(f, text.as_bytes())?;
        std::fs::set_permissions(f, mode).map_err(|e| Error::io(f, e))?;
    }
    eprintln!("Rekey successful");
    Ok(())
}

/// `files`, or stdin (`-`) when there are none.
fn inputs(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        return vec![PathBuf::from("-")];
    }
    files.to_vec()
}

fn is_std(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn read(p: &Path) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    if is_std(p) {
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| Error::io(p, e))?;
        return Ok(data);
    }
    std::fs::read(p).map_err(|e| Error::io(p, e))
}

/// What [`open`] yields: the plain text, the vault id the header names, the id of the
/// secret that opened it.
type Opened = (Vec<u8>, Option<String>, String);

/// The plain text of vault file `p`.
fn open(v: &Vault, p: &Path) -> Result<Opened> {
    let data = read(p)?;
    let text = String::from_utf8_lossy(&data);
    let with_file = |e: VaultError| Error::Other(format!("{e} for {}", p.display()));
    if !super::is_encrypted(&data) {
        return Err(with_file(VaultError::Format(
            "input is not vault encrypted data".into(),
        )));
    }
    let header_id = Envelope::parse(&text).map_err(with_file)?.vault_id;
    let (plain, used) = v.decrypt(&text).map_err(with_file)?;
    Ok((plain, header_id, used.to_string()))
}

/// Write `data` to `p` (`-`: stdout) as a new file of mode 0600, as `write_data` does.
fn write_private(p: &Path, data: &[u8]) -> Result<()> {
    if is_std(p) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|_| out.flush())
            .map_err(|e| Error::io(p, e));
    }
    if p.is_file() {
        std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| Error::io(p, e))?;
    f.write_all(data).map_err(|e| Error::io(p, e))
}

fn create(a: &EditArgs, cfg: &VaultConfig) -> Result<()> {
    let [file] = a.files.as_slice() else {
        return Err(Error::Usage("vault create takes one file".into()));
    };
    tty_check(a.skip_tty_check)?;
    if file.is_file() {
        return Err(Error::Usage(format!(
            "{} exists, please use 'edit' instead",
            file.display()
        )));
    }
    let (v, id) = sealing(&a.common, cfg)?;
    if let Some(dir) = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        eprintln!("[WARNING]: {} does not exist, creating...", dir.display());
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let Some(plain) = run_editor(file, None)? else {
        return Ok(());
    };
    let text = v.encrypt(&plain, id.as_deref())?;
    write_private(file, text.as_bytes())
}

fn edit(a: &EditArgs, cfg: &VaultConfig) -> Result<()> {
    tty_check(a.skip_tty_check)?;
    let v = opening(&a.common, cfg)?;
    for f in &a.files {
        let mode = std::fs::metadata(f)
            .map_err(|e| Error::io(f, e))?
            .permissions();
        let (old, header_id, used) = open(&v, f)?;
        let Some(new) = run_editor(f, Some(&old))? else {
            continue;
        };
        // The secret that opened it, the header's vault id kept (`edit_file`).
        let text = v.encrypt_labelled(&new, &used, header_id.as_deref())?;
        write_private(f, text.as_bytes())?;
        std::fs::set_permissions(f, mode).map_err(|e| Error::io(f, e))?;
    }
    Ok(())
}

fn tty_check(skip: bool) -> Result<()> {
    if skip || std::io::stdout().is_terminal() {
        return Ok(());
    }
    Err(Error::Usage("not a tty, editor cannot be opened".into()))
}

/// Run the editor on a private temporary file holding `old`; the new content, or `None`
/// when an existing file's content did not change.
fn run_editor(file: &Path, old: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
    let ext = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .suffix(&ext)
        .tempfile()
        .map_err(|e| Error::Other(format!("cannot make a temporary file: {e}")))?;
    let path = tmp.path().to_path_buf();
    let result = edit_in(&path, old);
    shred(&path);
    let new = result?;
    Ok((old != Some(new.as_slice())).then_some(new))
}

fn edit_in(path: &Path, old: Option<&[u8]>) -> Result<Vec<u8>> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(path, e))?;
    if let Some(old) = old {
        std::fs::write(path, old).map_err(|e| Error::io(path, e))?;
    }
    let editor = editor();
    let mut words = shlex::split(&editor)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| Error::Usage(format!("cannot split the editor command `{editor}`")))?;
    let program = words.remove(0);
    let status = std::process::Command::new(&program)
        .args(&words)
        .arg(path)
        .status()
        .map_err(|e| Error::Other(format!("unable to execute the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(Error::Other(format!(
            "the editor `{editor}` failed ({status})"
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// `ANSIBLE_EDITOR`, else `EDITOR`, else `vi` (the `EDITOR` setting).
fn editor() -> String {
    ["ANSIBLE_EDITOR", "EDITOR"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".into())
}

/// Overwrite the plain text with zeros before the file is removed.
fn shred(path: &Path) {
    if let Ok(len) = std::fs::metadata(path).map(|m| m.len()) {
        let _ = std::fs::write(path, vec![0u8; len as usize]);
    }
}

fn encrypt_string(a: &StringArgs, cfg: &VaultConfig) -> Result<()> {
    let (v, id) = sealing(&a.common, cfg)?;
    let items = string_inputs(a)?;
    let several = items.len() > 1;
    let mut out = Vec::new();
    for (i, (plain, src, name)) in items.iter().enumerate() {
        let text = v.encrypt(plain, id.as_deref())?;
        if several {
            eprint!("{}", delimiter(i + 1, src, name.as_deref()));
        }
        out.push(yaml_block(&text, name.as_deref()));
    }
    out.push(String::new());
    write_private(
        a.output.as_deref().unwrap_or(Path::new("-")),
        out.join("\n").as_bytes(),
    )?;
    success("Encryption");
    Ok(())
}

/// `format_ciphertext_yaml`: `[name: ]!vault |` and the vault text indented by 10.
pub fn yaml_block(text: &str, name: Option<&str>) -> String {
    let mut lines = vec![match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_string(),
    }];
    lines.extend(text.lines().map(|l| format!("{}{l}", " ".repeat(10))));
    lines.join("\n")
}

fn delimiter(index: usize, src: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!(
            "# The encrypted version of variable (\"{n}\", the string #{index} from {src}).\n"
        ),
        None => format!("# The encrypted version of the string #{index} from {src}.)\n"),
    }
}

type Plain = (Vec<u8>, &'static str, Option<String>);

/// The strings to encrypt: the prompt's or stdin (when asked for), then the arguments
/// with their names in order (`execute_encrypt_string`).
fn string_inputs(a: &StringArgs) -> Result<Vec<Plain>> {
    let args: Vec<&String> = a.strings.iter().filter(|s| *s != "-").collect();
    let mut items = Vec::new();
    let stdin = a.stdin_name.is_some()
        || a.strings.iter().any(|s| s == "-")
        || (a.strings.is_empty() && !a.prompt);
    if a.prompt && stdin {
        return Err(Error::Usage(
            "The --prompt option is not supported if also reading input from stdin".into(),
        ));
    }
    if a.prompt {
        items.push(prompted(a.show_input)?);
    }
    if stdin {
        let data = read(Path::new("-"))?;
        if data.is_empty() {
            return Err(Error::Usage("stdin was empty, not encrypting".into()));
        }
        items.push((data, "stdin", a.stdin_name.clone()));
    }
    for (i, s) in args.iter().enumerate() {
        if s.is_empty() {
            return Err(Error::Usage(
                "the plaintext provided from the command line args was empty, not encrypting"
                    .into(),
            ));
        }
        let name = a.names.get(i).cloned();
        items.push((s.as_bytes().to_vec(), "the command line args", name));
    }
    Ok(items)
}

/// `--prompt`: a variable name (empty: none), then the string, hidden unless
/// `show_input`, with ansible-vault's prompts (on stderr; echo off on a terminal).
fn prompted(show_input: bool) -> Result<Plain> {
    let name = prompt_line("Variable name (enter for no name): ", false)?;
    let msg = match show_input {
        true => "String to encrypt:",
        false => "String to encrypt (hidden): ",
    };
    let text = prompt_line(msg, !show_input)?;
    if text.is_empty() {
        return Err(Error::Usage(
            "The plaintext provided from the prompt was empty, not encrypting".into(),
        ));
    }
    let name = Some(name).filter(|n| !n.is_empty());
    Ok((text.into_bytes(), "the interactive prompt", name))
}

/// One line of stdin after `msg`, without its line end.
fn prompt_line(msg: &str, hidden: bool) -> Result<String> {
    eprint!("{msg}");
    let tty = hidden && std::io::stdin().is_terminal();
    if tty {
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let r = std::io::stdin().read_line(&mut line);
    if tty {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    r.map_err(|e| Error::Other(format!("cannot read the prompt's answer: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_blocks_are_indented_as_ansible_vault_prints_them() {
        let text = "$ANSIBLE_VAULT;1.1;AES256\nabc\n";
        assert_eq!(
            yaml_block(text, Some("token")),
            "token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          abc"
        );
        assert!(yaml_block(text, None).starts_with("!vault |\n"));
    }

    #[test]
    fn written_files_are_private_and_replace_the_old_one() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
