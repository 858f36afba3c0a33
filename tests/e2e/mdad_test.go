package e2e

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // UUIDv5 is defined on SHA-1
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mxadmin/synapse/tests/synapsetest"
)

// ansibleUUIDNamespace is the namespace of Ansible's to_uuid filter.
var ansibleUUIDNamespace = [16]byte{0x36, 0x1e, 0x6d, 0x51, 0xfa, 0xec, 0x44, 0x4a, 0x90, 0x79, 0x34, 0x13, 0x86, 0xda, 0x8e, 0x2e}

// mdadSecret derives a secret the way matrix-docker-ansible-deploy's
// group_vars/matrix_servers does: (key + suffix) | hash('sha512') | to_uuid.
// Written here independently of the role, so the test proves the role's
// derivation rather than repeating it.
func mdadSecret(key, suffix string) string {
	sum := sha512.Sum512([]byte(key + suffix))
	h := sha1.New() //nolint:gosec // UUIDv5
	h.Write(ansibleUUIDNamespace[:])
	h.Write([]byte(hex.EncodeToString(sum[:])))
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mdadCheckout lays out a checkout of matrix-docker-ansible-deploy as its
// users have it (our own files, written from its examples/hosts,
// examples/vars.yml and group_vars/matrix_servers): the inventory, the host's
// vars.yml, the repo-root group_vars that derive the per-service secrets, and
// a playbook of the user's own next to where setup.yml would be.
type mdadCheckout struct {
	dir, host, vars string
}

func newMDADCheckout(t *testing.T, domain, genericKey, bindPort string) *mdadCheckout {
	t.Helper()
	c := &mdadCheckout{dir: t.TempDir(), host: "matrix." + domain}
	write := func(rel, content string) {
		p := filepath.Join(c.dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	// The one deviation from a real checkout: the "server" is this machine,
	// so the host is reached with a local connection instead of SSH as root.
	write("inventory/hosts", "[matrix_servers]\n"+c.host+" ansible_host=127.0.0.1 ansible_connection=local\n")
	c.vars = filepath.Join("inventory", "host_vars", c.host, "vars.yml")
	write(c.vars, fmt.Sprintf(`---
matrix_domain: %s
matrix_homeserver_implementation: synapse
matrix_homeserver_generic_secret_key: '%s'
matrix_playbook_reverse_proxy_type: playbook-managed-traefik
postgres_connection_password: 'mdad-postgres-not-used-here'
# Step 2 of the README: publish Synapse's client API on the host.
matrix_synapse_container_client_api_host_bind_port: '%s'
`, domain, genericKey, bindPort))
	// Like the playbook's own group_vars: derived secrets, and wiring that
	// refers to role defaults a playbook without those roles does not have
	// (lazily evaluated: harmless as long as nobody reads them).
	write("group_vars/matrix_servers", `---
matrix_synapse_enabled: "{{ matrix_homeserver_implementation == 'synapse' }}"
matrix_synapse_macaroon_secret_key: "{{ (matrix_homeserver_generic_secret_key + ':synapse.mac') | hash('sha512') | to_uuid }}"
matrix_corporal_matrix_registration_shared_secret: "{{ matrix_synapse_registration_shared_secret }}"
matrix_authentication_service_config_database_password: "{{ (matrix_homeserver_generic_secret_key + ':mas.db') | hash('sha512') | to_uuid }}"
matrix_homeserver_container_url: "http://matrix-synapse:{{ matrix_synapse_container_client_api_port }}"
`)
	write("setup.yml", "---\n# Stands in for the playbook's setup.yml (never run here).\n- name: Set up Matrix\n  hosts: matrix_servers\n  tasks: []\n")
	// README step 5: the user's own playbook at the root.
	write("matrix-users.yml", `---
- name: Keep the Matrix users
  hosts: matrix_servers
  gather_facts: false
  roles:
    - role: mxadmin.synapse.matrix_users
`)
	return c
}

// addVars appends to the host's vars.yml, as the README's steps say.
func (c *mdadCheckout) addVars(t *testing.T, yaml string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(c.dir, c.vars), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(yaml)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func (c *mdadCheckout) setVar(t *testing.T, name, value string) {
	t.Helper()
	p := filepath.Join(c.dir, c.vars)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, name+":") {
			out = append(out, line)
		}
	}
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(out, "\n")+name+": '"+value+"'\n"), 0o644))
}

