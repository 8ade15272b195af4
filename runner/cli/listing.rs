//! `windlass run --list-hosts / --list-tasks / --list-tags`: what a run would touch, printed
//! as ansible-playbook prints it, without connecting to any host.
//!
//! Why this module exists: users (and scripts) compare these listings with
//! ansible-playbook's to check that a move changes nothing, so the layout follows
//! `cli/playbook.py` (`run`: the play line with its `TAGS:`, the tasks `--tags` and
//! `--skip-tags` select, each block's `block:` tasks only, `TASK TAGS:` with the sorted
//! union of the play's tags and its selected tasks').

use std::collections::{BTreeSet, HashSet};

use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::playbook::task::TaskNode;
use crate::playbook::{Play, Playbook};

/// Which listings were asked for, and the tag selection.
#[derive(Clone, Debug)]
pub(super) struct Listings {
    /// `--tags`; with `--list-tags` and neither `--tags` nor `--skip-tags`, `never` and
    /// `all` (every task: cli/playbook.py `post_process_args`).
    pub only: Vec<String>,
    /// `--skip-tags`.
    pub skip: Vec<String>,
    /// `--list-hosts`.
    pub hosts: bool,
    /// `--list-tasks`.
    pub tasks: bool,
    /// `--list-tags`.
    pub tags: bool,
}

/// Print the listings of `playbook` (its plays' hosts under `limit`).
pub(super) fn print(
    playbook: &Playbook,
    inventory: &Inventory,
    limit: Option<&str>,
    what: &Listings,
) -> Result<()> {
    println!("\nplaybook: {}", playbook.path.display());
    for (i, play) in playbook.plays.iter().enumerate() {
        println!(
            "\n  play #{} ({}): {}\tTAGS: [{}]",
            i + 1,
            play.hosts,
            play.name,
            join(&play.kw.tags)
        );
        if what.hosts {
            let hosts = play_hosts(play, inventory, limit)?;
            println!(
                "    pattern: ['{}']\n    hosts ({}):",
                play.hosts,
                hosts.len()
            );
            for h in &hosts {
                println!("      {h}");
            }
        }
        if what.tasks {
            println!("    tasks:");
        }
        let mut tags = play.kw.tags.clone();
        for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            walk(section, what, &mut tags);
        }
        if what.tags {
            println!("      TASK TAGS: [{}]", join(&tags));
        }
    }
    Ok(())
}

/// The hosts a run of `play` would select: names that match nothing leave the play
/// without those hosts, as a run does.
fn play_hosts(play: &Play, inventory: &Inventory, limit: Option<&str>) -> Result<Vec<String>> {
    let (mut hosts, _) = inventory
        .select_lenient(&play.hosts)
        .map_err(|e| Error::invalid(&play.loc, format!("hosts: {e}")))?;
    hosts.retain(|h| *h == play.hosts || !inventory.is_implicit(h));
    if let Some(l) = limit {
        let allowed = inventory
            .select(l)
            .map_err(|e| Error::Usage(format!("--limit: {e}")))?
            .into_iter()
            .collect::<HashSet<String>>();
        hosts.retain(|h| allowed.contains(h));
    }
    Ok(hosts)
}

/// Print each selected task (with `--list-tasks`) and gather the tags of all.
fn walk(nodes: &[TaskNode], what: &Listings, tags: &mut BTreeSet<String>) {
    let selected = |t: &BTreeSet<String>| crate::engine::tags_selected(t, &what.only, &what.skip);
    let show = what.tasks;
    for n in nodes {
        let t = match n {
            TaskNode::Task(t) => t,
            TaskNode::Include(i) => &i.task,
            // ansible-playbook lists a block's `block:` only, not its rescue and always.
            TaskNode::Block(b) => {
                walk(&b.block, what, tags);
                continue;
            }
        };
        if !selected(&t.kw.tags) {
            continue;
        }
        tags.extend(t.kw.tags.iter().cloned());
        if show {
            println!("      {}\tTAGS: [{}]", t.display_name(), join(&t.kw.tags));
        }
    }
}

fn join(tags: &BTreeSet<String>) -> String {
    tags.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
