package modules

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// errControllerGone is the cause of a run cancelled because nobody is left
// to read its result.
var errControllerGone = errors.New("interrupted: the controller is gone (the module's standard output was closed)")

// hangupInterval is how often the watch looks at standard output: a
// non-blocking poll(2) of one descriptor, a few microseconds of CPU time per
// look. A request started in the interval between the controller's end and
// the next look can still reach the server.
const hangupInterval = 200 * time.Millisecond

// watchHangup calls gone once the reading end of the descriptor fd (standard
// output) is closed, and returns when done is closed or after calling gone.
//
// It is how the module notices that ansible-playbook was interrupted while
// the module runs over SSH. On Ctrl-C (seen with ansible-core 2.16 and 2.19,
// Ansible's SSH defaults: a shared connection, no tty) the ssh client on the
// controller dies and sshd closes the session's pipes, but nothing signals
// the module: no SIGHUP (there is no terminal), no new parent (the shell that
// started the module waits for it, and sshd's session stays for the shared
// connection). What changes is its standard output, where the result would
// go: poll(2) reports POLLERR (Linux, pipe) or POLLHUP (macOS, sockets, a
// hung-up terminal, as with become_method su) on it. Its standard input
// says nothing: the arguments were read to its end before the run began.
// A file or /dev/null as standard output never hangs up; a closed one is
// not watched. (When ansible-playbook is killed outright its worker goes
// on with the connection open: nothing on the target can tell.)
//
// The poll asks for POLLOUT with a zero timeout on every look: macOS reports
// a hang-up only for an event asked for, and POLLOUT is always ready, so the
// poll cannot block. It works the same on Linux.
func watchHangup(fd int, interval time.Duration, gone func(), done <-chan struct{}) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		fds[0].Revents = 0
		n, err := unix.Poll(fds, 0)
		switch {
		case err == unix.EINTR:
		case err != nil || fds[0].Revents&unix.POLLNVAL != 0:
			return // nothing that can be watched
		case n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
			gone()
			return
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
