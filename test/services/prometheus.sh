#!/usr/bin/env bash
# A real Prometheus for the tests: installs Debian's `prometheus` package when it is missing, then
# (unless --install-only) runs it in the foreground on 127.0.0.1 and a free port, scraping
# <target host:port>/metrics once a second, with its data under <dir>. The first line it prints
# is `prometheus listening on http://127.0.0.1:<port>/`; stop it with SIGTERM.
#
#   test/services/prometheus.sh --install-only
#   test/services/prometheus.sh 127.0.0.1:9464 /tmp/prom-test
set -euo pipefail

install() {
  command -v prometheus >/dev/null 2>&1 && return 0
  local run=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "prometheus is not installed and this user cannot install packages (no root, no sudo): apt-get install prometheus" >&2; return 1; }
    run=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${run[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
    || { "${run[@]}" apt-get update -qq >/dev/null 2>&1 && "${run[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } \
    || { echo "could not install Debian's prometheus package (apt-get install prometheus failed)" >&2; return 1; }
}

install
[ "${1:-}" = "--install-only" ] && exit 0

target=${1:?usage: prometheus.sh <target host:port> <data dir> | --install-only}
dir=${2:?usage: prometheus.sh <target host:port> <data dir>}
mkdir -p "$dir/data"
# A free loopback port, asked of the kernel (port 0) and released just before Prometheus takes it.
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})')
cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: eddy
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['$target']
YML
echo "prometheus listening on http://127.0.0.1:$port/"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" --log.level=warn
