#!/usr/bin/env bash
# make check: the rules of the code's shape that a compiler does not check.
#  1. Includes point downwards. Each module has a rank; a file may include its
#     own module's headers and those of lower ranks. bpf/ (the programs and
#     the records shared with them) is for collect, capture and preload (the
#     preload library, which shares the sampler and its markers' layout with
#     the BPF side and links nothing of bpprof) only, but for bpf/unwind.h,
#     the unwind tables' layout, which unwind builds; the generated protobuf
#     code for pprof and above. Unit tests (*_test.c) are
#     leaves: nothing includes them, so they may include what they test with.
#  2. No banned functions (curl's list, and design.md's): sprintf, vsprintf,
#     strcpy, strcat, strncat, gets, strtok, atoi, atol, atoll, atof.
#  3. No function longer than MAX_FUNCTION_LINES lines (body, braces included).
# Prints one line per finding; exit 1 if there is any.
set -u
cd "$(dirname "$0")/.." || exit 2

MAX_FUNCTION_LINES=120

declare -A rank=(
	[base]=0 [preload]=0
	[compress]=1 [procfs]=1
	[fileio]=2
	[pprof]=3 [stacks]=3
	[heap]=4 [symbolize]=4 [unwind]=4
	[collect]=5
	[export]=5
	[convert]=6 [capture]=6
	[daemon]=7
	[cmd]=8
)
found=0
say() { printf '%s\n' "$*"; found=1; }

# module_of FILE: pkg/NAME/... is NAME, cmd/... is cmd
module_of() {
	case $1 in
	pkg/*) local m=${1#pkg/}; echo "${m%%/*}" ;;
	cmd/*) echo cmd ;;
	esac
}

sources=$(git ls-files 'pkg/*.[ch]' 'cmd/*.[ch]')
for f in $sources; do
	m=$(module_of "$f")
	[ -n "${rank[$m]:-}" ] || { say "$f: module '$m' has no rank in tests/check.sh"; continue; }
	case $f in *_test.c) continue ;; esac
	while IFS= read -r line; do
		n=${line%%:*}
		inc=${line#*:}
		inc=${inc#*\"}
		inc=${inc%%\"*}
		to=${inc%%/*}
		case $inc in
		*/*) ;;
		version.h) [ "$m" = daemon ] || [ "$m" = cmd ] || say "$f:$n: includes $inc (generated; daemon and cmd only)"; continue ;;
		*) continue ;;
		esac
		case $to in
		bpf) [ "$m" = collect ] || [ "$m" = capture ] || [ "$m" = preload ] ||
			[ "$inc" = bpf/unwind.h ] ||
			say "$f:$n: includes $inc (bpf/ is for collect, capture and preload; bpf/unwind.h for unwind too)" ;;
		proto) [ "${rank[$m]}" -ge "${rank[pprof]}" ] || say "$f:$n: includes $inc (generated protobuf code: pprof and above)" ;;
		"$m") ;;
		*)
			if [ -z "${rank[$to]:-}" ]; then
				say "$f:$n: includes $inc: no module '$to'"
			elif [ "${rank[$to]}" -ge "${rank[$m]}" ]; then
				say "$f:$n: includes $inc: $m (rank ${rank[$m]}) may not include $to (rank ${rank[$to]})"
			fi
			;;
		esac
	done < <(grep -n '^#include "' "$f")
done

banned='sprintf|vsprintf|strcpy|strcat|strncat|gets|strtok|atoi|atol|atoll|atof'
c_files=$(git ls-files 'pkg/*.c' 'cmd/*.c' 'bpf/*.c' 'pkg/*.h' 'cmd/*.h' 'bpf/*.h' 'tests/*.c')
# a call: the name, not part of a longer identifier, then "("; comments and
# string literals are left out first
for f in $c_files; do
	sed -e 's://.*$::' -e 's:/\*.*\*/::g' -e 's/"\([^"\\]\|\\.\)*"/""/g' "$f" |
		grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" |
		while IFS= read -r hit; do echo "$f:${hit%%:*}: banned function: $(echo "${hit#*:}" | grep -oE "($banned)[[:space:]]*\(" | head -1 | tr -d ' (')"; done
done >"${TMPDIR:-/tmp}/bpprof-check.$$"
if [ -s "${TMPDIR:-/tmp}/bpprof-check.$$" ]; then
	cat "${TMPDIR:-/tmp}/bpprof-check.$$"
	found=1
fi
rm -f "${TMPDIR:-/tmp}/bpprof-check.$$"

# Function bodies: "{" and "}" alone at column 0 (kernel style), named by
# the last line before that begins an identifier and holds "(".
long=$(awk -v max="$MAX_FUNCTION_LINES" '
	FNR == 1 { start = 0 }
	/^[A-Za-z_].*\(/ { sig = $0 }
	/^\{/ { start = FNR; name = sig }
	/^\}/ && start {
		if (FNR - start + 1 > max) printf "%s:%d: %d lines (at most %d): %s\n", FILENAME, start, FNR - start + 1, max, name
		start = 0
	}' $(git ls-files 'pkg/*.c' 'cmd/*.c' 'bpf/*.c' | grep -v '_test\.c$'))
if [ -n "$long" ]; then
	printf '%s\n' "$long"
	found=1
fi

if [ "$found" -eq 0 ]; then
	echo "check: includes point downwards, no banned functions, no function over $MAX_FUNCTION_LINES lines"
fi
exit $found
