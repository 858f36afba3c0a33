package synapse

// The most each of Synapse's answers can legitimately bring; the transport
// refuses a longer one unread (httpapi's answers.go says why), and takes
// every answer's bytes from the process's budget.
const (
	// limitUser is for one user with its threepids and external IDs, and
	// for a password-hash search for one user ID: kilobytes in practice.
	limitUser answerLimit = 1 << 20
	// limitDevices is for one user's devices, which Synapse does not page:
	// about 200 bytes a device, so room for about 150,000 of them (an
	// admin account used by scripts that never log out).
	limitDevices answerLimit = 32 << 20
	// listedUserSize is the most one user of the user list takes: a user
	// ID of 255 bytes, a displayname of 256 characters and an avatar URL of
	// 1000 (Synapse's limits), every character \u-escaped, and the flags.
	listedUserSize = 16 << 10
	// hashRowSize is the most one row of the password-hash search takes
	// (a user ID, a 60-byte bcrypt hash and three flags).
	hashRowSize = 2 << 10
)

// pageLimit bounds a page of the user list of up to n users.
func pageLimit(n int) answerLimit {
	return min(limitSmall+answerLimit(n)*listedUserSize, maxAnswerSize)
}

// hashesLimit bounds a password-hash search that may return every user of
// a server of users accounts (0: not known, the hard cap).
func hashesLimit(users int64) answerLimit {
	if users <= 0 {
		return maxAnswerSize
	}
	// Accounts registered since the list was read are in the search too.
	users = min(users, int64(maxListedUsers))
	rows := users + max(users/10, 10_000)
	return answerLimit(min(int64(limitSmall)+rows*hashRowSize, int64(maxAnswerSize)))
}

// noteServerUsers remembers the number of accounts a page of the user list
// announced, which bounds a later hash search over all of them.
func (c *Client) noteServerUsers(total int) {
	if total > 0 {
		c.serverUsers.Store(int64(total))
	}
}
