//! A bounded, deterministic fuzz pass over the parsers, run by every `cargo test`.
//!
//! A unit test (not in `tests/`) because it reaches parsers that are not public API: the
//! YAML reader, the file facts and the probe-reply parsers.
//!
//! The coverage-guided targets live in `fuzz/` (cargo-fuzz, nightly); this smoke test
//! needs neither: a fixed-seed PRNG mutates a small corpus of valid inputs (byte flips,
//! inserted YAML/Jinja tokens, cuts, repeats) and feeds each mutant to `yaml::parse`,
//! `Inventory::parse_str`, `load_playbook_str` and `Templar::render_str`. Every call must
//! return (an error is fine) without panicking, within a time bound.
//! File probe replies go to `fileops::parse_facts`, which must also never take a path
//! from the reply.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::inventory::Inventory;
use crate::modules::Registry;
use crate::playbook::{Loader, load_playbook_str};
use crate::template::{MapVars, Templar, Vars};

/// Mutants per corpus entry.
const ROUNDS: usize = 1500;
/// The slowest any single call may be.
const SLOW: Duration = Duration::from_secs(2);

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "|",
    ":",
    ": ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\n  ",
    "\t",
    "'",
    "\"",
    "\\",
    "&a ",
    "*a",
    "!!str ",
    "!!python/object ",
    "? ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "<<: ",
    "~",
    "null",
    "yes",
    "0x",
    "1e999",
    "=",
    "[a:b]",
    "[1:3]",
    "[0:99999999999]",
    "ansible_host=",
    "children",
    "vars",
    "hosts",
    "tasks",
    "block",
    "include_tasks: ",
    "loop: ",
    "when: ",
    "{% for x in y %}",
    "{% endfor %}",
    "{% if %}",
    "{{ x | default(",
    ")",
    "(",
    "\u{feff}",
    "\u{0}",
    "é",
    "\r\n",
    "@@",
    "\n@@00112233445566778899aabbccddeeff ",
    "\u{1}",
    "\t",
    "rc=",
    "WL_MATCH\n",
    ": Warning: Cannot stat: No such file or directory",
    "\r\n\r\n",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut b: Vec<u8> = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            2 => b.truncate(at),
            3 if !b.is_empty() => {
                let end = (at + rng.below(40)).min(b.len());
                let chunk = b[at.min(end)..end].to_vec();
                b.splice(at..at, chunk);
            }
            4 if at < b.len() => {
                let end = (at + rng.below(8)).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.extend_from_slice(t);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Feed mutants of `seeds` to `f`; report the first panic or slow call with its input.
fn fuzz(name: &str, seed: u64, seeds: &[&str], f: impl Fn(&str)) {
    let mut rng = Rng(seed);
    let mut slowest = Duration::ZERO;
    for s in seeds {
        for round in 0..ROUNDS {
            let input = if round == 0 {
                s.to_string()
            } else {
                mutate(&mut rng, s)
            };
            let t0 = Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| f(&input)));
            let took = t0.elapsed();
            assert!(r.is_ok(), "{name}: panicked on input {input:?}");
            assert!(took < SLOW, "{name}: {took:?} on input {input:?}");
            slowest = slowest.max(took);
        }
    }
    eprintln!(
        "{name}: {} inputs, slowest {slowest:?}",
        seeds.len() * ROUNDS
    );
}

const YAML_SEEDS: &[&str] = &[
    "a: 1\nb: [x, y]\nc: {d: e}\n",
    "- &x {a: 1}\n- *x\n- <<: *x\n  b: 2\n",
    "key: |\n  line1\n  line2\nother: >-\n  folded\n",
    "%YAML 1.1\n---\n? complex\n: value\n...\n",
    "s: 'single ''q'''\nd: \"esc \\t \\u00e9\"\nn: ~\nb: yes\no: 0o17\nh: 0x1F\nf: 1.5e3\n",
];

const INVENTORY_SEEDS: &[&str] = &[
    "[web]\nw[1:3].example ansible_port=22\n[db]\nd1 x=1 y='two words'\n[all:children]\nweb\ndb\n[web:vars]\nk=v\n",
    "all:\n  vars:\n    a: 1\n  hosts:\n    h1:\n      ansible_host: 10.0.0.1\n  children:\n    g:\n      hosts:\n        h[01:03]:\n",
    "h1 ansible_connection=local\nh2\n[g]\nh1\n",
];

