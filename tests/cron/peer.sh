#!/usr/bin/env bash
# Checks bpprof's cron schedules (pkg/daemon/cron.c, through $BUILD/cron-next)
# against robfig/cron v3 (through $BUILD/cronpeer): the same next 20 fire
# times for every expression and start, under TZ=UTC, America/New_York and
# Europe/Berlin, and the same refusals. Prints
#   cron peer: N expressions x M starts, K mismatches
# and exits non-zero on any mismatch, showing the first few.
#   BUILD=build tests/cron/peer.sh      (needs $BUILD/cron-next and $BUILD/cronpeer)
set -eu

BUILD=${BUILD:-build}
ours=$BUILD/cron-next
peer=$BUILD/cronpeer
for b in "$ours" "$peer"; do
	[ -x "$b" ] || { echo "cron peer: $b is missing (make BUILD=$BUILD $b)" >&2; exit 2; }
done
for z in America/New_York Europe/Berlin; do
	[ -e "/usr/share/zoneinfo/$z" ] || { echo "cron peer: no tzdata for $z (apt-get install tzdata)" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Tricky expressions, one a line. "OURS|ROBFIG" where robfig must be asked
# differently for the same schedule: it refuses day-of-week 7 (Sunday).
cat >"$tmp/fixed" <<'EOF'
* * * * *
*/15 * * * *
0 * * * *
0 0 * * *
30 1 * * *
30 2 * * *
15 3 * * *
59 23 31 12 *
0 12 1 1 *
0,30 9-17 * * 1-5
0 9-17/2 * * mon-fri
5,10-20/5,45 */6 * * *
7/13 5/7 * * *
0 0 29 2 *
0 0 28-29 2 *
0 0 30 2 *
0 0 31 * *
0 0 30 4,6,9,11 *
0 0 1-7 * 1
0 0 13 * 5
0 0 1,15 * 3
0 0 ? * 0
0 0 1 * ?
0 0 * * 0,6
0 0 * jan-mar sat
0 0 * JAN,Jul,dec *
0 0 1 feb-nov/3 *
0 8 * * tue-thu
0 8 * * Sat,SUN
0 0 * * 1/2
0 0 1-10/3 * *
0 0 */2 * *
0 0 * * */2
0 0 */10 * *
*/7 1-3 * * *
0 1-3 * 3,10,11 0
0-59/20 0-4 * * *
0 0 * * 7|0 0 * * 0
0 0 * * 5-7|0 0 * * 5-6,0
0 0 13 * 7|0 0 13 * 0
0 12 * * 0-7|0 12 * * 0-6
@yearly
@annually
@monthly
@weekly
@daily
@midnight
@hourly
EOF

# Expressions both must refuse.
cat >"$tmp/bad" <<'EOF'
* * * *
* * * * * *
60 * * * *
* 24 * * *
* * 0 * *
* * 32 * *
* * * 0 *
* * * 13 *
* * * * 8
*/0 * * * *
0 0 1-31/0 * *
5-2 * * * *
0 0 30-1 * *
1-2-3 * * * *
1/2/3 * * * *
a * * * *
1,2,x * * * *
-1 * * * *
5- * * * *
* * * foo *
* * * january *
0 0 * * sunday
0 0 * * mon-foo
* * * * mon-
@reboot
@foo
@daily extra
EOF
# Deliberate differences, left out of both lists:
#  - `?` outside the day fields, empty list items (`1,,2`, `1,`), signed
#    numbers (`+5`), text after `*-`, steps longer than the field (`*/60`),
#    TZ=/CRON_TZ= prefixes and @every: robfig accepts them, we refuse.
#  - day-of-week 7: we read it as Sunday (crontab(5)), robfig refuses it;
#    the fixed list asks robfig with 0 instead.
#  - which day field counts as unrestricted: we follow Vixie cron (the field
#    begins with `*` or `?`, so `*/2` counts), robfig only a `*` or `?` item
#    without a step. The generator skips expressions where this matters.

# Random valid expressions from a seeded Park-Miller generator (exact in
# awk's doubles, so the same list from every awk).
awk -v seed=20240229 -v count=300 '
function rnd(n) { x = (x * 16807) % 2147483647; return int(x / 2147483647 * n) }
function name(v, lo, names,   s) {
	s = substr(names, (v - lo) * 3 + 1, 3)
	if (rnd(2)) s = toupper(substr(s, 1, 1)) substr(s, 2)
	return rnd(5) ? s : toupper(s)
}
function val(v, lo, names) { return (names != "" && rnd(3) == 0) ? name(v, lo, names) : v }
function step(lo, hi) { return 1 + rnd(hi - lo < 20 ? hi - lo : 20) }
function item(lo, hi, names, q,   a, b, k, star) {
	k = rnd(10)
	star = (q && rnd(3) == 0) ? "?" : "*"
	a = lo + rnd(hi - lo + 1)
	b = a + rnd(hi - a + 1)
	if (k == 0) return star
	if (k <= 3) return val(a, lo, names)
	if (k == 4) return star "/" step(lo, hi)
	if (k <= 6) return val(a, lo, names) "-" val(b, lo, names)
	if (k <= 8) return val(a, lo, names) "-" val(b, lo, names) "/" step(lo, hi)
	return val(a, lo, names) "/" step(lo, hi)
}
function field(lo, hi, names, q,   n, s, i) {
	n = 1 + (rnd(4) == 0) + (rnd(8) == 0)
	s = item(lo, hi, names, q)
	for (i = 1; i < n; i++) s = s "," item(lo, hi, names, q)
	return s
}
# A day field is unrestricted for us when it begins with * or ?, for robfig
# when one of its items is * or ? without a step above 1.
function ourstar(f) { return f ~ /^[*?]/ }
function robstar(f) { return ("," f ",") ~ /,[*?](\/1)?,/ }
BEGIN {
	x = seed
	months = "janfebmaraprmayjunjulaugsepoctnovdec"; days = "sunmontuewedthufrisat"
	while (made < count) {
		mi = rnd(4) ? field(0, 59, "", 0) : "*"
		h = rnd(3) ? field(0, 23, "", 0) : "*"
		dom = rnd(2) ? field(1, 31, "", 1) : (rnd(2) ? "*" : "?")
		mon = rnd(3) ? "*" : field(1, 12, months, 0)
		dow = rnd(2) ? field(0, 6, days, 1) : (rnd(2) ? "*" : "?")
		if ((ourstar(dom) || ourstar(dow)) != (robstar(dom) || robstar(dow)))
			continue
		print mi " " h " " dom " " mon " " dow
		made++
	}
}' >"$tmp/random"

# Starts: around every DST change of both zones in 2024-2030 (before it,
# a second before it, inside the shifted hour), minute and year edges, and
# instants spread through 2024-2030.
starts=()
for z in America/New_York Europe/Berlin; do
	while read -r ut; do
		t=$(($(date -u -d "$ut" +%s) + 1))
		starts+=($((t - 5400)) $((t - 1)) $((t + 1830)))
	done < <(zdump -v -c 2024,2031 "$z" | sed -n 's/^[^ ]*  *\(.*:59:59 20[0-9][0-9]\) UT = .*/\1/p')
done
starts+=(1704067200 1704067199 1704067230 1709164770 1835395199 1895961599)
mapfile -t -O ${#starts[@]} starts < <(awk 'BEGIN { x = 77; for (i = 0; i < 20; i++) {
	x = (x * 16807) % 2147483647; printf "%d\n", 1704067200 + int(x / 2147483647 * 220924800) } }')
