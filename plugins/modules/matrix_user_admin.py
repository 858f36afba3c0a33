#!/usr/bin/python
# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module. The module is a Go program (modules-src/ in the
# collection's source) shipped as one binary per platform; the action plugin of the same
# name runs the binary built for the host the task runs on.

from __future__ import annotations

DOCUMENTATION = r"""
module: matrix_user_admin
short_description: Grant or revoke server admin on an existing Synapse user
version_added: 0.1.0
description:
  - Makes an existing user of a Synapse homeserver a server admin, or not, through the admin API.
  - Reads the current flag and writes only when it differs.
  - Replaces scripts such as C(matrix-change-user-admin-status) that wrote the flag into Synapse's database with SQL.
  - Never creates users; a user that does not exist fails the task. Use M(mxadmin.synapse.matrix_user) to create users.
author:
  - mxadmin.synapse contributors (@mxadmin)
extends_documentation_fragment:
  - mxadmin.synapse.connection
attributes:
  check_mode:
    support: full
    description: Only reads; predicts C(changed) and the diff.
  diff_mode:
    support: full
    description: Shows the admin flag before and after.
options:
  user:
    description:
      - The user, as a localpart (V(john)) or a full user ID (V(@john:example.com)); lower-cased.
    type: str
    required: true
    aliases: [username]
  admin:
    description:
      - V(true) makes the user a server admin, V(false) revokes it.
      - Accepts what people type on the command line, V(yes)/V(no), V(true)/V(false), V(on)/V(off), V(1)/V(0).
      - Demoting the admin the module authenticates as fails before any write (Synapse forbids demoting yourself).
      - A null (an empty value) is refused like a missing option; it never means V(false).
    type: bool
    required: true
notes:
  - On a homeserver that delegates authentication to MAS (O(mas_url)), the flag set is MAS's admin flag (Synapse's own
    C(admin) stays false there).
  - A deactivated user can still be promoted or demoted; the flag takes effect if the account is reactivated.
  - Needs O(admin_token), or O(admin_user) and O(admin_password), or O(registration_shared_secret) with the service
    admin (O(service_account)). O(registration_shared_secret) with O(service_account="") cannot read or change the
    flag and is refused.
  - The service admin (O(service_account)) is refused as O(user); the collection's own account is never promoted or
    demoted by the modules it serves.
  - Option values are coerced as Ansible's argument spec does, with one difference. A boolean, list or dict given for a
    text option (an unquoted YAML V(yes), V(off) or V(true) as a user name, a password written as a list) is refused,
    naming the option, where C(AnsibleModule) would turn it into the text C(True) or C(['a', 'b']); quote it. A number
    is taken as its text, with the warning Ansible gave up to 2.10 (YAML reads an unquoted C(0123) as 83 and C(1.10)
    as 1.1). An unknown option fails naming the closest valid one (for C(display_name), C(displayname)).
  - On the host the module runs on, the binary is kept in C(<remote_tmp>/mxadmin_synapse/) of the user the module runs as
    (by default C(~/.ansible/tmp/mxadmin_synapse/)), verified before every run (the directory the user's own and 0700, the
    file the user's own, neither a symlink, the SHA-256; on Linux the file that verified is the one executed) and uploaded
    only when missing or changed; a directory open to others is made private again (with a warning), one that cannot be
    (a symlink, another user's) fails naming the path and C(ansible_remote_tmp). The arguments reach the binary on
    standard input, so no secret is written to that host's disk. C(async) tasks, and
    connection or become plugins that cannot pass data on stdin (C(become_method=su) with ansible-core 2.19), take
    Ansible's own path instead (binary and args file in the task's temp dir; the binary deletes the args file as soon as
    it has read it). See the collection README.
seealso:
  - module: mxadmin.synapse.matrix_user
"""

EXAMPLES = r"""
- name: Make dave a server admin
  mxadmin.synapse.matrix_user_admin:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: dave
    admin: true

- name: Revoke admin from a full user ID, from the controller
  mxadmin.synapse.matrix_user_admin:
    homeserver_url: https://matrix.example.com
    admin_user: admin
    admin_password: "{{ synapse_admin_password }}"
    user: "@erin:example.com"
    admin: false
  delegate_to: localhost
"""

RETURN = r"""
user_id:
  description: The full user ID.
  returned: when the user could be resolved
  type: str
  sample: "@dave:example.com"
admin:
  description: Whether the user is a server admin after the run (in check mode, after a real run).
  returned: when the user exists
  type: bool
  sample: true
deactivated:
  description: Whether the account is deactivated.
  returned: when the user exists
  type: bool
  sample: false
retries:
  description:
    - How many requests were sent again during the run, and why, so that a run that survived a rate limit or a
      restarting server does not look like one that had none. V(total) is every retry; V(429) (rate limited) and
      V(connection) (no answer, or an answer cut short) are always there; each other status that was retried, such
      as V(502) or V(503), gets its own key. A normal run reports a V(total) of 0.
    - Each request is retried at most O(retries) times.
  returned: always
  type: dict
  sample: {total: 3, "429": 2, "503": 1, connection: 0}
retry_log:
  description:
    - "One line per retry, at C(-vvv) and above, such as V(GET /_synapse/admin/v2/users: 429, waited 1.2s)."
    - Method and path only, never a query string, header or body; nothing goes to stderr.
  returned: at verbosity 3 (C(-vvv)) and above
  type: list
  elements: str
  sample: ["GET /_synapse/admin/v2/users: 429, waited 1.2s", "PUT /_synapse/admin/v2/users/@bob:example.com: 503, waited 0.5s"]
"""
