// Command cronpeer answers "when does this schedule fire next" with
// robfig/cron v3 (Debian's golang-github-robfig-cron-dev, built offline), the
// reference tests/cron/peer.sh compares bpprof's cron parser against.
//
// Input, one query a line:  EXPR<TAB>START_UNIX<TAB>N
// Output, one line each:    the next N fire times after START in unix
// seconds, space-separated, in time.Local (so TZ applies); -1 ends a line
// when robfig finds nothing (its five-year limit); "error" when robfig
// refuses EXPR.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron"
)

func answer(line string) (string, error) {
	f := strings.Split(line, "\t")
	if len(f) != 3 {
		return "", fmt.Errorf("want EXPR<TAB>START<TAB>N, got %q", line)
	}
	start, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return "", err
	}
	sched, err := cron.ParseStandard(f[0])
	if err != nil {
		return "error", nil
	}
	out := make([]string, 0, n)
	t := time.Unix(start, 0).In(time.Local)
	for i := 0; i < n; i++ {
		t = sched.Next(t)
		if t.IsZero() {
			out = append(out, "-1")
			break
		}
		out = append(out, strconv.FormatInt(t.Unix(), 10))
	}
	return strings.Join(out, " "), nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		s, err := answer(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "cronpeer:", err)
			os.Exit(2)
		}
		fmt.Fprintln(out, s)
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "cronpeer:", err)
		os.Exit(2)
	}
}
