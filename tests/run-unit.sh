#!/usr/bin/env bash
# Runs cmocka test binaries from the repository root, shows their output and
# adds up their results into one last line: "unit: N passed, M failed".
# A binary that crashes, is missing, or exits non-zero without reporting a
# failure counts as failed too (its unfinished tests are counted as failed).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bins=()
for b in "$@"; do
	case $b in
	/*) bins+=("$b") ;;
	*) bins+=("$PWD/$b") ;;
	esac
done
cd "$root"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# sum_field PATTERN: add up the counts in cmocka summary lines of $log.
# cmocka 1.1 writes "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s),
# listed below:" (to stderr), and "[==========] Running N test(s)." per group;
# the per-test "[  FAILED  ] name" lines carry no count and do not match.
sum_field() {
	local n total=0
	while read -r n; do
		total=$((total + n))
	done < <(sed -n "s/^$1 \([0-9][0-9]*\) test(s).*/\1/p" "$log")
	echo "$total"
}

passed=0
failed=0
broken=()
for bin in ${bins[@]+"${bins[@]}"}; do
	name=${bin#"$root"/}
	echo "== $name"
	if [ ! -x "$bin" ]; then
		echo "run-unit: $name: not an executable file"
		failed=$((failed + 1))
		broken+=("$name (missing)")
		continue
	fi
	rc=0
	# Plain cmocka output (not TAP/XML/subunit), whatever the environment says.
	CMOCKA_MESSAGE_OUTPUT=STDOUT "$bin" >"$log" 2>&1 </dev/null || rc=$?
	cat "$log"

	p=$(sum_field '\[  PASSED  \]')
	f=$(sum_field '\[  FAILED  \]')
	planned=$(sum_field '\[==========\] Running')
	unfinished=$((planned - p - f))
	if [ "$unfinished" -lt 0 ]; then
		unfinished=0
	fi
	passed=$((passed + p))
	failed=$((failed + f))

	if [ "$rc" -ge 128 ]; then
		echo "run-unit: $name: killed by signal $((rc - 128))"
		broken+=("$name (signal $((rc - 128)))")
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run-unit: $name: exit status $rc without a reported failure"
		broken+=("$name (exit $rc)")
	elif [ "$planned" -eq 0 ]; then
		echo "run-unit: $name: ran no tests"
		broken+=("$name (no tests)")
	elif [ "$unfinished" -gt 0 ]; then
		broken+=("$name ($unfinished unfinished)")
	else
		continue
	fi
	# A broken binary counts its unfinished tests as failed, at least one.
	if [ "$unfinished" -gt 0 ]; then
		failed=$((failed + unfinished))
	elif [ "$f" -eq 0 ]; then
		failed=$((failed + 1))
	fi
done

if [ ${#broken[@]} -gt 0 ]; then
	echo "unit: broken: ${broken[*]}"
fi
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
