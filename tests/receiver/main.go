// Command receiver is the loopback server that bpprof's push tests deliver to.
// It speaks Pyroscope's two ingestion APIs (/ingest and the Connect
// push.v1.PusherService/Push) with the validation rules and quirks listed in
// /work/shared/protocols.md, plus a plain /pprof endpoint, so a client that
// breaks a rule gets the answer the real server would give. Every data request
// becomes one JSON line in -log (one per pushed profile) describing what was
// sent and what the profile means (sample types, totals, folded stacks), and a
// small /_control API injects failures and delays for the retry tests.
// `receiver -check FILE` prints the same summary for a pprof file.
// Built offline: GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	addr           string
	portFile       string
	logFile        string
	tlsDir         string
	clientCA       bool
	tenantRequired bool
	basic          string
	bearer         string
	maxBody        int64
}

// entry is one log line. Profile fields are promoted from *summary and left
// out when no profile was decoded.
type entry struct {
	Seq              int64             `json:"seq"`
	Time             string            `json:"time"`
	API              string            `json:"api"`
	Method           string            `json:"method"`
	Path             string            `json:"path"`
	Status           int               `json:"status"`
	Error            string            `json:"error,omitempty"`
	Stored           bool              `json:"stored"`
	Reason           string            `json:"reason,omitempty"`
	Injected         bool              `json:"injected"`
	DelayedMs        int64             `json:"delayed_ms,omitempty"`
	App              string            `json:"app"`
	Labels           map[string]string `json:"labels"`
	Name             string            `json:"name"`
	Tenant           string            `json:"tenant"`
	Auth             string            `json:"auth"`
	AuthOK           bool              `json:"auth_ok"`
	TLS              bool              `json:"tls"`
	ClientCN         string            `json:"client_cn,omitempty"`
	ContentType      string            `json:"content_type"`
	ContentEncoding  string            `json:"content_encoding"`
	Multipart        bool              `json:"multipart"`
	Parts            map[string]string `json:"parts,omitempty"`
	Format           string            `json:"format"`
	Spy              string            `json:"spy"`
	From             string            `json:"from,omitempty"`
	Until            string            `json:"until,omitempty"`
	FromNs           int64             `json:"from_ns"`
	UntilNs          int64             `json:"until_ns"`
	SampleTypeConfig string            `json:"sample_type_config"`
	ID               string            `json:"id"`
	Series           int               `json:"series,omitempty"`
	Headers          map[string]string `json:"headers"`
	Bytes            int               `json:"bytes"`
	DecodedBytes     int               `json:"decoded_bytes,omitempty"`
	*summary
}

type server struct {
	cfg config

	logMu sync.Mutex
	logF  *os.File

	seq         int64
	requests    int64
	stored      int64
	refused     int64
	connections int64

	injMu       sync.Mutex
	failCount   int
	failStatus  int
	failBody    string
	failRetry   string
	delayCount  int
	delaySecond float64
	holdCount   int           // black hole: requests read and never answered
	flapPeriod  time.Duration // flapping: up, then connections closed unanswered, in turn
	flapStart   time.Time
}

// apiError is a refused request: the HTTP status and the JSON {code, message}.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter string // injected answers only
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...interface{}) *apiError {
	return &apiError{status: status, code: codeFor(status), msg: fmt.Sprintf(format, args...)}
}

// codeFor maps an HTTP status to the Connect error code Pyroscope would use.
func codeFor(status int) string {
	switch status {
	case 400, 422:
		return "invalid_argument"
	case 401:
		return "unauthenticated"
	case 403:
		return "permission_denied"
	case 404, 405, 415, 501:
		return "unimplemented"
	case 413, 429:
		return "resource_exhausted"
	case 499:
		return "canceled"
	case 503:
		return "unavailable"
	}
	return "internal"
}

// request is what every data handler gets: the request, its body (already
// bounded by -max-body) and the log line prefilled with the request's facts.
type request struct {
	r       *http.Request
	body    []byte
	base    *entry
	metaErr *apiError // what meta found wrong in the URL, answered after auth
}

// result is what a data handler decides: nil err means 200 with an empty
// body. lines are the per-profile log lines (base is logged when empty).
type result struct {
	err    *apiError
	lines  []*entry
	stored bool
	reason string
}

type api struct {
	name string
	// meta fills the log fields that come from the URL alone, so even an
	// injected or unauthorised request shows what it was for.
	meta   func(req *request)
	handle func(s *server, req *request) result
}

