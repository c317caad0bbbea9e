#!/usr/bin/env bash
# The suites that load BPF, run again as on a fresh machine: in a private
# mount namespace where tracefs and debugfs are not mounted (a new machine of
# this kind has neither). The host's mounts are untouched. Fails if one
# cannot be unmounted, or if one is mounted again by the end (bpprof must
# mount nothing).
#   BUILD=build tests/fresh.sh       (make test-fresh; .ci/run after make test)
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "fresh: skip: needs root (the suites load BPF; the namespace needs CAP_SYS_ADMIN)"
	exit 0
fi
cd "$(dirname "$0")/.."
if [ -z "${BPPROF_FRESH_NS:-}" ]; then
	BPPROF_FRESH_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

mounted() { awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/self/mounts; }
for m in $(mounted | sort -r); do
	umount "$m" || { echo "fresh: cannot unmount $m" >&2; exit 1; }
done
[ -z "$(mounted)" ] || { echo "fresh: still mounted: $(mounted | tr '\n' ' ')" >&2; exit 1; }
echo "fresh: tracefs and debugfs unmounted in a private mount namespace"

rc=0
for suite in e2e-record e2e-heap e2e-unwind e2e-offcpu e2e-lines e2e-run e2e-faults; do
	BUILD=${BUILD:-build} "tests/$suite.sh" || rc=1
done
if [ -n "$(mounted)" ]; then
	echo "fresh: FAIL: mounted during the suites: $(mounted | tr '\n' ' ')"
	rc=1
fi
exit $rc