// play runs ansible-playbook from the checkout's root.
func (c *mdadCheckout) play(t *testing.T, args ...string) Playbook {
	t.Helper()
	return ansiblePlaybookIn(t, c.dir, testCollection(t), args...)
}

func TestMDADSecretDerivation(t *testing.T) {
	// Checked against Ansible's own filters: "abc" | hash('sha512') |
	// to_uuid of "abc:synapse.mac".
	assert.Equal(t, "a5a3235d-9b63-5e28-a707-9e4bb35d6339", mdadSecret("abc", ":synapse.mac"))
}

// TestMDADCheckout follows the README's section "In a
// matrix-docker-ansible-deploy checkout" step by step against a real Synapse
// whose registration shared secret is the one that playbook derives, and
// checks the server afterwards through the admin API and real logins.
func TestMDADCheckout(t *testing.T) {
	const domain = "mdad.test"
	genericKey := "mdad-generic-" + uniqueUser("key")
	secret := mdadSecret(genericKey, ":synapse.mac")
	recordSecrets(genericKey, secret)
	// A pepper too, as vars.yml sets it for Synapse: comparing passwords
	// (update_password=always) only works when the role finds it.
	const pepper = "mdad-pepper-7Zq"
	recordSecrets(pepper)
	srv := synapsetest.New(t, synapsetest.Config{ServerName: domain, SharedSecret: secret, Pepper: pepper})
	f := fixtureOn(t, srv)
	servicePassword(t, secret, domain, "mxadmin-synapse") // for the secret scan
	port := strings.TrimPrefix(f.proxy.URL, "http://127.0.0.1:")
	require.NotEqual(t, f.proxy.URL, port, "the proxy listens on the loopback")
	c := newMDADCheckout(t, domain, genericKey, "127.0.0.1:"+port)
	c.addVars(t, "matrix_synapse_password_config_pepper: '"+pepper+"'\n")
	host := c.host

	seed := func(playbook, extra string, more ...string) Playbook {
		f.proxy.Reset()
		return c.play(t, append([]string{"-i", "inventory/hosts", playbook, "--extra-vars=" + extra, "--tags=register-user"}, more...)...)
	}
	changed := func(pb Playbook) int {
		_, ch, _ := pb.Recap(t, host)
		return ch
	}

	// Synapse not published where the variable says: the failure points
	// at the variables to fix.
	c.setVar(t, "matrix_synapse_container_client_api_host_bind_port", "127.0.0.1:1")
	pb := seed("mxadmin.synapse.users", "username=alice password=mdad-alice-1 admin=yes", "-e", "matrix_users_retries=0")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, oneLine(pb.Output), "http://127.0.0.1:1: Synapse is unreachable")
	assert.Contains(t, oneLine(pb.Output), "check matrix_users_homeserver_url (by default from matrix_synapse_container_client_api_host_bind_port")
	c.setVar(t, "matrix_synapse_container_client_api_host_bind_port", "127.0.0.1:"+port)

	// Step 3: the first admin, from the collection's playbook, with nothing
	// in vars.yml but what publishes the client API.
	pb = seed("mxadmin.synapse.users", "username=alice password=mdad-alice-1 admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, true, f.read(t, "alice")["admin"])
	_, err := srv.Login("alice", "mdad-alice-1")
	require.NoError(t, err, "alice logs in with the password given")

	// The same from the user's own playbook in the checkout root, which
	// also loads group_vars/matrix_servers, and with the port published
	// the two other ways MDAD accepts.
	for i, bind := range []string{port, "0.0.0.0:" + port} {
		c.setVar(t, "matrix_synapse_container_client_api_host_bind_port", bind)
		name := fmt.Sprintf("bob%d", i)
		pb = seed("matrix-users.yml", "username="+name+" password=mdad-bob-1 admin=no")
		require.Equal(t, 0, pb.Exit, "%s:\n%s", bind, pb.Output)
		assert.Equal(t, 1, changed(pb))
		assert.Equal(t, false, f.read(t, name)["admin"])
		_, err = srv.Login(name, "mdad-bob-1")
		require.NoError(t, err)
	}
	c.setVar(t, "matrix_synapse_container_client_api_host_bind_port", "127.0.0.1:"+port)

	// With only the shared secret, the seed command on an existing user
	// works through the collection's service admin (created by the first
	// run above): promote, the same again (unchanged), demote.
	svc := srv.UserID("mxadmin-synapse")
	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-1 admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, true, f.read(t, "bob0")["admin"])
	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-1 admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb))
	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-1 admin=no")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, false, f.read(t, "bob0")["admin"])
	devices, err := srv.Devices(f.token, svc)
	require.NoError(t, err)
	assert.Empty(t, devices, "every run logged its service admin out")

	// MDAD's placeholder typed literally: one line, no request.
	pb = seed("mxadmin.synapse.users", "username=carol password=mdad-carol-1 admin=<yes|no>")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, pb.Output, `admin: must be yes or no (also true/false, 1/0), not \"<yes|no>\"`)
	assert.NotContains(t, pb.Output, "argument_spec_data")
	assert.Empty(t, f.proxy.Requests())

	// An admin's access token in vars.yml (no longer needed, still
	// honoured: it wins over the service admin).
	token, err := srv.Login("alice", "mdad-alice-1")
	require.NoError(t, err)
	recordSecrets(token)
	c.addVars(t, "matrix_users_admin_token: '"+token+"'\n")

	// Now the seed command changes existing users: the admin flag, and the
	// password only with update_password=always (compared, so said once).
	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-2 admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, true, f.read(t, "bob0")["admin"])
	assert.Contains(t, oneLine(pb.Output), "@bob0:"+domain+" exists, so the password given was not applied (update_password is on_create); rerun with update_password=always")
	bobSession, err := srv.Login("bob0", "mdad-bob-1")
	require.NoError(t, err, "the password did not change")

	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-2 admin=yes update_password=always", "--diff")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Contains(t, pb.Output, "******** (changed): logs the user out of their other sessions")
	_, err = srv.Login("bob0", "mdad-bob-2")
	require.NoError(t, err, "the new password works")
	assert.False(t, srv.TokenValid(bobSession), "and the other sessions were logged out, as the diff said")

	pb = seed("mxadmin.synapse.users", "username=bob0 password=mdad-bob-2 admin=yes update_password=always")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb), "the same password again changes nothing (compared with the pepper of vars.yml)")
	f.requireNoWrites(t)

	// Step 5: the declared list in vars.yml, kept by the user's playbook
	// and by the collection's.
	c.addVars(t, `matrix_users_list:
  - username: alice
    admin: true
  - username: bob1
    displayname: Bob One
  - username: dave
    password: mdad-dave-1
    admin: true
`)
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, "Bob One", f.read(t, "bob1")["displayname"])
	dave := f.read(t, "dave")
	require.NotNil(t, dave)
	assert.Equal(t, true, dave["admin"])
	_, err = srv.Login("dave", "mdad-dave-1")
	require.NoError(t, err)

	f.proxy.Reset()
	pb = c.play(t, "-i", "inventory/hosts", "mxadmin.synapse.users")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb), "the collection's playbook sees the same list and finds it kept")
	f.requireNoWrites(t)

	// Step 6: drift behind Ansible's back fails the gate, saying what.
	status, _, err := srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(srv.UserID("dave")), f.token, map[string]any{"admin": false})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	f.proxy.Reset()
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "--check", "-e", "matrix_users_fail_on_drift=true")
	assert.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "@dave:"+domain+": admin false→true")
	f.requireNoWrites(t)
	assert.Equal(t, false, f.read(t, "dave")["admin"], "check mode changed nothing")

	// The register-user command next to the declared list: it handles its
	// one user and says that the list is not applied in that run; a user the
	// list declares otherwise is refused, naming both, before any request.
	pb = seed("matrix-users.yml", "username=erin password=mdad-erin-1 admin=no")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, oneLine(pb.Output), "only erin is handled in this run; matrix_users_list (3 entries) and matrix_users_exclusive are not applied")
	assert.Equal(t, false, f.read(t, "dave")["admin"], "the list was not applied")
	_, err = srv.Login("erin", "mdad-erin-1")
	require.NoError(t, err)
	pb = seed("mxadmin.synapse.users", "username=dave password=mdad-dave-1 admin=no")
	assert.NotEqual(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "username=dave (--extra-vars) is also matrix_users_list[2] (dave), which declares it differently: admin=false here and admin: true there")
	assert.Empty(t, f.proxy.Requests())
}