func main() {
	var cfg config
	check := flag.String("check", "", "print the JSON summary of a pprof `FILE` and exit")
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "listen address")
	flag.StringVar(&cfg.portFile, "port-file", "", "write the chosen port to this file once listening")
	flag.StringVar(&cfg.logFile, "log", "", "append one JSON line per data request to this file")
	flag.StringVar(&cfg.tlsDir, "tls-dir", "", "generate a CA, server and client certificates in DIR and serve HTTPS")
	flag.BoolVar(&cfg.clientCA, "client-ca", false, "require a client certificate signed by the generated CA (mTLS)")
	flag.BoolVar(&cfg.tenantRequired, "tenant-required", false, "require X-Scope-OrgID")
	flag.StringVar(&cfg.basic, "basic", "", "require HTTP basic auth USER:PASS")
	flag.StringVar(&cfg.bearer, "bearer", "", "require Authorization: Bearer TOKEN")
	flag.Int64Var(&cfg.maxBody, "max-body", 16<<20, "largest accepted request body in bytes (413 above)")
	flag.Parse()

	if *check != "" {
		os.Exit(runCheck(*check))
	}
	if cfg.clientCA && cfg.tlsDir == "" {
		fatalf("-client-ca needs -tls-dir")
	}
	if cfg.basic != "" && !strings.Contains(cfg.basic, ":") {
		fatalf("-basic wants USER:PASS")
	}
	if err := run(cfg); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "receiver: "+format+"\n", args...)
	os.Exit(1)
}

func run(cfg config) error {
	s := &server{cfg: cfg}
	if cfg.logFile != "" {
		f, err := os.OpenFile(cfg.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		s.logF = f
		defer f.Close()
	}

	mux := http.NewServeMux()
	ingest := &api{name: "ingest", meta: ingestMeta, handle: (*server).handleIngest}
	mux.Handle("/ingest", s.data(ingest))
	mux.Handle("/pyroscope/ingest", s.data(ingest))
	push := &api{name: "push", handle: (*server).handlePush}
	mux.Handle("/push.v1.PusherService/Push", s.data(push))
	mux.Handle("/pprof", s.data(&api{name: "http", handle: (*server).handlePprof}))
	mux.HandleFunc("/_control/fail", s.controlFail)
	mux.HandleFunc("/_control/delay", s.controlDelay)
	mux.HandleFunc("/_control/blackhole", s.controlBlackhole)
	mux.HandleFunc("/_control/flap", s.controlFlap)
	mux.HandleFunc("/_control/reset", s.controlReset)
	mux.HandleFunc("/_control/stats", s.controlStats)

	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				atomic.AddInt64(&s.connections, 1)
			}
		},
	}
	if cfg.tlsDir != "" {
		tc, err := makeTLS(cfg.tlsDir, cfg.clientCA)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		hs.TLSConfig = tc
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := writeAtomic(cfg.portFile, []byte(strconv.Itoa(port)+"\n")); err != nil {
			ln.Close()
			return err
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
	}()

	if hs.TLSConfig != nil {
		err = hs.ServeTLS(ln, "", "")
	} else {
		err = hs.Serve(ln)
	}
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// writeAtomic writes a file under a temporary name then renames it, so a
// test polling for it never reads it half written.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// data wraps one data API with what all three share: method check, body
// limit, injected delays and failures, auth, tenancy, logging and counters.
func (s *server) data(a *api) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&s.requests, 1)
		req := &request{r: r, base: s.baseEntry(a.name, r)}
		if a.meta != nil {
			a.meta(req)
		}

		body, readErr := io.ReadAll(io.LimitReader(r.Body, s.cfg.maxBody+1))
		req.body = body
		req.base.Bytes = len(body)

		var res result
		switch {
		case r.Method != http.MethodPost:
			res.err = errorf(405, "method %s not allowed, use POST", r.Method)
		case readErr != nil:
			res.err = errorf(400, "reading body: %v", readErr)
		}
		if res.err == nil && s.takeHold() {
			// A black hole: read, never answered, until the client gives up
			// (or the receiver stops). Nothing is stored.
			<-r.Context().Done()
			s.finish(w, req, result{err: errorf(499, "held unanswered (black hole) until the client gave up")}, nil)
			return
		}
		if res.err == nil && s.flapDown() {
			// Flapping, down half: the connection is closed unanswered.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					s.writeLog(req.base, []*entry{withError(req.base, "flapping: connection closed unanswered")})
					conn.Close()
					return
				}
			}
		}
		if res.err == nil {
			if d := s.takeDelay(); d > 0 {
				req.base.DelayedMs = d.Milliseconds()
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					// The client gave up: nothing is stored, so a retry
					// that follows is not counted twice.
					s.finish(w, req, result{err: errorf(499, "client closed the request during the injected delay")}, nil)
					return
				}
			}
			if inj := s.takeFail(); inj != nil {
				req.base.Injected = true
				s.finish(w, req, result{err: inj}, inj)
				return
			}
			res.err = s.checkAccess(req)
		}
		if res.err == nil && int64(len(body)) > s.cfg.maxBody {
			res.err = errorf(413, "request body is larger than %d bytes", s.cfg.maxBody)
		}
		if res.err == nil {
			res = a.handle(s, req)
		}
		s.finish(w, req, res, nil)
	})
}

