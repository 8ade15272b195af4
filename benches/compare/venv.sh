# Sourced by the benches that run Python peers (benches/compare/run.sh,
# benches/flagship/run.sh): makes $VENV (target/bench-venv, Python >= 3.12) with the pinned
# peers, once per set of pins:
#   ansible-core   the reference implementation of what windlass reads;
#   mitogen        Mitogen's strategy plugins for ansible-core (mitogen_linear);
#   pyinfra        the other agentless Python tool;
#   ansible        the community package, for the collections the project's roles use
#                  (community.general.modprobe, ansible.posix.sysctl, ansible.utils'
#                  ipaddr, which Ansible routes the roles' plain `ipaddr` to) when ansible-playbook
#                  runs them (the flagship bench); its version is the one built on this
#                  ansible-core (ansible 14.5.0 requires ansible-core ~= 2.21.5);
#   netaddr        the Python library ansible.utils' ipaddr filter imports.
# BENCH_PYTHON: the interpreter for the venv [first python3.13/3.12 found].
ANSIBLE_CORE_VERSION=2.21.5
ANSIBLE_VERSION=14.5.0
NETADDR_VERSION=1.3.0
PYINFRA_VERSION=3.10.0
MITOGEN_VERSION=0.3.54
VENV=$ROOT/target/bench-venv

pick_python() {
  if [ -n "${BENCH_PYTHON:-}" ]; then echo "$BENCH_PYTHON"; return; fi
  local c
  for c in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$c"; return
    fi
  done
  echo "no Python >= 3.12 found (ansible-core $ANSIBLE_CORE_VERSION needs it); set BENCH_PYTHON" >&2
  exit 1
}

want="ansible-core==$ANSIBLE_CORE_VERSION ansible==$ANSIBLE_VERSION netaddr==$NETADDR_VERSION pyinfra==$PYINFRA_VERSION mitogen==$MITOGEN_VERSION"
if [ "$(cat "$VENV/.bench-pins" 2>/dev/null)" != "$want" ]; then
  py=$(pick_python)
  echo "== creating $VENV with $py: $want" >&2
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $want
  echo "$want" > "$VENV/.bench-pins"
fi
