# Helpers shared by scripts/test and .ci/run (sourced, not run).

note() { printf '%s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing needs root or sudo: $*"
  fi
}

# The venv that holds the Python packages of the tests when the system Python is externally
# managed (PEP 668); on PATH first when it exists, so that `python3` in the tests is its.
PYTHON_VENV="$(realpath -m "${CARGO_TARGET_DIR:-target}")/test-python"
if [[ -x $PYTHON_VENV/bin/python3 ]]; then
  export PATH="$PYTHON_VENV/bin:$PATH"
fi

python_externally_managed() {
  python3 - <<'EOF'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if not in_venv and os.path.isfile(marker) else 1)
EOF
}

# ensure_python_package MODULE SPEC: pip-installs SPEC unless `import MODULE` works.
ensure_python_package() {
  local module=$1 spec=$2
  command -v python3 >/dev/null 2>&1 || die "python3 is missing (the tests need Python 3 with pip)"
  if python3 -c "import $module" >/dev/null 2>&1; then
    return
  fi
  [[ -z ${RUNBOOK_TEST_NO_INSTALL:-} ]] || die "python3 cannot import $module (RUNBOOK_TEST_NO_INSTALL is set)"
  if python_externally_managed; then
    note "the system Python is externally managed: installing $spec into $PYTHON_VENV"
    if ! python3 -m venv "$PYTHON_VENV" >/dev/null 2>&1; then
      # Debian and Ubuntu ship venv (ensurepip) separately.
      rm -rf "$PYTHON_VENV"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$PYTHON_VENV"
    fi
    export PATH="$PYTHON_VENV/bin:$PATH"
  else
    python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip (python3 -m ensurepip, or apt-get install python3-pip)"
    note "installing $spec (pip)"
  fi
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check "$spec"
  python3 -c "import $module" >/dev/null 2>&1 || die "pip installed $spec, but python3 still cannot import $module"
}
