#!/usr/bin/python
# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module. The module is a Go program (modules-src/ in the
# collection's source) shipped as one binary per platform; the action plugin of the same
# name runs the binary built for the host the task runs on.

from __future__ import annotations

DOCUMENTATION = r"""
module: matrix_registration_token
short_description: Manage the registration tokens of a Synapse homeserver (invite-only sign-up)
version_added: 0.1.0
description:
  - Creates, updates and deletes Synapse's registration tokens through the admin API
    (C(/_synapse/admin/v1/registration_tokens)). With C(registration_requires_token) on, a person can create an
    account on the homeserver only with a valid token, so tokens are invitations.
  - B(A registration token is a credential), whoever has it can create an account. Treat a token like a password;
    declare values from a vault, run the task with C(no_log), and hand generated values over privately.
  - One token (O(token) or O(name)) or a list (O(tokens)). A token is declared by its value (O(token)), or by a
    O(name) for the module to generate the value, C(<name>~<random>), returned once, to the run that created it.
  - Reads every token first, then sends only the difference, one request per token (create, update or delete); a rerun
    with nothing to do sends no write. V(pending) and V(completed) are Synapse's counts of sign-ups and are reported,
    never compared. A token that is used up or expired, declared with a new count or expiry, is updated in place, not
    recreated.
  - O(exclusive=true) also deletes the tokens the list does not declare, within a threshold
    (O(max_deletions), O(max_deletions_percent)).
  - Deleting a token (or letting it expire) does not affect the accounts made with it.
  - When Synapse delegates authentication to the Matrix Authentication Service (MAS), Synapse has no registration
    tokens; given O(mas_url), O(mas_client_id) and O(mas_client_secret), the module manages MAS's own tokens through
    MAS's admin API, behind the same options. O(uses_allowed) is MAS's C(usage_limit), O(expiry_time) its
    C(expires_at); O(state=absent) (and O(exclusive)) B(revoke) the token, since MAS deletes none - the revoked
    token stays in MAS, and a rerun sees it absent and changes nothing; a revoked token declared present again is
    unrevoked and given the declared limit and expiry. RV(tokens[].pending) is always 0 there, and
    RV(tokens[].completed) is MAS's C(times_used). MAS has no lookup by value, so every run lists all its tokens.
    The collection's C(docs/registration-tokens.md) has the whole mapping.
author:
  - mxadmin.synapse contributors (@mxadmin)
extends_documentation_fragment:
  - mxadmin.synapse.connection
attributes:
  check_mode:
    support: full
    description: Only reads; predicts C(changed), the actions and the diff. A token to generate gets no value.
  diff_mode:
    support: full
    description:
      - Shows each token that changes, before and after, by its entry and name, never its value.
      - V(expiry_time) is shown in both forms, epoch milliseconds and ISO 8601 in UTC.
options:
  token:
    description:
      - The token's value, as people type it at sign-up. A secret (C(no_log)); masked in results, diffs and messages
        unless O(show_token=true).
      - 1 to 64 characters of V(A-Z), V(a-z), V(0-9) and V(.) V(_) V(~) V(-) (Synapse's rule).
      - Exactly one of O(token) and O(name).
    type: str
  name:
    description:
      - Declares a token whose value the module generates, V(<name>~<random>), with the random part from a
        cryptographic random source (letters and digits, O(length) of them). The name is the token's identity; a rerun
        finds the token whose value begins with V(<name>~) instead of making another, and fails if there are several.
      - The whole value is returned once, in RV(tokens[].token) of the run that created it, and masked in every other
        run (unless O(show_token=true)). Register the task's result and run it with C(no_log).
      - Characters V(A-Z), V(a-z), V(0-9) and V(.) V(_) V(-) (no V(~)); the name, V(~) and O(length) make at most 64
        characters. A name is public; it should not say who the invitation is for if that is private.
    type: str
  length:
    description:
      - The length of the random part of a token generated for O(name) (8 or more; 24 is about 143 bits).
    type: int
    default: 24
  uses_allowed:
    description:
      - How many accounts the token can make. Null (or left out) is unlimited.
      - V(0) is refused. Synapse (seen on 1.90 to 1.163) reads 0 as unlimited when someone signs up with the
        token, so it would not stop sign-ups; to stop a token, use O(state=absent).
      - Sign-ups that passed the token step but did not finish (V(pending)) count against it too, until Synapse
        expires their session.
    type: int
  expiry_time:
    description:
      - When the token stops working, as an ISO 8601 date-time with an offset (V(2026-12-31T23:59:59Z),
        V(2026-12-31T23:59:59+01:00); a space may replace the V(T)) or as epoch milliseconds (V(1798761599000), as
        Synapse stores it). Null (or left out) is never.
      - Compared to the millisecond. A date-time without an offset is refused (whose midnight is not known), and so is
        a number that looks like epoch seconds or microseconds.
      - Synapse refuses to set an expiry in the past. A token that already has the declared expiry stays as it is
        after that time (a rerun is green and unchanged); any other expiry in the past fails before any write.
    type: raw
  state:
    description:
      - V(present) creates or updates the token, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  tokens:
    description:
      - A list of tokens, each with the options above (O(tokens[].token) or O(tokens[].name), and
        O(tokens[].uses_allowed), O(tokens[].expiry_time), O(tokens[].length), O(tokens[].state)). Declaring the same
        value, or the same name, twice is refused.
      - Mutually exclusive with O(token) and O(name); the per-token options go into the entries.
    type: list
    elements: dict
    suboptions:
      token:
        description: The token's value (a secret). See O(token).
        type: str
      name:
        description: The name of a token to generate. See O(name).
        type: str
      length:
        description: The length of the random part of a generated token. See O(length).
        type: int
        default: 24
      uses_allowed:
        description: How many accounts the token can make; null is unlimited. See O(uses_allowed).
        type: int
      expiry_time:
        description: When the token stops working; null is never. See O(expiry_time).
        type: raw
      state:
        description: V(present) or V(absent).
        type: str
        choices: [present, absent]
        default: present
  show_token:
    description:
      - Show the values of the tokens in the result, every run, instead of masking them. For tokens meant to be
        published (a sign-up token printed on a conference badge). Values still never appear in the diff.
    type: bool
    default: false
  exclusive:
    description:
      - Also delete every token of the server that O(tokens) does not declare. Needs O(tokens).
      - Refused when no token is declared present (it would delete every token), unless O(allow_empty=true).
      - Decided before any write; stops deleting when a declared entry failed. The result lists the deleted tokens
        (values masked); check mode lists what would go.
    type: bool
    default: false
  allow_empty:
    description:
      - With O(exclusive=true), allow a declaration with no token present, which deletes every registration token of
        the server.
    type: bool
    default: false
  max_deletions:
    description:
      - At most this many undeclared tokens are deleted by one O(exclusive) run; more fails the task before any write.
    type: int
    default: 10
  max_deletions_percent:
    description:
      - At most this share (in percent) of the server's tokens is deleted by one O(exclusive) run; more fails the task
        before any write. Rounded up, so that one deletion is always possible unless a limit is 0.
    type: int
    default: 25
notes:
  - Needs O(admin_token) or O(admin_user) and O(admin_password); O(registration_shared_secret) alone cannot manage
    tokens and is refused. Under MAS, it needs MAS's admin client (O(mas_client_id), O(mas_client_secret)).
  - Under MAS, sign-up with a token needs C(account.registration_token_required) in MAS's configuration. MAS accepts
    values, a zero limit and past expiries that Synapse refuses; the module keeps Synapse's rules on both backends.
  - Sign-up with a token needs C(enable_registration) and C(registration_requires_token) in Synapse's configuration
    (in matrix-docker-ansible-deploy, C(matrix_synapse_enable_registration) and
    C(matrix_synapse_registration_requires_token)). See the collection's C(docs/registration-tokens.md).
  - Every token value read from the server is masked in the result, messages and the retry log, including those of
    undeclared tokens, unless O(show_token=true).
seealso:
  - module: mxadmin.synapse.matrix_user
  - name: Synapse's registration tokens admin API
    description: The endpoints this module uses.
    link: https://element-hq.github.io/synapse/latest/usage/administration/admin_api/registration_tokens.html
"""

