package synapsetest

import (
	"os"
	"testing"
)

// TestMain stops what the tests started, the PostgreSQL server of
// MXADMIN_SYNAPSE_DB=postgres included, and removes its files.
func TestMain(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// Each Synapse gets its own database, and loses it when it stops: a file
// in its dir with SQLite, a database on the shared server with PostgreSQL.
func TestDatabaseRemovedOnStop(t *testing.T) {
	s := New(t, Config{})
	exists := func() bool {
		if DB() == "postgres" {
			out, err := pg.psql("SELECT count(*) FROM pg_database WHERE datname = '" + s.dbName + "'")
			if err != nil {
				t.Fatal(err)
			}
			return out == "1"
		}
		_, err := os.Stat(s.Dir + "/homeserver.db")
		return err == nil
	}
	name := s.dbName
	if DB() == "postgres" && name == "" {
		t.Fatal("no PostgreSQL database for a server started with MXADMIN_SYNAPSE_DB=postgres")
	}
	if !exists() {
		t.Fatalf("the %s database of a running Synapse is missing", DB())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s.dbName = name
	if exists() {
		t.Fatalf("the %s database is still there after Stop", DB())
	}
}
