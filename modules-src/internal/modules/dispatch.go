// Package modules holds the collection's Ansible modules: their argument
// specs, how their options become a reconcile run, and how the outcome
// becomes the module result. One binary serves every module (it keeps the
// collection small: one binary per platform instead of one per module and
// platform); the action plugin names the module in ModuleKey.
package modules

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/reconcile"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// ModuleKey is the argument in which the action plugin names the module to
// run. Ansible's own _ansible_module_name names the binary, not the module.
const ModuleKey = "_mxadmin_module"

// Version is the collection version, set at build time.
var Version = "dev"

// served are the modules the binary serves, by the name the action plugin
// gives in ModuleKey. A new module is added here and nowhere else in Go.
var served = map[string]Module{
	"matrix_user":               {Name: "matrix_user", Spec: matrixUserSpec, Prepare: prepareMatrixUser, MAS: true},
	"matrix_user_admin":         {Name: "matrix_user_admin", Spec: matrixUserAdminSpec, Prepare: prepareMatrixUserAdmin, MAS: true},
	"matrix_registration_token": {Name: "matrix_registration_token", Spec: matrixRegistrationTokenSpec, Prepare: prepareMatrixRegistrationToken, Shown: tokenShown, MAS: true},
	"matrix_user_info":          {Name: "matrix_user_info", Spec: matrixUserInfoSpec, Prepare: prepareMatrixUserInfo, ReadOnly: true, MAS: true},
}

// Lookup returns a module by name.
func Lookup(name string) (Module, bool) {
	m, ok := served[name]
	return m, ok
}

// Names lists the modules the binary serves.
func Names() []string {
	var names []string
	for n := range served {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SpecFlag, given instead of an args file, makes the binary print the
// argument specs of every module it serves (WriteSpecs) instead of running
// one: the tests that hold the docs and the role against the binary read
// them there, so that nothing outside this module imports its packages.
const SpecFlag = "--spec"

// WriteSpecs prints, as one JSON object, the argument spec of every module
// the binary serves ("modules", keyed by module name: names, types,
// defaults, choices, aliases, no_log, required, sub-options and the rules
// between options) and the per-user fields of the fields table ("fields",
// in report order), which the docs must describe. It returns the process
// exit code.
func WriteSpecs(stdout io.Writer) int {
	specs := map[string]ansible.Spec{}
	for name, m := range served {
		specs[name] = m.fullSpec()
	}
	var fields []string
	for _, f := range reconcile.Fields() {
		fields = append(fields, f.Name)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"modules": specs, "fields": fields}); err != nil {
		return 2
	}
	return 0
}

// Main runs the module named in the args file at argsPath and prints its one
// JSON result to stdout. It returns the process exit code (Ansible reads the
// JSON, not the code, but a non-zero code helps people running the binary
// by hand). Nothing but the result is ever written: no logs, no stderr.
func Main(argsPath string, stdout io.Writer) int {
	var secrets []string
	var role Role
	retries, verbosity := synapse.NewRetryLog(), 0
	result := func() (res ansible.Result) {
		defer func() {
			if r := recover(); r != nil {
				res = ansible.Fail(fmt.Sprintf("internal error in the module (please report it): %v", r))
			}
		}()
		raw, err := ansible.ReadArgsFile(argsPath)
		if err != nil {
			return ansible.Fail(err.Error())
		}
		name, _ := raw[ModuleKey].(string)
		delete(raw, ModuleKey)
		if role, err = takeRoleContext(raw); err != nil {
			return ansible.Fail(err.Error())
		}
		m, ok := served[name]
		if !ok {
			return ansible.Fail(fmt.Sprintf("this binary serves the modules %s of mxadmin.synapse and is started by their action plugins, which name the module in %s; got %q", strings.Join(Names(), ", "), ModuleKey, name))
		}
		if role.Problem != "" {
			// The role's own checks come first, as its first task did, and
			// their message is printed as the role wrote it, as that task's
			// was: it names the extra vars and quotes no secret (the
			// placeholder password <your-password> is refused without being
			// quoted), while the scrub would mask "password" as a piece of it.
			return ansible.Fail(role.Problem)
		}
		spec := m.fullSpec()
		secrets = ansible.SecretValues(spec, raw)
		ansible.AddPublicWords(role.publicWords()...)
		params, internal, err := ansible.ValidateAs(spec, raw, role.Words())
		if err != nil {
			return ansible.Fail(err.Error())
		}
		verbosity = internal.Verbosity
		if m.Shown != nil {
			secrets = withoutValues(secrets, m.Shown(params))
		}
		ctx, stop := interruptible(synapse.WithRetryLog(context.Background(), retries), stdout)
		defer stop()
		// The validated options are dropped once the job is prepared
		// (100,000 declared users hold tens of MB in them): only their
		// warnings are kept.
		validationWarnings := params.Warnings()
		res = m.run(ctx, params, Run{CheckMode: internal.CheckMode, Diff: internal.Diff, Verbosity: internal.Verbosity, Role: role})
		if w := validationWarnings; len(w) > 0 {
			res.Warnings = append(append([]string{}, w...), res.Warnings...)
		}
		if role.Note != "" {
			res.Warnings = append([]string{role.Note}, res.Warnings...)
		}
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			// Run stopped its requests and logged out; the result says
			// what was done before the signal.
			res.Failed = true
			if res.Msg == "" {
				res.Msg = fmt.Sprintf("%v before the run ended", cause)
			} else {
				res.Msg = fmt.Sprintf("%v before the run ended; no change was sent after it, but one already sent may still have been applied (rerun to see). So far: %s", cause, res.Msg)
			}
		}
		return res
	}()
	reportRetries(&result, retries, verbosity)
	// Every message was rendered in the user's words before this point,
	// so the scrub masks secrets in the text as it is printed, and nothing
	// changes that text afterwards.
	if err := ansible.Write(stdout, result, secrets); err != nil {
		return 2
	}
	if result.Failed {
		return 1
	}
	return 0
}

// interruptible is the context of a run: SIGTERM, SIGINT or SIGHUP
// (Ansible's task timeout, Ctrl-C, a closed terminal) cancels it, and so
// does the end of the controller, seen as the hang-up of stdout when it is a
// pipe, socket or terminal (see watchHangup: over SSH, no signal reaches the
// module when ansible-playbook is interrupted). Cancelled, requests stop, a
// login run logs out (bounded), exclusive mode deactivates no one more, and
// the module still prints its one JSON result instead of dying with the
// run's device and token left valid. A second signal is handled the same
// way; only SIGKILL ends the module at once.
func interruptible(parent context.Context, stdout io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	if !signal.Ignored(syscall.SIGHUP) {
		// Started under nohup, SIGHUP stays ignored: whoever started it
		// asked for the run to outlive the terminal.
		signal.Notify(sigs, syscall.SIGHUP)
	}
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("interrupted by %s", signalName(sig)))
		case <-done:
		}
	}()
	if f, ok := stdout.(*os.File); ok {
		fd := int(f.Fd())
		go watchHangup(fd, hangupInterval, func() { cancel(errControllerGone) }, done)
	}
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// withoutValues is secrets less the values a task asked to see.
func withoutValues(secrets, shown []string) []string {
	out := secrets[:0:0]
	for _, s := range secrets {
		if !slices.Contains(shown, s) {
			out = append(out, s)
		}
	}
	return out
}
