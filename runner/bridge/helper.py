# windlass module bridge helper: runs inside the user's own Python with the user's own
# ansible-core, so that modules are found and built exactly as ansible-playbook finds and
# builds them. Standard library + ansible only. One request per line on stdin, one JSON
# answer per line on stdout; nothing else is ever written to stdout.
#
# Requests (every answer carries "ok"; on error, "error" says why):
#   {"op": "hello"}                                  -> ansible_version, python,
#                                                       python_fallback
#   {"op": "find", "name": N, "collections": [..]}   -> found, fqcn, path, action_plugin,
#                                                       missing_collection, redirect
#   {"op": "build", "fqcn": F, "args": {..}, "task": {..}, "task_vars": {..},
#    "async_timeout": N, "plain": B}                 -> payload (base64), style, shebang,
#                                                       profile (plain: no _ansible_* args,
#                                                       as async_wrapper is built)
#   {"op": "list"}                                   -> modules (every installed FQCN)
#   {"op": "parse", "stdout": S, "stderr": E, "rc": R, "shebang": I, "profile": P}
#                                                    -> result, warnings
import base64
import json
import os
import sys
import traceback

_real_stdout = sys.stdout
# Anything ansible prints must not reach the protocol stream.
sys.stdout = sys.stderr


def _answer(obj):
    _real_stdout.write(json.dumps(obj, default=str) + "\n")
    _real_stdout.flush()


def _init():
    from ansible.plugins import loader as _loader
    from ansible import constants as C
    if hasattr(_loader, "init_plugin_loader"):
        _loader.init_plugin_loader(C.COLLECTIONS_PATHS)
    return _loader


_LOADER = None


def _loader():
    global _LOADER
    if _LOADER is None:
        _LOADER = _init()
    return _LOADER


def op_hello(req):
    from ansible.release import __version__
    from ansible import constants as C
    fallback = C.config.get_config_value("INTERPRETER_PYTHON_FALLBACK")
    return {"ansible_version": __version__, "python": sys.executable,
            "python_fallback": list(fallback or [])}


def _collection_installed(ns_col):
    try:
        import importlib
        importlib.import_module("ansible_collections." + ns_col)
        return True
    except Exception:
        return False


def _action_plugin(loader, names, collections):
    """The controller-side action plugin a task of this name runs, if any (as
    TaskExecutor._get_action_handler_with_module_context picks it)."""
    for candidate in names:
        if not candidate:
            continue
        ctx = loader.action_loader.find_plugin_with_context(candidate, collection_list=collections)
        if ctx.resolved:
            return ctx.resolved_fqcn or candidate
    return None


def op_find(req):
    loader = _loader()
    name = req["name"]
    collections = req.get("collections") or None
    ctx = loader.module_loader.find_plugin_with_context(name, collection_list=collections)
    redirect = list(getattr(ctx, "redirect_list", []) or [])
    out = {"found": False, "fqcn": None, "path": None, "action_plugin": None,
           "missing_collection": None, "redirect": redirect}
    if not ctx.resolved or not ctx.plugin_resolved_path:
        # An action without a module of its name (`yum`, redirected to the dnf action).
        out["action_plugin"] = _action_plugin(loader, [name], collections)
        # The last name tried: after redirects, the one whose collection may be missing.
        last = redirect[-1] if redirect else name
        parts = last.split(".")
        if len(parts) > 2:
            ns_col = ".".join(parts[:2])
            if ns_col not in ("ansible.builtin", "ansible.legacy") and not _collection_installed(ns_col):
                out["missing_collection"] = ns_col
        return out
    out["found"] = True
    out["fqcn"] = ctx.resolved_fqcn or name
    out["path"] = ctx.plugin_resolved_path
    out["action_plugin"] = getattr(ctx, "action_plugin", None) or _action_plugin(
        loader, [name, out["fqcn"]], collections)
    return out


def _templar(task_vars):
    from ansible.template import Templar
    from ansible.parsing.dataloader import DataLoader
    return Templar(loader=DataLoader(), variables=task_vars)


def op_build(req):
    _loader()
    from ansible import constants as C
    from ansible.executor import module_common
    fqcn = req["fqcn"]
    ctx = _loader().module_loader.find_plugin_with_context(fqcn)
    if not ctx.resolved:
        raise ValueError("module %s not found" % fqcn)
    task_vars = dict(req.get("task_vars") or {})
    module_args = dict(req.get("args") or {})
    if not req.get("plain"):
        # ActionBase._configure_module builds async_wrapper with no arguments at all.
        module_args.update(_internal_args(fqcn, req.get("task") or {}, task_vars))
    async_timeout = int(req.get("async_timeout") or 0)
    compression = C.config.get_config_value("DEFAULT_MODULE_COMPRESSION", variables=task_vars)
    templar = _templar(task_vars)
    try:
        built = module_common.modify_module(
            module_name=fqcn, module_path=ctx.plugin_resolved_path, module_args=module_args,
            templar=templar, task_vars=task_vars, module_compression=compression,
            async_timeout=async_timeout, environment={}, remote_is_local=False, become_plugin=None)
        data, style, shebang = built.b_module_data, built.module_style, built.shebang
        profile = getattr(built, "serialization_profile", "legacy")
    except TypeError:
        # ansible-core before 2.19: positional arguments, a tuple back.
        data, style, shebang = module_common.modify_module(
            fqcn, ctx.plugin_resolved_path, module_args, templar, task_vars=task_vars,
            module_compression=compression)
        profile = "legacy"
    if style != "new":
        raise ValueError("module %s is an %s-style module; the bridge runs new-style "
                         "(AnsiballZ) modules only" % (fqcn, style))
    if isinstance(data, str):
        data = data.encode("utf-8")
    return {"payload": base64.b64encode(data).decode("ascii"), "style": style,
            "shebang": shebang, "profile": profile, "path": ctx.plugin_resolved_path}