[ ${#starts[@]} -ge 60 ] || { echo "cron peer: found only ${#starts[@]} starts (zdump?)" >&2; exit 2; }

# Queries, in our spelling and robfig's: every expression from every start,
# then each bad expression once.
printf '%s\n' "${starts[@]}" >"$tmp/starts"
cat "$tmp/fixed" "$tmp/random" >"$tmp/exprs"
nexpr=$(wc -l <"$tmp/exprs")
nbad=$(wc -l <"$tmp/bad")
for side in 1 2; do
	awk -v side=$side -v bad="$tmp/bad" 'NR == FNR { s[++n] = $0; next }
		{ split($0, e, "|"); x = (side == 2 && (2 in e)) ? e[2] : e[1]
		  for (i = 1; i <= n; i++) printf "%s\t%s\t20\n", x, s[i] }
		END { while ((getline l <bad) > 0) printf "%s\t0\t1\n", l }' \
		"$tmp/starts" "$tmp/exprs" >"$tmp/q$side"
done

mismatches=0
for tz in UTC America/New_York Europe/Berlin; do
	TZ=$tz "$ours" <"$tmp/q1" >"$tmp/a-ours"
	TZ=$tz "$peer" <"$tmp/q2" >"$tmp/a-peer"
	# The bad expressions come last: both must answer "error" there, and
	# nothing before them may be refused.
	n=$(paste "$tmp/q1" "$tmp/a-ours" "$tmp/a-peer" | awk -F'\t' -v nbad="$nbad" \
		-v tz="$tz" -v out="$tmp/shown" '
		{ q[NR] = $1 "\t" $2; a[NR] = $4; b[NR] = $5 }
		END {
			for (i = 1; i <= NR; i++) {
				bad = i > NR - nbad
				if (a[i] == b[i] && (bad ? a[i] == "error" : a[i] != "error"))
					continue
				if (k++ < 5)
					printf "TZ=%s %s\n  ours:   %s\n  robfig: %s\n", tz, q[i], a[i], b[i] >>out
			}
			print k + 0
		}')
	mismatches=$((mismatches + n))
done
if [ -s "$tmp/shown" ]; then
	head -n 20 "$tmp/shown" >&2
fi

echo "cron peer: $nexpr expressions x ${#starts[@]} starts, $mismatches mismatches"
[ "$mismatches" -eq 0 ]
