// Command producer pushes one event onto hookd's queue with go-redis.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o producer .
//	./producer [EVENT [DATA_JSON [ID]]]
//	./producer person.created '{"id":"1","firstName":"Alice"}'
//
// HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX
// (default hookd) name the Redis and the namespace, as for hookd itself.
// HOOKD_PREFIX may be a list (a,b,c), or one BASE with HOOKD_SHARDS=N
// (BASE:0 ... BASE:N-1); HOOKD_WORKSPACE sets the envelope's workspace, which
// picks the namespace (docs/producers.md, "Several namespaces"). Prints
// {"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
// namespace it chose.
//
// It imports go-redis v5 (gopkg.in/redis.v5), the go-redis that Debian 12
// packages (golang-gopkg-redis.v5-dev); examples/README.md says how to build
// it offline, and what changes with go-redis v9 (github.com/redis/go-redis/v9):
// the import path, and a context as the first argument of LPush.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	redis "gopkg.in/redis.v5"
)

var (
	eventRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
)

const sample = `{"id":"abc12345","firstName":"Alice","lastName":"Doe","email":"alice@example.com"}`

// envelope is what hookd reads from {prefix}:events (docs/producers.md).
// Data is json.RawMessage so that the record goes out with its bytes and key
// order unchanged; decoding it into a map would sort the keys and turn every
// number into a float64.
type envelope struct {
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp string          `json:"timestamp"`
	ID        string          `json:"id"`
	Workspace string          `json:"workspace,omitempty"`
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "producer: "+format+"\nusage: producer [EVENT [DATA_JSON [ID]]]\n",
		args...)
	os.Exit(2)
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintf(os.Stderr, "producer: random: %v\n", err)
		os.Exit(1)
	}
	return "evt_" + hex.EncodeToString(b)
}

// namespaces returns hookd's namespaces: the HOOKD_PREFIX list in its order,
// or BASE:0 .. BASE:N-1 with HOOKD_SHARDS=N.
func namespaces(prefix, shards string) []string {
	names := strings.Split(prefix, ",")
	seen := map[string]bool{}
	for _, name := range names {
		if !prefixRE.MatchString(name) {
			usage("HOOKD_PREFIX: %q is not 1..64 bytes of [A-Za-z0-9_.:-]", name)
		}
		if seen[name] {
			usage("HOOKD_PREFIX names a namespace twice")
		}
		seen[name] = true
	}
	if shards == "" {
		return names
	}
	n, err := strconv.Atoi(shards)
	if !digitsRE.MatchString(shards) || err != nil || n < 0 || n > 256 {
		usage("HOOKD_SHARDS must be a number from 0 (off) to 256")
	}
	if n == 0 {
		return names
	}
	if len(names) != 1 {
		usage("HOOKD_SHARDS takes a single HOOKD_PREFIX")
	}
	ns := make([]string, n)
	for i := range ns {
		ns[i] = names[0] + ":" + strconv.Itoa(i)
	}
	return ns
}

// pick returns the namespace of a workspace: ns[h(W) mod n], h(W) the first
// 4 bytes of SHA-256(W) as a big-endian unsigned integer; no workspace: ns[0].
func pick(ns []string, workspace string) string {
	if workspace == "" {
		return ns[0]
	}
	sum := sha256.Sum256([]byte(workspace))
	return ns[binary.BigEndian.Uint32(sum[:4])%uint32(len(ns))]
}

func main() {
	args := os.Args[1:]
	if len(args) > 3 {
		usage("too many arguments")
	}
	env := envelope{Event: "person.created", Data: json.RawMessage(sample)}
	if len(args) > 0 {
		env.Event = args[0]
	}
	if !eventRE.MatchString(env.Event) {
		usage("event %q is not <object>.<action>", env.Event)
	}
	if len(args) > 1 {
		var obj map[string]json.RawMessage // checks that it is one JSON object
		if err := json.Unmarshal([]byte(args[1]), &obj); err != nil || obj == nil {
			usage("DATA_JSON must be a JSON object")
		}
		env.Data = json.RawMessage(args[1])
	}
	if len(args) > 2 {
		env.ID = args[2]
	} else {
		env.ID = newID()
	}
	if !idRE.MatchString(env.ID) {
		usage("id %q is not 1..128 bytes of [A-Za-z0-9_.:-]", env.ID)
	}
	env.Workspace = os.Getenv("HOOKD_WORKSPACE") // who sees it, and its namespace
	if env.Workspace != "" && !idRE.MatchString(env.Workspace) {
		usage("HOOKD_WORKSPACE %q is not 1..128 bytes of [A-Za-z0-9_.:-]", env.Workspace)
	}
	ns := pick(namespaces(getenv("HOOKD_PREFIX", "hookd"), os.Getenv("HOOKD_SHARDS")),
		env.Workspace)
	env.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	body, err := json.Marshal(env) // compacts Data, keeps its bytes otherwise
	if err != nil {
		usage("cannot encode the envelope: %v", err)
	}

	opt, err := redis.ParseURL(getenv("HOOKD_REDIS_URL", "redis://127.0.0.1:6379/0"))
	if err != nil {
		usage("HOOKD_REDIS_URL: %v", err)
	}
	opt.DialTimeout = 5 * time.Second
	opt.ReadTimeout = 10 * time.Second
	opt.MaxRetries = 0
	client := redis.NewClient(opt)
	defer client.Close()
	key := "{" + ns + "}:events"
	if err := client.LPush(key, body).Err(); err != nil {
		fmt.Fprintf(os.Stderr, "producer: redis: %v\n", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(struct {
		Pushed    int    `json:"pushed"`
		ID        string `json:"id"`
		Namespace string `json:"namespace"`
	}{1, env.ID, ns})
	fmt.Println(string(out))
}