EXAMPLES = r"""
- name: Invite five people (one token each, generated; the values are returned once)
  mxadmin.synapse.matrix_registration_token:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    tokens:
      - {name: invite-1, uses_allowed: 1}
      - {name: invite-2, uses_allowed: 1}
      - {name: invite-3, uses_allowed: 1}
      - {name: invite-4, uses_allowed: 1}
      - {name: invite-5, uses_allowed: 1}
  register: invitations
  no_log: true  # the result holds the new values: keep them out of logs and the console

- name: Hand the new values over privately (only the run that created a token has its value)
  ansible.builtin.copy:
    dest: "{{ lookup('env', 'HOME') }}/invitations.txt"
    mode: "0600"
    content: |
      {% for t in invitations.tokens if t.action == 'created' %}
      {{ t.name }}: {{ t.token }}
      {% endfor %}
  delegate_to: localhost
  no_log: true
  when: invitations.tokens | selectattr('action', 'equalto', 'created') | list | length > 0

- name: A token for the team, valid until the end of the month, 20 sign-ups
  mxadmin.synapse.matrix_registration_token:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    token: "{{ vault_team_signup_token }}"
    uses_allowed: 20
    expiry_time: "2026-12-31T23:59:59+01:00"
  no_log: true

- name: A one-off token for one person, expiring in a week (epoch milliseconds)
  mxadmin.synapse.matrix_registration_token:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    name: for-dana
    uses_allowed: 1
    expiry_time: "{{ (now(utc=true).timestamp() * 1000 + 7 * 86400 * 1000) | int }}"
  register: dana
  no_log: true

- name: Revoke an invitation (accounts already made with it stay)
  mxadmin.synapse.matrix_registration_token:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    name: invite-3
    state: absent

- name: Keep exactly the declared tokens (drift check with --check --diff)
  mxadmin.synapse.matrix_registration_token:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    tokens:
      - {token: "{{ vault_team_signup_token }}", uses_allowed: 20}
      - {name: invite-1, uses_allowed: 1}
    exclusive: true
    max_deletions: 5
  no_log: true
"""

