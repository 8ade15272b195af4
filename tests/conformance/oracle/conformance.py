# The conformance runner's window into ansible-playbook (tests/conformance/main.rs).
#
# A notification callback: the default stdout callback still prints as usual, and this one
# writes each event the runner compares (play and task starts, every host and item result,
# `until` retries, includes, the recap) as one JSON line to the file named by
# $CONFORMANCE_TRACE. The runner turns this file and windlass's `--output jsonl` into the
# same normalised trace.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: conformance
    type: notification
    short_description: JSON lines of results for windlass's conformance runner
    description: Writes play/task starts, host and item results and the recap to $CONFORMANCE_TRACE.
"""


def _plain(value):
    """Result values as plain JSON (Ansible's own tagged types become str/list/dict)."""
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "conformance"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = open(os.environ["CONFORMANCE_TRACE"], "a", encoding="utf-8")

    def _emit(self, **record):
        self._out.write(json.dumps(_plain(record), sort_keys=True) + "\n")
        self._out.flush()

    def v2_playbook_on_play_start(self, play):
        self._emit(e="play", name=play.get_name().strip())

    def _task(self, task, handler):
        self._emit(e="task", name=task.get_name().strip(), action=task.action, handler=handler)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task, True)

    def _host_event(self, e, status, task_result, **fields):
        """One host's (or one item's) result: `e` names which; ok that changed is "changed"."""
        if status == "ok" and task_result._result.get("changed"):
            status = "changed"
        self._emit(
            e=e,
            host=task_result._host.get_name(),
            task=task_result._task.get_name().strip(),
            action=task_result._task.action,
            status=status,
            **fields,
        )

    def _result(self, status, result, ignored=False):
        r = result._result
        # Callbacks get `_ansible_delegated_vars` without `ansible_delegated_host`
        # (executor/task_result.py keeps only _SUB_PRESERVE's keys): the default callback's
        # `host_label` names the task's (templated) `delegate_to`, as here.
        delegated = result._task.delegate_to if "_ansible_delegated_vars" in r else None
        self._host_event(
            "result",
            status,
            result,
            delegated=delegated,
            ignored=bool(ignored),
            looped="results" in r,
            result={k: v for k, v in r.items() if k != "results"},
        )

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result, ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def _item(self, status, result):
        r = result._result
        self._host_event(
            "item",
            status,
            result,
            # As CallbackBase._get_item_label: a no_log item's label is censored.
            label=(
                "(censored due to no_log)"
                if r.get("_ansible_no_log")
                else r.get("_ansible_item_label", r.get(r.get("ansible_loop_var", "item")))
            ),
            result=r,
        )

    def v2_runner_item_on_ok(self, result):
        self._item("ok", result)

    def v2_runner_item_on_failed(self, result):
        self._item("failed", result)

    def v2_runner_item_on_skipped(self, result):
        self._item("skipped", result)

    def v2_runner_retry(self, result):
        # The default callback's `FAILED - RETRYING: [host]: name (N retries left).`
        r = result._result
        self._emit(
            e="retry",
            host=result._host.get_name(),
            task=result.task_name,
            left=r["retries"] - r["attempts"],
        )

    def v2_playbook_on_include(self, included_file):
        self._emit(
            e="include",
            file=os.path.basename(included_file._filename),
            hosts=sorted(h.get_name() for h in included_file._hosts),
        )

    def v2_playbook_on_no_hosts_matched(self):
        self._emit(e="no_hosts_matched")

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        self._emit(e="stats", hosts={h: stats.summarize(h) for h in hosts})
