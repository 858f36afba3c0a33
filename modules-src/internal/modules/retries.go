package modules

import (
	"github.com/mxadmin/synapse/modules-src/internal/ansible"
	"github.com/mxadmin/synapse/modules-src/internal/synapse"
)

// retryLogVerbosity is the -v count (-vvv) from which a result lists every
// retry, not only their counts.
const retryLogVerbosity = 3

// reportRetries puts the run's retries into its result, every result: a
// run that survived ten 429s must not look like one that had none. The
// detail goes into the result, never to stderr, which must stay empty.
func reportRetries(res *ansible.Result, log *synapse.RetryLog, verbosity int) {
	res.Set("retries", log.Counts())
	if verbosity >= retryLogVerbosity {
		res.Set("retry_log", log.Lines())
	}
}