func (s *server) baseEntry(apiName string, r *http.Request) *entry {
	e := &entry{
		Time:            time.Now().UTC().Format(time.RFC3339Nano),
		API:             apiName,
		Method:          r.Method,
		Path:            r.URL.Path,
		Labels:          map[string]string{},
		Tenant:          r.Header.Get("X-Scope-OrgID"),
		ContentType:     r.Header.Get("Content-Type"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Headers:         map[string]string{},
		TLS:             r.TLS != nil,
	}
	for k, v := range r.Header {
		if k == "Authorization" || k == "Proxy-Authorization" {
			continue
		}
		e.Headers[k] = strings.Join(v, ", ")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		e.ClientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	e.Auth, e.AuthOK = s.authOf(r)
	return e
}

// authOf names the credentials a request carries (never the secret) and
// whether they satisfy -basic / -bearer.
func (s *server) authOf(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	label, user, pass, token := "", "", "", ""
	isBasic, isBearer := false, false
	if i := strings.IndexByte(h, ' '); i > 0 {
		scheme, rest := h[:i], strings.TrimSpace(h[i+1:])
		switch strings.ToLower(scheme) {
		case "basic":
			isBasic = true
			label = "basic:?"
			if raw, err := base64.StdEncoding.DecodeString(rest); err == nil {
				if c := strings.IndexByte(string(raw), ':'); c >= 0 {
					user, pass = string(raw[:c]), string(raw[c+1:])
					label = "basic:" + user
				}
			}
		case "bearer":
			isBearer = true
			label = "bearer"
			token = rest
		default:
			label = "other:" + scheme
		}
	} else if h != "" {
		label = "other"
	}
	if s.cfg.basic == "" && s.cfg.bearer == "" {
		return label, true
	}
	ok := false
	if s.cfg.basic != "" && isBasic && label != "basic:?" {
		ok = secretEqual(user+":"+pass, s.cfg.basic)
	}
	if s.cfg.bearer != "" && isBearer {
		ok = ok || secretEqual(token, s.cfg.bearer)
	}
	return label, ok
}

func secretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (s *server) checkAccess(req *request) *apiError {
	if !req.base.AuthOK {
		if req.base.Auth == "" {
			return errorf(401, "missing credentials")
		}
		return errorf(401, "invalid credentials (%s)", req.base.Auth)
	}
	if s.cfg.tenantRequired && req.base.Tenant == "" {
		return errorf(401, "no org id")
	}
	return nil
}

// finish answers the request and logs it. inj is the injected answer, sent
// verbatim instead of the JSON error.
func (s *server) finish(w http.ResponseWriter, req *request, res result, inj *apiError) {
	status := 200
	if res.err != nil {
		status = res.err.status
	}
	lines := res.lines
	if len(lines) == 0 {
		lines = []*entry{req.base}
	}
	stored := res.err == nil && res.stored
	for _, e := range lines {
		e.Status = status
		e.Stored = stored
		if res.err != nil {
			e.Error = res.err.msg
		} else if !stored && e.Reason == "" {
			e.Reason = res.reason
		}
	}
	if stored {
		atomic.AddInt64(&s.stored, int64(len(lines)))
	}
	if status/100 != 2 {
		atomic.AddInt64(&s.refused, 1)
	}
	s.writeLog(req.base, lines)

	switch {
	case inj != nil:
		if inj.retryAfter != "" {
			w.Header().Set("Retry-After", inj.retryAfter)
		}
		if strings.HasPrefix(strings.TrimSpace(inj.msg), "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(inj.status)
		io.WriteString(w, inj.msg)
	case res.err != nil:
		if status == 401 {
			if s.cfg.basic != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="receiver"`)
			} else if s.cfg.bearer != "" {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
		}
		writeJSONError(w, res.err)
	default:
		w.WriteHeader(200)
	}
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(map[string]string{"code": e.code, "message": e.msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	w.Write(b)
}

func (s *server) writeLog(base *entry, lines []*entry) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.seq++
	for _, e := range lines {
		e.Seq = s.seq
		if s.logF == nil {
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			b, _ = json.Marshal(map[string]interface{}{"seq": s.seq, "api": base.API, "error": "log: " + err.Error()})
		}
		s.logF.Write(append(b, '\n'))
	}
}
