#!/usr/bin/env bash
# Builds an exporter the way it ships and prints the binary's path: the `exporter` profile (release, optimized for
# size) and, on Linux with glibc, linked statically at a fixed address as upstream's Go binaries are, with lld
# placing the functions a scrape executes together (`<crate>/hot-functions.txt`, see bench/link-ordered.py and
# bench/hot-functions.sh). Without python3, nm or the toolchain's lld the layout step is left out.
# Usage: bench/build-exporter.sh node_exporter|nginx_exporter|mysql_exporter
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1
host=$(rustc -vV | awk '/^host:/ {print $2}')
flags=""
case $host in
  *-linux-gnu)
    flags="-C target-feature=+crt-static -C relocation-model=static"
    lld_dir="$(rustc --print sysroot)/lib/rustlib/$host/bin/gcc-ld"
    if [[ -x $lld_dir/ld.lld && -f $NAME/hot-functions.txt ]] && command -v python3 >/dev/null && command -v nm >/dev/null; then
      flags="$flags -C linker=$PWD/bench/link-ordered.py"
      export LLD_DIR=$lld_dir HOT_FUNCTIONS=$PWD/$NAME/hot-functions.txt
    fi
    ;;
esac
RUSTFLAGS="${RUSTFLAGS:-} $flags" cargo build --profile exporter -q --target "$host" -p "$NAME" >&2
echo "$PWD/target/$host/exporter/$NAME"
