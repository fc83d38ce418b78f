// Command receiver is a webhook receiver that verifies hookd's (and
// Twenty's) signature, with the standard library only.
//
//	HOOKD_SECRET=<the webhook's secret> go run . [PORT]
//
// It listens on 127.0.0.1:PORT (default 8080; RECEIVER_HOST changes the
// address). For each POST it:
//  1. reads the body as raw bytes, at most maxBody (413 beyond);
//  2. checks X-Twenty-Webhook-Timestamp (milliseconds) is at most 5 minutes
//     old and at most 1 minute ahead of this clock (401 otherwise: a replay);
//  3. computes HMAC-SHA256(secret, timestamp ":" raw body) and compares it
//     with X-Twenty-Webhook-Signature with hmac.Equal (401 otherwise);
//  4. only then parses the JSON, drops a delivery whose webhook-id it has
//     already handled, answers 200 at once and prints one line:
//     VERIFIED delivery <webhook-id>: <event> <data as JSON>
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"
)

const (
	maxBody   = 2 << 20 // hookd sends at most --max-envelope (1 MiB) + a timestamp
	maxAgeMs  = 5 * 60 * 1000
	maxSkewMs = 60 * 1000
	seenMax   = 10000 // webhook-ids remembered for de-duplication
)

var (
	digitsRE = regexp.MustCompile(`^[0-9]{1,16}$`)
	hex64RE  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// seenIDs remembers the last seenMax webhook-ids handled.
type seenIDs struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string
}

// add reports whether id is new, and remembers it.
func (s *seenIDs) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	s.ids[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > seenMax {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	return true
}

// verify returns nil when the delivery is authentic and fresh.
func verify(secret []byte, timestamp, signature string, body []byte, nowMs int64) error {
	if !digitsRE.MatchString(timestamp) {
		return errors.New("missing or malformed X-Twenty-Webhook-Timestamp")
	}
	ts, _ := strconv.ParseInt(timestamp, 10, 64) // 16 digits at most: no overflow
	if age := nowMs - ts; age > maxAgeMs {
		return fmt.Errorf("timestamp is %d s old", age/1000)
	} else if age < -maxSkewMs {
		return fmt.Errorf("timestamp is %d s in the future", -age/1000)
	}
	if !hex64RE.MatchString(signature) {
		return errors.New("missing or malformed X-Twenty-Webhook-Signature")
	}
	got, _ := hex.DecodeString(signature)
	// The signed message is the timestamp, ":", and the body's bytes exactly
	// as they arrived: never json.Marshal of what json.Unmarshal made of them.
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp + ":"))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return errors.New("signature does not match")
	}
	return nil
}

type receiver struct {
	secret []byte
	seen   seenIDs
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	wid := r.Header.Get("webhook-id")
	if r.ContentLength > maxBody { // refused before a byte of it is read
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		} else {
			w.WriteHeader(http.StatusBadRequest)
		}
		return
	}
	if err := verify(rv.secret, r.Header.Get("X-Twenty-Webhook-Timestamp"),
		r.Header.Get("X-Twenty-Webhook-Signature"), body, time.Now().UnixMilli()); err != nil {
		fmt.Printf("REJECTED delivery %s: %v\n", wid, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var event struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		w.WriteHeader(http.StatusBadRequest) // signed but not JSON: a bug, say so
		return
	}
	if !rv.seen.add(wid) {
		fmt.Printf("DUPLICATE delivery %s: %s\n", wid, event.Event)
		w.WriteHeader(http.StatusOK)
		return
	}
	// Answer at once; slow work belongs on a queue, since hookd gives up on
	// an attempt after its timeout (10 s by default) and sends it again.
	w.WriteHeader(http.StatusOK)
	fmt.Printf("VERIFIED delivery %s: %s %s\n", wid, event.Event, event.Data)
}

func main() {
	secret := os.Getenv("HOOKD_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "receiver: set HOOKD_SECRET to the webhook's secret")
		os.Exit(2)
	}
	port := "8080"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	host := os.Getenv("RECEIVER_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	rv := &receiver{secret: []byte(secret), seen: seenIDs{ids: map[string]struct{}{}}}
	srv := &http.Server{
		Addr:              net.JoinHostPort(host, port),
		Handler:           rv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(srv.Serve(ln))
}
