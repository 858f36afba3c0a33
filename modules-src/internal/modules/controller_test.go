package modules

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// watched runs watchHangup on fd and returns a channel that is closed when
// it calls gone, and one that is closed when it returns.
func watched(t *testing.T, fd int) (gone, returned chan struct{}) {
	t.Helper()
	gone, returned = make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(done); <-returned })
	go func() {
		defer close(returned)
		watchHangup(fd, 10*time.Millisecond, func() { close(gone) }, done)
	}()
	return gone, returned
}

func requireClosed(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal(what)
	}
}

func requireOpen(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
		t.Fatal(what)
	case <-time.After(100 * time.Millisecond):
	}
}

// The reader of standard output goes away: a pipe (sshd's and Ansible's
// local connection's), a socket pair (an sshd built without USE_PIPES).
func TestWatchHangupSeesTheReaderGo(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	gone, _ := watched(t, int(w.Fd()))
	requireOpen(t, gone, "a pipe whose reader is still there is not a hang-up")
	require.NoError(t, r.Close())
	requireClosed(t, gone, "the pipe's reader closed, the watch did not notice")

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(pair[0])
	gone, _ = watched(t, pair[0])
	requireOpen(t, gone, "a connected socket is not a hang-up")
	require.NoError(t, unix.Close(pair[1]))
	requireClosed(t, gone, "the socket's peer closed, the watch did not notice")
}

// A file or /dev/null as standard output never hangs up; a closed
// descriptor is not watched at all.
func TestWatchHangupIgnoresFilesAndClosedDescriptors(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	for name, fd := range map[string]int{"a file": int(f.Fd()), "/dev/null": int(null.Fd())} {
		gone, returned := watched(t, fd)
		requireOpen(t, gone, name+" is never a hang-up")
		requireOpen(t, returned, name+" is watched until the run ends")
	}

	// A high descriptor number that nothing reuses while the test runs.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	const fd = 900
	require.NoError(t, unix.Dup2(int(w.Fd()), fd))
	require.NoError(t, w.Close())
	require.NoError(t, unix.Close(fd))
	gone, returned := watched(t, fd)
	requireClosed(t, returned, "a closed descriptor is not watched")
	requireOpen(t, gone, "a closed descriptor is not a hang-up")
}

// interruptible cancels the run when its standard output hangs up, with a
// cause that says so, and not when the writer is not a file.
func TestInterruptibleOnHangup(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	ctx, stop := interruptible(context.Background(), w)
	defer stop()
	require.NoError(t, r.Close())
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the hang-up did not cancel the run")
	}
	assert.Equal(t, errControllerGone, context.Cause(ctx))
}

// The whole module: a run waiting for a server that never answers stops
// (its request cancelled) soon after the reader of its output goes away,
// instead of waiting out its timeout.
func TestMainStopsWhenTheControllerIsGone(t *testing.T) {
	requests := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	defer srv.Close()
	args, err := json.Marshal(map[string]any{"_mxadmin_module": "matrix_user", "user": "bob", "admin_token": "t",
		"homeserver_url": srv.URL, "retries": 0, "timeout": 60})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(path, args, 0o600))

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	code := make(chan int, 1)
	go func() { code <- Main(path, w) }()
	select {
	case <-requests:
	case <-time.After(10 * time.Second):
		t.Fatal("the module sent no request")
	}
	start := time.Now()
	require.NoError(t, r.Close())
	select {
	case c := <-code:
		// Its result has nowhere to go: writing it fails (EPIPE), code 2.
		assert.Equal(t, 2, c)
		assert.Less(t, time.Since(start), 5*time.Second)
	case <-time.After(30 * time.Second):
		t.Fatal("the module kept running after its controller was gone")
	}
}

// SIGHUP (a closed terminal) stops the run as SIGTERM does, unless the
// module was started with it ignored (nohup): then it stays ignored.
func TestInterruptibleOnSIGHUP(t *testing.T) {
	ignored := signal.Ignored(syscall.SIGHUP)
	ctx, stop := interruptible(context.Background(), nil)
	defer stop()
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	select {
	case <-ctx.Done():
		assert.False(t, ignored, "started under nohup, SIGHUP must not stop the run")
		assert.EqualError(t, context.Cause(ctx), "interrupted by SIGHUP")
	case <-time.After(2 * time.Second):
		assert.True(t, ignored, "SIGHUP did not cancel the run")
	}
}