const PLAYBOOK_SEEDS: &[&str] = &[
    "- hosts: all\n  gather_facts: false\n  vars:\n    x: 1\n  tasks:\n    - name: t\n      command: echo {{ x }}\n      register: r\n      when: x == 1\n      notify: h\n    - debug: var=r\n  handlers:\n    - name: h\n      debug: msg=hi\n",
    "- hosts: web\n  serial: [1, 50%]\n  tasks:\n    - block:\n        - fail: msg=x\n      rescue:\n        - debug: msg=r\n      always:\n        - debug: msg=a\n    - shell: echo {{ item }}\n      loop: [1, 2]\n      loop_control: {loop_var: i}\n",
    "- import_playbook: other.yml\n- hosts: all\n  roles:\n    - role: r1\n      vars: {a: 1}\n",
];

const TEMPLATE_SEEDS: &[&str] = &[
    "{{ a }} and {{ b | default('x') | upper }}",
    "{% for i in items %}{{ loop.index }}={{ i }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{{ d | dict2items | map(attribute='key') | list | join(',') }}",
    "{# c #}{% set x = a ~ 'y' %}{{ x | regex_replace('(y)', '\\\\1z') }}{{ '%05d' | format(3) }}",
    "{{ hostvars[inventory_hostname]['a'] }} {{ groups['all'] | length }} {{ lookup('env', 'HOME') is string }}",
];

#[test]
fn yaml_parse_survives_mutants() {
    fuzz("yaml::parse", 0x5eed_0001, YAML_SEEDS, |s| {
        let _ = crate::yaml::parse(s, Path::new("fuzz.yml"));
    });
}

#[test]
fn inventory_parse_survives_mutants() {
    let mut seeds: Vec<&str> = INVENTORY_SEEDS.to_vec();
    seeds.extend(YAML_SEEDS);
    for (name, ext) in [("ini", "hosts"), ("yaml", "hosts.yml")] {
        fuzz(
            &format!("Inventory::parse_str ({name})"),
            0x5eed_0002,
            &seeds,
            |s| {
                let _ = Inventory::parse_str(s, Path::new(ext));
            },
        );
    }
}

#[test]
fn playbook_load_survives_mutants() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.yml");
    let loader = Loader::new(Arc::new(Registry::builtin()), vec![]);
    fuzz("load_playbook_str", 0x5eed_0003, PLAYBOOK_SEEDS, |s| {
        let _ = load_playbook_str(s, &path, &loader);
    });
}

#[test]
fn template_render_survives_mutants() {
    let templar = Templar::new();
    let vars: Arc<dyn Vars> = Arc::new(MapVars::new(serde_json::json!({
        "a": "A", "b": null, "items": [1, "two", {"k": 3}], "d": {"x": 1, "y": [2]},
        "inventory_hostname": "h1",
    })));
    fuzz("Templar::render_str", 0x5eed_0004, TEMPLATE_SEEDS, |s| {
        let _ = templar.render_str(s, &vars, None);
    });
}

const FILE_FACTS_SEEDS: &[&str] = &[
    "kind=absent\0",
    "kind=file\0size=6\0mode=644\0uid=0\0gid=0\0owner=root\0group=root\0mtime=1\0inode=2\0nlink=1\0checksum=f572d396fae9206628714fb2ce00f72e94f2258f\0--windlass-content--\0hello\n",
    "into_dir=1\0kind=link\0target=a\nkind=file\0size=1\0mode=777\0uid=0\0gid=0\0owner=a\nb\0group=g\0mtime=-1\0inode=2\0nlink=1\0parent=1\0recurse_mode=f644\0",
    "path=/x\nkind=file\nsize=6\n--windlass-content--\nx",
];

#[test]
fn file_facts_parse_survives_mutants() {
    use crate::modules::fileops::parse_facts;
    use crate::transport::ExecOutput;
    fuzz("fileops::parse_facts", 0x5eed_0005, FILE_FACTS_SEEDS, |s| {
        let out = ExecOutput {
            rc: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: Vec::new(),
        };
        match parse_facts("/sent", &out) {
            Ok(f) => assert_eq!(f.path, "/sent"),
            Err(e) => assert!(e.starts_with("unexpected probe output"), "{e}"),
        }
    });
}

