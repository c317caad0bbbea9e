// The /_control API the retry and fault tests steer the receiver with
// (injected failures, delays, a black hole, flapping, counters) and
// `receiver -check`.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// ---- fault injection ----------------------------------------------------

func (s *server) takeDelay() time.Duration {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if s.delayCount <= 0 {
		return 0
	}
	s.delayCount--
	return time.Duration(s.delaySecond * float64(time.Second))
}

func (s *server) takeFail() *apiError {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if s.failCount <= 0 {
		return nil
	}
	s.failCount--
	return &apiError{status: s.failStatus, code: codeFor(s.failStatus), msg: s.failBody, retryAfter: s.failRetry}
}

func (s *server) takeHold() bool {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if s.holdCount <= 0 {
		return false
	}
	s.holdCount--
	return true
}

// flapDown says whether flapping is in its down half now: periods
// alternate up, down, up, ... from when it was asked for.
func (s *server) flapDown() bool {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if s.flapPeriod <= 0 {
		return false
	}
	return (time.Since(s.flapStart)/s.flapPeriod)%2 == 1
}

func withError(base *entry, msg string) *entry {
	e := *base
	e.Error = msg
	return &e
}

func queryInt(r *http.Request, key string, def int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func (s *server) controlFail(w http.ResponseWriter, r *http.Request) {
	status, err1 := queryInt(r, "status", 503)
	count, err2 := queryInt(r, "count", 1)
	if err1 != nil || err2 != nil || status < 100 || status > 599 || count < 0 {
		writeJSONError(w, errorf(400, "want status=100..599 and count>=0"))
		return
	}
	body := r.URL.Query().Get("body")
	if _, set := r.URL.Query()["body"]; !set {
		body = `{"code":"unavailable","message":"injected"}`
	}
	s.injMu.Lock()
	s.failStatus, s.failCount, s.failBody = status, count, body
	s.failRetry = r.URL.Query().Get("retry_after")
	s.injMu.Unlock()
	writeJSON(w, map[string]interface{}{"fail": count, "status": status})
}

func (s *server) controlDelay(w http.ResponseWriter, r *http.Request) {
	secs, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
	count, err2 := queryInt(r, "count", 1)
	if err != nil || err2 != nil || secs < 0 || count < 0 {
		writeJSONError(w, errorf(400, "want seconds>=0 and count>=0"))
		return
	}
	s.injMu.Lock()
	s.delaySecond, s.delayCount = secs, count
	s.injMu.Unlock()
	writeJSON(w, map[string]interface{}{"delay": count, "seconds": secs})
}

// /_control/blackhole?count=N: the next N data requests are read and never
// answered (the connection stays open until the client gives up).
func (s *server) controlBlackhole(w http.ResponseWriter, r *http.Request) {
	count, err := queryInt(r, "count", 1)
	if err != nil || count < 0 {
		writeJSONError(w, errorf(400, "want count>=0"))
		return
	}
	s.injMu.Lock()
	s.holdCount = count
	s.injMu.Unlock()
	writeJSON(w, map[string]interface{}{"blackhole": count})
}

// /_control/flap?period=S: from now, S seconds answering as usual, then S
// seconds closing each data request's connection unanswered, in turn;
// period=0 stops.
func (s *server) controlFlap(w http.ResponseWriter, r *http.Request) {
	secs, err := strconv.ParseFloat(r.URL.Query().Get("period"), 64)
	if err != nil || secs < 0 {
		writeJSONError(w, errorf(400, "want period>=0 (seconds)"))
		return
	}
	s.injMu.Lock()
	s.flapPeriod = time.Duration(secs * float64(time.Second))
	s.flapStart = time.Now()
	s.injMu.Unlock()
	writeJSON(w, map[string]interface{}{"flap": secs})
}

func (s *server) controlReset(w http.ResponseWriter, _ *http.Request) {
	s.injMu.Lock()
	s.failCount, s.delayCount, s.failRetry = 0, 0, ""
	s.holdCount, s.flapPeriod = 0, 0
	s.injMu.Unlock()
	atomic.StoreInt64(&s.requests, 0)
	atomic.StoreInt64(&s.stored, 0)
	atomic.StoreInt64(&s.refused, 0)
	atomic.StoreInt64(&s.connections, 0)
	writeJSON(w, map[string]bool{"reset": true})
}

func (s *server) controlStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]int64{
		"requests":    atomic.LoadInt64(&s.requests),
		"stored":      atomic.LoadInt64(&s.stored),
		"refused":     atomic.LoadInt64(&s.refused),
		"connections": atomic.LoadInt64(&s.connections),
	})
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// ---- -check --------------------------------------------------------------

func runCheck(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "receiver: %v\n", err)
		return 1
	}
	out := map[string]interface{}{"file": path}
	p, sum, err := decodeProfile(data)
	if err != nil {
		out["error"] = err.Error()
		printJSON(out)
		return 1
	}
	out["summary"] = sum
	out["name"] = profileName(p)
	problems := []string{}
	for _, e := range validateProfile(p, sum, time.Now(), nil) {
		problems = append(problems, e.msg)
	}
	sort.Strings(problems)
	out["problems"] = problems
	printJSON(out)
	return 0
}

func printJSON(v interface{}) {
	b, _ := json.MarshalIndent(v, "", "  ")
	os.Stdout.Write(append(b, '\n'))
}
