#!/usr/bin/python
# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module. The module is a Go program (modules-src/ in the
# collection's source) shipped as one binary per platform; the action plugin of the same
# name runs the binary built for the host the task runs on.

from __future__ import annotations

DOCUMENTATION = r"""
module: matrix_user_info
short_description: List and count the accounts of a Synapse homeserver, read-only
version_added: 0.2.0
description:
  - Returns the local accounts of a Synapse homeserver, or those matching filters, with counts, through the admin API.
  - Read-only, whatever it is given. With O(admin_token) it sends only C(GET) requests; with O(admin_user) it logs in
    and out (its own device, removed at the end), and sends nothing else. Every other request is refused by the module
    itself before it is sent.
  - The filters combine (an account must pass all of them). The user list is read in pages of 1000 accounts; per-account
    requests are sent only where the list cannot answer (see O(user_types), O(inactive_for) and O(details)), for the
    accounts the other filters kept, at most O(concurrency) at a time.
  - Answers the questions people otherwise ask with SQL or a web UI, in a task whose result is registered and checked
    with M(ansible.builtin.assert) or rendered with a template.
author:
  - mxadmin.synapse contributors (@mxadmin)
extends_documentation_fragment:
  - mxadmin.synapse.connection
attributes:
  check_mode:
    support: full
    description: Only reads, in check mode and out of it.
  diff_mode:
    support: none
    description: Changes nothing, so has no diff.
options:
  users:
    description:
      - Only these accounts, each a localpart (V(john)) or a full user ID (V(@john:example.com)), as
        M(mxadmin.synapse.matrix_user) takes them. Compared case-insensitively, so a legacy mixed-case account is found.
      - Names with no account are returned in RV(missing); an account another filter leaves out is not missing.
    type: list
    elements: str
  admins:
    description:
      - V(true) keeps only server admins, V(false) only the others. Not given, both.
    type: bool
  deactivated:
    description:
      - V(false) keeps the active accounts, V(true) only the deactivated ones.
    type: bool
    default: false
  user_types:
    description:
      - Only accounts of these types. Synapse's user types (V(bot), V(support), and any type the server's
        C(user_types.extra_user_types) adds), V(regular) for an account without one, and V(appservice) for an account
        registered by an application service (a bridge's puppets and bot), whatever its Synapse user type.
      - An application-service account has the type V(appservice) here and in C(counts.by_user_type), never V(regular)
        or V(bot). Only the account's own record tells it (the user list does not), so this filter reads the record of each
        account the other filters kept (one request each).
      - Lower-cased. An empty list is refused (it would match nothing).
    type: list
    elements: str
  inactive_for:
    description:
      - Only accounts whose last activity is older than this, and accounts never seen that already existed then (an account
        made yesterday and not used yet is not unused for 90 days). A duration back from now, a whole
        number of hours, days or weeks (V(36h), V(90d), V(12w)), or a date (V(2026-01-31), midnight UTC) or time
        (V(2026-01-31T12:00:00Z)) that is not in the future.
      - Last activity is Synapse's record of client requests (C(last_seen_ts)), the one its admin UI shows; Synapse
        writes it within a few seconds of a request, and a logged-out session's record stays.
      - Synapse 1.93 and later carry it in the user list. Older releases (1.90 has it neither in the list nor in the
        user's record) are asked per account (C(GET /_synapse/admin/v1/whois/<user_id>)), for the accounts the other
        filters kept.
    type: str
  details:
    description:
      - Also read, for each account returned, its own record (RV(accounts[].appservice_id), RV(accounts[].suspended)),
        its last activity, its rate-limit override (RV(accounts[].ratelimit)) and how many devices it has
        (RV(accounts[].devices)). Four requests per account, at most O(concurrency) at a time.
    type: bool
    default: false
  counts_only:
    description:
      - Return RV(counts) and leave out RV(accounts), for a result of a few lines on a large server.
    type: bool
    default: false
  concurrency:
    description:
      - How many per-account requests are sent at a time (with O(details), O(user_types) or an O(inactive_for) on an older
        Synapse).
    type: int
    default: 8
notes:
  - Needs O(admin_token), O(admin_user) and O(admin_password), or O(registration_shared_secret) with the collection's
    service admin (O(service_account), the default), which reads as an admin. With O(service_account="") the shared
    secret alone cannot read accounts and is refused before any request.
  - An unknown option (a misspelt filter) is refused before any request, naming the closest valid one; so are a
    duration that does not parse and a date in the future, naming O(inactive_for) and the rule.
  - Accounts registered while the list is read shift Synapse's pages; the module then fails and asks for a rerun
    instead of returning a list that is not one picture of the server.
  - Guests are listed (RV(accounts[].guest)).
  - On a homeserver that delegates authentication to the Matrix Authentication Service (MAS), give O(mas_url),
    O(mas_client_id) and O(mas_client_secret); the accounts are then read from MAS's admin API (its user list, and, with
    O(inactive_for), its session lists), with only C(GET)s. MAS holds no user type, shadow ban, erasure, application
    service or display name, so V(user_type), V(shadow_banned), V(erased), V(appservice_id) and V(displayname) are null
    and C(counts.by_user_type) is empty; O(user_types) and O(details) are refused before any request. An account's last
    activity there is the latest creation or activity of its MAS sessions (compatibility, OAuth 2.0 and browser), read
    only with O(inactive_for).
seealso:
  - module: mxadmin.synapse.matrix_user
  - module: mxadmin.synapse.matrix_user_admin
"""