// The parsers of probe replies (apt, uri, user, setup, …) get the same treatment through
// `modules::reply_fuzz::feed`, the entry the `probe_replies` cargo-fuzz target uses.

/// Replies to probes, one per parser of `modules::reply_fuzz::PARSERS` (same order): the
/// sections as `name\nbody` pieces separated by `\x01`, or (`raw`) the reply itself.
fn reply_seeds() -> Vec<String> {
    let setup = include_str!("../tests/fixtures/facts/debian12.txt")
        .trim_start_matches("\n@@")
        .replace("\n@@", "\u{1}");
    let pieces: Vec<(bool, String)> = vec![
        (false, "aptget\n/usr/bin/apt-get\n\u{1}now\n100\n\u{1}stamp\n1\n\u{1}dpkg\na\tinstall ok installed\t1.0\nb\tinstall ok installed\t1.2\n\u{1}policy\na:\n  Installed: 1.0\n  Candidate: 1.1\n  Version table:\n     1.1 500\n        500 http://x stable/main amd64 Packages\n *** 1.0 100\n\u{1}deb\nx\t1.0\n\u{1}debrc\n0\n\u{1}end\n".into()),
        (false, "file\n/etc/apt/keyrings/k.gpg\0mDMEYAAAABYJKwYBBAHaRw8BAQdA\u{1}keyfile\nmDMEYAAAABYJKwYBBAHaRw8BAQdA\n\u{1}end\n".into()),
        (false, "file\n/etc/apt/sources.list\0ZGViIGh0dHBzOi8veC8gc3RhYmxlIG1haW4K\u{1}aptget\n/usr/bin/apt-get\n".into()),
        (false, "file\n/etc/apt/sources.list.d/k.sources\0VHlwZXM6IGRlYgo=\u{1}download\nS0VZ\n\u{1}end\n".into()),
        (false, "selection\ninstall".into()),
        (false, "isdir\n\u{1}curl\n\u{1}parent\n\u{1}stat\n755\0root\0root\0\u{1}sum\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\u{1}end\n".into()),
        (false, "gid\n998".into()),
        (false, "etc\nold\n\u{1}current\nold\n\u{1}init\nsystemd\n\u{1}hostnamectl\n/usr/bin/hostnamectl\n\u{1}end\n".into()),
        (false, "loaded\nproc\nsys\n\u{1}files\n\u{1}file\n/etc/modules-load.d/k8s.conf\0YnJfbmV0ZmlsdGVyCg==\u{1}file\n/etc/modprobe.d/br_netfilter.conf\0b3B0aW9ucyBicl9uZXRmaWx0ZXIgYT0xCg==\u{1}end\n".into()),
        (false, "init\nsystemd\n\u{1}systemctl\n/usr/bin/systemctl\n\u{1}show\nId=kubelet.service\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n\u{1}enabled\ndisabled\nrc=1\n".into()),
        (false, "start\n\u{1}file\n/etc/sysctl.d/k8s.conf\0bmV0LmlwdjQuaXBfZm9yd2FyZCA9IDAK\u{1}proc\n0\n".into()),
        (false, "diff\n./\n./bridge\ntar: ./bridge: Warning: Cannot stat: No such file or directory\n./x: Mod time differs\n./y: Uid differs\n\u{1}rc\n1".into()),
        (false, "summary\n200 1 http://h/x\u{1}rc\n0\u{1}stderr\n\u{1}headers\nHTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n\u{1}dest\n\u{1}body\n{\"a\": [1, 2]}".into()),
        (false, "passwd\nwl:x:2345:2345:W L:/home/wl:/bin/sh\n\u{1}shadow\n!\n\u{1}groups\nwl docker\n\u{1}groupdb\nwl:x:2345:\ndocker:x:998:\nadm:x:4:\n\u{1}end\n".into()),
        (false, setup),
        (true, "WL_OK\nWL_MATCH\nserver ready on 6443\n".into()),
        (true, "motd\n@@00112233445566778899aabbccddeeff\n\n@@00112233445566778899aabbccddeeff file\n/x\0eA==\n@@00112233445566778899aabbccddeeff end\n".into()),
        (true, "Reading package lists...\n0 upgraded, 2 newly installed, 0 to remove and 1 not upgraded.\n@@cache_update_time\n1700000000\n".into()),
        (false, "path\n/root/.ssh/known_hosts\u{1}keygen\n\u{1}exists\n\u{1}stat\nregular file\u{0}1\u{0}0\u{0}0\u{0}root\u{0}root\u{0}644\u{0}93\u{1}content\nZXhhbXBsZS5jb20gc3NoLXJzYSBBQUFBCg==\u{1}search\n# Host example.com found: line 1 \nexample.com ssh-rsa AAAA\n\u{1}search_rc\n0\u{1}search_err\n\u{1}key_match\nx".into()),
        (false, "user\n1000\u{0}1000\u{0}/home/ops\u{1}keyfile\n/home/ops/.ssh/authorized_keys\u{1}content\nIyBrZXlzCnNzaC1yc2EgQUFBQSBvcHMK\u{1}fetched\nc3NoLXJzYSBBQUFBIG9wcwo=".into()),
        (false, "crontab\n\u{1}text\nMAILTO=\"\"\n#Ansible: j\n* * * * * true\n\u{1}rc\n0\u{1}file\nA=1\n#Ansible: j\n@daily root true\n".into()),
        (false, "fstab\nL2Rldi94IC9tbnQvYVwwNDBiIGV4dDQgZGVmYXVsdHMgMCAwCg==\u{1}exists\n\u{1}mountinfo\n22 1 0:21 / / rw - overlay overlay rw\n40 22 0:35 / /tmp rw - tmpfs tmpfs rw\n78 40 0:35 /a /mnt/a\\040b rw - tmpfs tmpfs rw\n".into()),

        (false, "out\n127.0.0.1 localhost\n127.0.0.1 a b\n\u{1}rc\n0".into()),
        (false, "now\n1000.5\n\u{1}walk\nd\0x.c\0f\0f\x00644\x000\x000\0root\0root\x003\x001\x002\x001\x00900.5\x00900.5\x00900.5\0sub\0d\0d\x00755\x000\x000\0\0\x004096\x002\x002\x002\x001\x001\x001\0\u{1}extra\nx.c\0abc\0YQ==\0\u{1}walk\nn\0".into()),
        (false, "sep\n00112233445566778899aabbccddeeff\u{1}arch\namd64\n\u{1}dpkg\nii @00112233445566778899aabbccddeeff@a@00112233445566778899aabbccddeeff@amd64@00112233445566778899aabbccddeeff@1.0@00112233445566778899aabbccddeeff@admin@00112233445566778899aabbccddeeff@\u{1}files\n 500 file:/r ./ Packages\n     release o=Debian\n\u{1}policy\na:\n *** 1.0 500\n        500 file:/r ./ Packages\n".into()),
        (false, "sysv_rc\n0\u{1}sysv\n [ + ]  cron\n\u{1}units_rc\n0\u{1}units\ncron.service loaded active running C\n\u{1}files_rc\n0\u{1}files\ncron.service enabled enabled\nx.service static -\n\u{1}show\nx.service\0ok\0ActiveState=inactive".into()),
        (false, "show\n* p/q: a, b\n\u{1}show_err\n\u{1}show_rc\n0\u{1}sel\np\tp/q\tpassword\tx\n\u{1}sel_err\n\u{1}sel_rc\n0".into()),
        (false, "path\n/usr/bin/timedatectl\u{1}usable\n0\u{1}status\n  Time zone: Etc/UTC (UTC, +0000)\n  RTC in local TZ: no\n\u{1}zonefile\nyes".into()),
    ];
    assert_eq!(pieces.len(), crate::modules::reply_fuzz::PARSERS.len());
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, (raw, body))| {
            format!(
                "{}{}{body}",
                char::from(i as u8),
                if raw { '\u{1}' } else { '\u{0}' }
            )
        })
        .collect()
}

#[test]
fn probe_replies_survive_mutants() {
    let seeds = reply_seeds();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    fuzz("modules::reply_fuzz::feed", 0x5eed_0006, &seeds, |s| {
        crate::modules::reply_fuzz::feed(s.as_bytes());
    });
}
