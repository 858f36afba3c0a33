package synapsetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
)

// Fixture is a set of accounts written straight into a Synapse database:
// 100,000 of them in seconds, where the admin API needs minutes (one
// transaction, a profile, a user-directory entry per account). The rows are
// the ones Synapse's own registration writes (users, profiles,
// user_directory and its search index, user_stats_current), so the accounts
// are real: the admin API lists and reads them, their owners can log in.
type Fixture struct {
	// Prefix names the ordinary accounts: <Prefix>-000001, <Prefix>-000002...
	Prefix string
	// Users is how many ordinary (active) accounts.
	Users int
	// Admins: the first Admins of the ordinary accounts are server admins.
	Admins int
	// Deactivated is how many more accounts, deactivated as Synapse leaves
	// them (no password, out of the user directory): <Prefix>-gone-000001...
	Deactivated int
	// AppService (one of the server's AppServices, by ID) owns
	// AppServiceUsers more accounts, as a bridge's puppets: the localpart is
	// the service's regex prefix (the part before ".*") followed by
	// <Prefix>-000001..., with appservice_id set, as registration by the
	// service's token leaves them.
	AppService      string
	AppServiceUsers int
	// Password is the password of every ordinary account (hashed once at
	// the server's bcrypt cost, with its pepper); "" leaves them without
	// one, as accounts from single sign-on are.
	Password string
}

// Name is the localpart of ordinary account i (1-based).
func (f Fixture) Name(i int) string { return fmt.Sprintf("%s-%06d", f.Prefix, i) }

// Total is how many accounts the fixture adds.
func (f Fixture) Total() int { return f.Users + f.Deactivated + f.AppServiceUsers }

// Populate stops the server, writes the fixture's accounts into its database
// with the driver Synapse uses (sqlite3, or psycopg2 on PostgreSQL), and
// starts it again, so that no cache of the running server hides them.
func (s *Server) Populate(f Fixture) error {
	if f.Prefix == "" || f.Admins > f.Users || f.Users < 0 || f.Deactivated < 0 || f.AppServiceUsers < 0 {
		return fmt.Errorf("fixture %+v: needs a prefix, and no more admins than users", f)
	}
	asPrefix := ""
	if f.AppServiceUsers > 0 {
		for _, as := range s.AppServices {
			if as.ID == f.AppService {
				// "@bridge_.*:test.local" → "bridge_"
				asPrefix = strings.TrimPrefix(strings.SplitN(as.Regex, ".*", 2)[0], "@")
			}
		}
		if asPrefix == "" {
			return fmt.Errorf("fixture: the server has no application service %q with a regex of the form @prefix.*:server", f.AppService)
		}
	}
	python, err := SynapsePython()
	if err != nil {
		return err
	}
	kind, target := s.dbTarget()
	spec, err := json.Marshal(map[string]any{
		"kind": kind, "target": target, "server_name": s.ServerName, "prefix": f.Prefix,
		"users": f.Users, "admins": f.Admins, "deactivated": f.Deactivated,
		"appservice": f.AppService, "appservice_prefix": asPrefix, "appservice_users": f.AppServiceUsers,
		"password": f.Password, "pepper": s.Pepper, "rounds": s.BcryptRounds,
	})
	if err != nil {
		return err
	}
	if err := s.kill(); err != nil {
		return err
	}
	cmd := exec.Command(python, "-c", populateScript, string(spec))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("writing the fixture: %v\n%s", err, out)
	}
	return s.start(python)
}

// dbTarget is how the scripts reach the server's database.
func (s *Server) dbTarget() (kind, target string) {
	if s.dbName != "" {
		conn, _ := json.Marshal(map[string]any{"user": "postgres", "dbname": s.dbName, "host": pg.dir, "port": pg.port})
		return "postgres", string(conn)
	}
	return "sqlite", s.Dir + "/homeserver.db"
}