EXAMPLES = r"""
- name: Read the server admins
  mxadmin.synapse.matrix_user_info:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    admins: true
  register: admins

- name: The admins are the declared ones, and no one else
  ansible.builtin.assert:
    that:
      - admins.accounts | map(attribute='user_id') | sort == ['@alice:example.com', '@ops:example.com']
    fail_msg: "Undeclared admins: {{ admins.accounts | map(attribute='user_id') | difference(['@alice:example.com', '@ops:example.com']) }}"

- name: Find the accounts unused for 180 days (and those never used)
  mxadmin.synapse.matrix_user_info:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    inactive_for: 180d
  register: unused

- name: Show them with their last activity
  ansible.builtin.debug:
    msg: "{{ item.user_id }}: last seen {{ item.last_seen | default('never', true) }}"
  loop: "{{ unused.accounts }}"
  loop_control:
    label: "{{ item.user_id }}"

- name: Count the bots and the bridge puppets, without listing them
  mxadmin.synapse.matrix_user_info:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user_types: [bot, appservice]
    counts_only: true
  register: bots

- name: Say how many
  ansible.builtin.debug:
    msg: "{{ bots.counts.by_user_type.bot | default(0) }} bots, {{ bots.counts.by_user_type.appservice | default(0) }} appservice accounts"

- name: Which bots are exempt from rate limits, and how many devices they have
  mxadmin.synapse.matrix_user_info:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user_types: [bot]
    details: true
  register: bot_details
"""

RETURN = r"""
accounts:
  description:
    - The accounts every filter kept, sorted by user ID. Left out with O(counts_only).
    - Times are given twice, as ISO 8601 in UTC (V(created), V(last_seen)) and as the milliseconds since the epoch
      that Synapse's user list gives (V(creation_ts), V(last_seen_ts)); Synapse's own record of one user gives
      C(creation_ts) in seconds, which the module never returns.
    - A key the server did not say is left out (V(last_seen) on Synapse before 1.93 without O(inactive_for) or
      O(details); V(appservice_id) and V(suspended) without O(details) or O(user_types)); null means the server said
      "none" (V(last_seen) null is never seen).
  returned: unless O(counts_only)
  type: list
  elements: dict
  contains:
    user_id:
      description: The full user ID.
      type: str
      sample: "@alice:example.com"
    displayname:
      description: The display name, null when none (and under MAS, where it stays in Synapse and is not read).
      type: str
    admin:
      description: Whether the account is a server admin.
      type: bool
    deactivated:
      description: Whether the account is deactivated.
      type: bool
    locked:
      description: Whether the account is locked (always V(false) before Synapse 1.91, which cannot lock).
      type: bool
    shadow_banned:
      description: Whether the account is shadow-banned; null under MAS, which does not hold it.
      type: bool
    guest:
      description: Whether the account is a guest.
      type: bool
    erased:
      description: Whether the account was deactivated with erase; null under MAS, which does not hold it.
      type: bool
    user_type:
      description: Synapse's user type (V(bot), V(support), ...), V(regular) for none; null under MAS, which does not hold it.
      type: str
      sample: regular
    appservice_id:
      description: The ID of the application service that registered the account, null for none (and under MAS, which does not hold it).
      type: str
      returned: with O(details) or O(user_types); always under MAS
    suspended:
      description: Whether the account is suspended.
      type: bool
      returned: with O(details) or O(user_types), on a Synapse that has suspension (1.110 and later)
    created:
      description: When the account was created, ISO 8601 UTC.
      type: str
      sample: "2026-01-31T09:12:44Z"
    creation_ts:
      description: When the account was created, milliseconds since the epoch.
      type: int
      sample: 1769850764000
    last_seen:
      description: The account's last activity, ISO 8601 UTC; null when never seen.
      type: str
      returned: when the server says it
      sample: "2026-11-02T17:03:10Z"
    last_seen_ts:
      description: The account's last activity, milliseconds since the epoch; null when never seen.
      type: int
      returned: when the server says it
    inactive:
      description: Whether the account is inactive by O(inactive_for) (always V(true) in an answer that filtered by it).
      type: bool
      returned: with O(inactive_for)
    ratelimit:
      description: The account's rate-limit override (V(messages_per_second), V(burst_count)); null when none.
      type: dict
      returned: with O(details)
      sample: {messages_per_second: 0, burst_count: 0}
    devices:
      description: How many devices the account has.
      type: int
      returned: with O(details)
counts:
  description:
    - Counts over the accounts every filter kept.
    - V(by_user_type) counts each account under its type as O(user_types) names it (an application-service account under
      V(appservice) once its record was read, that is with O(details) or O(user_types)).
    - V(inactive) is there with O(inactive_for); V(never_seen) counts the accounts whose last activity is known to be none.
  returned: always
  type: dict
  sample: {total: 42, admins: 2, deactivated: 0, locked: 0, guests: 0, never_seen: 5, inactive: 7, by_user_type: {regular: 38, bot: 2, appservice: 2}}
listed:
  description: How many local accounts the server has (every account of the list, before any filter).
  returned: always
  type: int
  sample: 1200
missing:
  description: The users of O(users) that have no account, as full user IDs, lower-cased.
  returned: always
  type: list
  elements: str
  sample: ["@nobody:example.com"]
retries:
  description:
    - How many requests were sent again during the run, and why. V(total) is every retry; V(429) and V(connection) are
      always there; each other status that was retried gets its own key.
  returned: always
  type: dict
  sample: {total: 0, "429": 0, connection: 0}
retry_log:
  description:
    - "One line per retry, at C(-vvv) and above, such as V(GET /_synapse/admin/v2/users: 429, waited 1.2s)."
  returned: at verbosity 3 (C(-vvv)) and above
  type: list
  elements: str
"""