// oneLine undoes the wrapping of warnings by older ansible-core releases.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestMDADServiceAdmin is issue 20 in a matrix-docker-ansible-deploy
// checkout with nothing of ours in vars.yml but the published client API:
// the shared secret the playbook derives is enough for everything, through
// the collection's service admin, which no run leaves a device of.
func TestMDADServiceAdmin(t *testing.T) {
	t.Parallel()
	const domain = "mdadsvc.test"
	genericKey := "mdad-generic-" + uniqueUser("svckey")
	secret := mdadSecret(genericKey, ":synapse.mac")
	recordSecrets(genericKey, secret)
	srv := synapsetest.New(t, synapsetest.Config{ServerName: domain, SharedSecret: secret})
	f := fixtureOn(t, srv)
	port := strings.TrimPrefix(f.proxy.URL, "http://127.0.0.1:")
	c := newMDADCheckout(t, domain, genericKey, "127.0.0.1:"+port)
	host, svc := c.host, srv.UserID("mxadmin-synapse")
	servicePassword(t, secret, domain, "mxadmin-synapse") // for the secret scan
	changed := func(pb Playbook) int {
		_, ch, _ := pb.Recap(t, host)
		return ch
	}
	seed := func(extra string, more ...string) Playbook {
		f.proxy.Reset()
		return c.play(t, append([]string{"-i", "inventory/hosts", "mxadmin.synapse.users", "--extra-vars=" + extra, "--tags=register-user"}, more...)...)
	}
	noDevices := func(when string) {
		t.Helper()
		devices, err := srv.Devices(f.token, svc)
		require.NoError(t, err)
		assert.Empty(t, devices, "%s: no device of the service admin is left", when)
	}

	// --check before the service admin exists: nothing created, the account
	// named, the drift gate fails as unverifiable.
	pb := seed("username=alice password=mdad-alice-1 admin=yes", "--check", "-e", "matrix_users_fail_on_drift=true")
	assert.NotEqual(t, 0, pb.Exit, pb.Output)
	out := oneLine(pb.Output)
	assert.Contains(t, out, "the service admin "+svc+" does not exist yet: the first run without check mode creates it")
	assert.Contains(t, out, "Could not verify 1 declared user(s)")
	assert.Contains(t, out, "matrix_users_service_account")
	u, err := srv.User(f.token, svc)
	require.NoError(t, err)
	assert.Nil(t, u)

	// The seed command twice: created, then ok/unchanged.
	pb = seed("username=alice password=mdad-alice-1 admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, true, f.read(t, "alice")["admin"])
	assert.Equal(t, true, f.read(t, "mxadmin-synapse")["admin"])
	noDevices("after the first seed run")
	pb = seed("username=alice password=mdad-alice-1 admin=yes update_password=always")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb), "the seed command again is unchanged")
	noDevices("after the second seed run")

	// Demote and promote an existing user.
	pb = seed("username=alice password=mdad-alice-1 admin=no")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 1, changed(pb))
	assert.Equal(t, false, f.read(t, "alice")["admin"])
	pb = seed("username=alice admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, true, f.read(t, "alice")["admin"])

	// A declared list with locked, in exclusive mode: a stranger goes, the
	// service admin stays and is never listed.
	_, err = srv.Register("stranger", "stranger-pass-1", false)
	require.NoError(t, err)
	c.addVars(t, `matrix_users_exclusive: true
matrix_users_protect: [admin]
matrix_users_list:
  - username: alice
    admin: true
  - username: bob
    password: mdad-bob-1
    locked: true
`)
	f.proxy.Reset()
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "--check", "--diff")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Contains(t, pb.Output, "@stranger:"+domain)
	assert.NotContains(t, pb.Output, svc+" (not declared)")
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, true, f.read(t, "bob")["locked"])
	assert.Equal(t, true, f.read(t, "stranger")["deactivated"])
	assert.Equal(t, false, f.read(t, "mxadmin-synapse")["deactivated"])
	noDevices("after the exclusive run")

	// --check after it exists: the gate sees real state and passes.
	pb = c.play(t, "-i", "inventory/hosts", "matrix-users.yml", "--check", "-e", "matrix_users_fail_on_drift=true")
	require.Equal(t, 0, pb.Exit, pb.Output)
	noDevices("after a check run")

	// Declaring the service admin is refused, saying why.
	pb = seed("username=mxadmin-synapse password=x-pass-1 admin=no")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, oneLine(pb.Output), "mxadmin-synapse is the collection's service admin (matrix_users_service_account)")

	// Two playbooks at once never log each other out.
	var wg sync.WaitGroup
	runs := make([]Playbook, 2)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = c.play(t, "-i", "inventory/hosts", "matrix-users.yml")
		}()
	}
	wg.Wait()
	for _, pb := range runs {
		require.Equal(t, 0, pb.Exit, pb.Output)
	}
	noDevices("after two concurrent runs")

	// A playbook interrupted mid-run (SIGTERM to ansible-playbook while
	// the module waits for the user list): the module logs its service
	// admin out before it ends, so no device is left.
	blockUserList(f)
	bin, err := synapsetest.AnsibleBin("ansible-playbook")
	require.NoError(t, err)
	cmd := exec.Command(bin, "-i", "inventory/hosts", "matrix-users.yml")
	cmd.Dir = c.dir
	cmd.Env = ansibleEnv(t, testCollection(t))
	var interrupted bytes.Buffer
	cmd.Stdout, cmd.Stderr = &interrupted, &interrupted
	f.proxy.Reset()
	require.NoError(t, cmd.Start())
	waitForRequest(t, f, "/_synapse/admin/v2/users")
	devices, err := srv.Devices(f.token, svc)
	require.NoError(t, err)
	require.Len(t, devices, 1, "the run's device exists while it runs")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	recordOutput(interrupted.String())
	deadline := time.Now().Add(30 * time.Second)
	for {
		devices, err = srv.Devices(f.token, svc)
		require.NoError(t, err)
		if len(devices) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.Empty(t, devices, "the interrupted run logged out:\n%s", interrupted.String())
	f.proxy.SetFault(nil)

	// The shared secret rotated in the inventory only (a new generic key
	// the server does not have yet): refused, naming the variable.
	c.setVar(t, "matrix_homeserver_generic_secret_key", genericKey+"-rotated")
	recordSecrets(mdadSecret(genericKey+"-rotated", ":synapse.mac"))
	pb = seed("username=alice admin=yes")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, oneLine(pb.Output), "matrix_users_registration_shared_secret does not match")
	c.setVar(t, "matrix_homeserver_generic_secret_key", genericKey)

	// Its password changed behind its back (as after a rotation on the
	// server): refused before any write, naming the account and the fix.
	status, _, err := srv.Do(http.MethodPut, "/_synapse/admin/v2/users/"+url.PathEscape(svc), f.token, map[string]any{"password": "changed-behind-1"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	pb = seed("username=carol password=mdad-carol-1")
	assert.NotEqual(t, 0, pb.Exit)
	assert.Contains(t, oneLine(pb.Output), "the service admin "+svc+" exists, but the password derived from matrix_users_registration_shared_secret does not log in")
	assert.Contains(t, oneLine(pb.Output), "Give matrix_users_admin_token once")
	assert.Nil(t, f.read(t, "carol"), "nothing was written")
	pb = seed("username=alice admin=yes", "-e", "matrix_users_admin_token="+f.token)
	require.Equal(t, 0, pb.Exit, pb.Output)
	// ansible-core 2.16 wraps warnings at the terminal's width, also after
	// the hyphen of mxadmin-synapse: compare without the wraps.
	assert.Contains(t, strings.ReplaceAll(oneLine(pb.Output), "- ", "-"), "reset the password of the service admin "+svc)
	pb = seed("username=alice admin=yes")
	require.Equal(t, 0, pb.Exit, pb.Output)
	assert.Equal(t, 0, changed(pb))
	noDevices("at the end")
}