// populateScript writes the rows of Synapse's registration
// (storage/databases/main/registration.py _register_user, then the user
// directory's update_profile_in_user_dir) for many accounts in one
// transaction. Columns added by later Synapse releases (approved, locked,
// suspended, profiles.full_user_id) are written only where the schema has
// them, so the fixture works on every supported release.
const populateScript = `
import json, sys, time
spec = json.loads(sys.argv[1])
pg = spec["kind"] == "postgres"
if pg:
    import psycopg2, psycopg2.extras
    db = psycopg2.connect(**json.loads(spec["target"]))
else:
    import sqlite3
    db = sqlite3.connect(spec["target"], timeout=30)
    db.execute("PRAGMA synchronous=OFF")
cur = db.cursor()

def columns(table):
    if pg:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    else:
        cur.execute("SELECT name FROM pragma_table_info(?)", (table,))
    return {r[0] for r in cur.fetchall()}

def insert(table, cols, rows, template=None):
    if not rows:
        return
    if pg:
        psycopg2.extras.execute_values(cur, "INSERT INTO %s (%s) VALUES %%s" % (table, ", ".join(cols)), rows,
                                       template=template, page_size=5000)
    else:
        cur.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join("?" * len(cols))), rows)

password_hash = None
if spec["password"]:
    import bcrypt, unicodedata
    pw = (unicodedata.normalize("NFKC", spec["password"]) + (spec["pepper"] or "")).encode("utf-8")[:72]
    password_hash = bcrypt.hashpw(pw, bcrypt.gensalt(spec["rounds"])).decode("ascii")

server, now = spec["server_name"], int(time.time())
# (localpart, password hash, admin, deactivated, appservice_id, in the user directory)
accounts = []
for i in range(1, spec["users"] + 1):
    accounts.append(("%s-%06d" % (spec["prefix"], i), password_hash, i <= spec["admins"], False, None, True))
for i in range(1, spec["deactivated"] + 1):
    accounts.append(("%s-gone-%06d" % (spec["prefix"], i), None, False, True, None, False))
for i in range(1, spec["appservice_users"] + 1):
    # An exclusive namespace keeps these out of the user directory.
    accounts.append(("%s%s-%06d" % (spec["appservice_prefix"], spec["prefix"], i), None, False, False, spec["appservice"], False))

ucols = columns("users")
cols = ["name", "password_hash", "creation_ts", "admin", "is_guest", "appservice_id", "user_type", "deactivated", "shadow_banned"]
extra = [c for c in ("approved", "locked", "suspended") if c in ucols]
rows = []
for lp, h, admin, gone, asid, _ in accounts:
    row = ["@%s:%s" % (lp, server), h, now, 1 if admin else 0, 0, asid, None, 1 if gone else 0, False]
    row += [{"approved": True, "locked": False, "suspended": False}[c] for c in extra]
    rows.append(tuple(row))
insert("users", cols + extra, rows)

# The profile registration creates: the localpart as display name.
pcols = ["user_id", "displayname"] + (["full_user_id"] if "full_user_id" in columns("profiles") else [])
insert("profiles", pcols, [(lp, lp) + (("@%s:%s" % (lp, server),) if len(pcols) == 3 else ()) for lp, *_ in accounts])

directory = [("@%s:%s" % (lp, server), lp) for lp, *rest in accounts if rest[-1]]
insert("user_directory", ["user_id", "room_id", "display_name", "avatar_url"], [(u, None, d, None) for u, d in directory])
if pg:
    insert("user_directory_search", ["user_id", "vector"],
           [(u, u[1:].split(":", 1)[0], server, d) for u, d in directory],
           template="(%s, setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'D')"
                    " || setweight(to_tsvector('simple', COALESCE(%s, '')), 'B'))")
else:
    insert("user_directory_search", ["user_id", "value"], [(u, "%s %s" % (u, d)) for u, d in directory])

cur.execute("SELECT COALESCE(MAX(stream_id), 0) FROM current_state_delta_stream")
stream = cur.fetchone()[0]
insert("user_stats_current", ["user_id", "joined_rooms", "completed_delta_stream_id"],
       [("@%s:%s" % (lp, server), 0, stream) for lp, *_ in accounts])
db.commit()
print(len(accounts))
`

// UserCount is the number of accounts Synapse's admin user list reports
// (guests, deactivated and locked ones included): how a fixture is checked
// against the server's own view.
func (s *Server) UserCount(token string) (int, error) {
	status, out, err := s.Do(http.MethodGet, "/_synapse/admin/v2/users?limit=1&guests=true&deactivated=true&locked=true", token, nil)
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("user list: %d %v %v", status, out, err)
	}
	total, ok := out.(map[string]any)["total"].(float64)
	if !ok {
		return 0, fmt.Errorf("user list: no total in %v", out)
	}
	return int(total), nil
}

// Pid is the process ID of the running Synapse (0 when it is not running),
// for a benchmark that reads the CPU time the server used.
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}