def _internal_args(module_name, task, task_vars):
    """The `_ansible_*` arguments, as ActionBase._update_module_args sets them."""
    from ansible import constants as C
    from ansible.release import __version__
    no_target_syslog = C.config.get_config_value("DEFAULT_NO_TARGET_SYSLOG", variables=task_vars)
    a = {
        "_ansible_check_mode": bool(task.get("check_mode")),
        "_ansible_no_log": bool(task.get("no_log")) or no_target_syslog,
        "_ansible_debug": C.DEFAULT_DEBUG,
        "_ansible_diff": bool(task.get("diff")),
        "_ansible_verbosity": int(task.get("verbosity") or 0),
        "_ansible_version": __version__,
        "_ansible_module_name": module_name,
        "_ansible_syslog_facility": task_vars.get("ansible_syslog_facility", C.DEFAULT_SYSLOG_FACILITY),
        "_ansible_selinux_special_fs": C.DEFAULT_SELINUX_SPECIAL_FS,
        "_ansible_socket": task_vars.get("ansible_socket"),
        "_ansible_shell_executable": C.DEFAULT_EXECUTABLE,
        "_ansible_keep_remote_files": C.DEFAULT_KEEP_REMOTE_FILES,
        # Pipelined, no temporary directory is made: the module falls back on remote_tmp.
        "_ansible_tmpdir": None,
        "_ansible_remote_tmp": task.get("remote_tmp") or "~/.ansible/tmp",
        "_ansible_ignore_unknown_opts": False,
    }
    try:
        a["_ansible_target_log_info"] = C.config.get_config_value("TARGET_LOG_INFO", variables=task_vars)
    except Exception:
        pass  # before ansible-core 2.17
    try:
        from ansible.module_utils._internal import _traceback
        a["_ansible_tracebacks_for"] = _traceback.traceback_for()
    except Exception:
        pass  # before ansible-core 2.19
    return a


class _Parser:
    """What ActionBase._parse_returned_data reads of its action."""

    def __init__(self, shebang):
        self._used_interpreter = shebang


def op_parse(req):
    _loader()
    from ansible.plugins.action import ActionBase
    res = {"stdout": req.get("stdout", ""), "stderr": req.get("stderr", ""), "rc": req.get("rc")}
    warnings = []
    from ansible.utils.display import Display
    display = Display()
    original = display.warning

    def keep(msg, *a, **k):
        warnings.append(str(msg))
    display.warning = keep
    try:
        try:
            data = ActionBase._parse_returned_data(_Parser(req.get("shebang")), res,
                                                    req.get("profile") or "legacy")
        except TypeError:
            data = ActionBase._parse_returned_data(_Parser(req.get("shebang")), res)
    finally:
        display.warning = original
    from ansible.vars.clean import remove_internal_keys
    data.pop("_ansible_suppress_tmpdir_delete", None)
    results = data.get("results")
    if results is not None and (not isinstance(results, (list, tuple)) or isinstance(results, str)):
        data["ansible_module_results"] = data.pop("results")
        warnings.append("Found internal 'results' key in module return, renamed to 'ansible_module_results'.")
    remove_internal_keys(data)
    if "stdout" in data and "stdout_lines" not in data:
        data["stdout_lines"] = (data.get("stdout") or "").splitlines()
    if "stderr" in data and "stderr_lines" not in data:
        data["stderr_lines"] = (data.get("stderr") or "").splitlines()
    return {"result": _plain(data), "warnings": warnings}


def _plain(v):
    """The result as plain JSON values, as a playbook sees it (2.19 turns the error and
    warning summaries into strings: TemplateEngine.transform, as the callback does)."""
    try:
        from ansible._internal._templating import _engine
        v = _engine.TemplateEngine().transform(v)
    except Exception:
        pass  # before ansible-core 2.19: already plain
    return json.loads(json.dumps(v, default=str))


def op_list(req):
    """Every installed module, by FQCN (what `ansible-doc -l` lists)."""
    _loader()
    from ansible.plugins.list import list_plugins
    found = list_plugins("module")
    return {"modules": sorted(found)}


OPS = {"hello": op_hello, "find": op_find, "build": op_build, "parse": op_parse,
       "list": op_list}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = OPS.get(req.get("op"))
            if op is None:
                raise ValueError("unknown op %r" % req.get("op"))
            out = op(req)
            out["ok"] = True
        except Exception as e:
            out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e),
                   "traceback": traceback.format_exc()}
        _answer(out)


if __name__ == "__main__":
    main()