RETURN = r"""
tokens:
  description:
    - One entry per declared token, in the order declared, then one per undeclared token that O(exclusive) deletes.
    - Also when a write failed (the entries say which, and a value generated in that run is still returned).
  returned: unless the run failed before its first write (the read, O(exclusive)'s threshold, an expiry in the past)
  type: list
  elements: dict
  contains:
    token:
      description:
        - The value, only in the run that generated it (O(name)), or with O(show_token=true); otherwise V(********).
          Null for a token to generate in check mode, or one that was not made.
      type: str
      sample: invite-1~Xk3f9QmT2pLw8ZrB7nVc4HsY
    name:
      description: The O(name) of a generated token; null for a token declared by value and for undeclared ones.
      type: str
      sample: invite-1
    entry:
      description: The declared entry, as messages name it (V(tokens[2] (invite-3)), V(tokens[0])).
      returned: for declared tokens
      type: str
      sample: tokens[0] (invite-1)
    declared:
      description: False for an undeclared token that O(exclusive) deletes.
      type: bool
    action:
      description: V(created), V(updated), V(deleted), V(unchanged), or V(absent) (declared absent and not there).
        In check mode, what the real run would do.
      type: str
      sample: created
    changes:
      description: What differs, V(state), V(uses_allowed), V(expiry_time).
      type: list
      elements: str
      sample: [uses_allowed]
    state:
      description: V(present) or V(absent) after the run.
      type: str
    uses_allowed:
      description: The number of accounts the token can make; null is unlimited.
      type: int
      sample: 1
    expiry_time:
      description: The expiry in epoch milliseconds; null is never.
      type: int
      sample: 1798761599000
    expiry_time_iso:
      description: The same expiry in ISO 8601, UTC; null is never.
      type: str
      sample: "2026-12-31T23:59:59Z"
    pending:
      description: Sign-ups in progress with the token (Synapse's count).
      type: int
      sample: 0
    completed:
      description: Accounts made with the token (Synapse's count).
      type: int
      sample: 1
    failed:
      description: True when this token's write failed (its V(msg) says why).
      returned: when it failed
      type: bool
    msg:
      description: Why this token's write failed.
      returned: when it failed
      type: str
msg:
  description: "What the run did, as counts (V(registration tokens: 2 created, 3 unchanged)), or why it failed."
  returned: always
  type: str
retries:
  description:
    - How many requests were sent again during the run, and why. V(total) is every retry; V(429) and V(connection)
      are always there; each other status that was retried gets its own key.
  returned: always
  type: dict
  sample: {total: 0, "429": 0, connection: 0}
retry_log:
  description:
    - One line per retry, at C(-vvv) and above (method and path; token values in paths are masked).
  returned: at verbosity 3 (C(-vvv)) and above
  type: list
  elements: str
"""
