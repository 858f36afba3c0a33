#!/usr/bin/python
# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module. The module is a Go program (modules-src/ in the
# collection's source) shipped as one binary per platform; the action plugin of the same
# name runs the binary built for the host the task runs on.

from __future__ import annotations

DOCUMENTATION = r"""
module: matrix_user
short_description: Keep Matrix Synapse users in a declared state
version_added: 0.1.0
description:
  - Creates, updates, deactivates and reactivates user accounts of a Synapse homeserver through its admin API,
    one user (O(user)) or a whole list in one run (O(users)).
  - Idempotent. It reads first and writes only the fields that differ, in as few requests as the API allows;
    a run with nothing to do sends no write. An option left out is not managed.
  - Replaces C(register_new_matrix_user) runs that fail when the user exists, and SQL run against the database
    to change admin status.
author:
  - mxadmin.synapse contributors (@mxadmin)
extends_documentation_fragment:
  - mxadmin.synapse.connection
attributes:
  check_mode:
    support: full
    description: Only reads; predicts C(changed), RV(action), RV(changes) and the diff exactly as a real run would report them.
  diff_mode:
    support: full
    description: Shows the declared fields before and after; a password shows as a marker, never as a value.
options:
  user:
    description:
      - The user, as a localpart (V(john)) or a full user ID (V(@john:example.com)).
      - Lower-cased, as Synapse stores user IDs (logins are case-insensitive), so V(John) is V(john).
      - A localpart may contain only V(a-z), V(0-9) and V(. _ = - / +), and may not be all digits; the whole ID is at most
        255 bytes. Anything else is refused before any request.
      - Exactly one of O(user) and O(users) is required.
    type: str
    aliases: [username]
  users:
    description:
      - A list of users to reconcile in one run, each a dict of the per-user options of this module (its suboptions
        below, each as the top-level option of the same name).
      - Current state is read in bulk (pages of the user list, and one request for all password hashes when many
        users use O(update_password=always)), and changes are sent with O(concurrency) requests in flight.
      - The user list must add up before anything is written. Pages whose count does not match the C(total) Synapse
        announces, that hold a user twice or a user of another server, or an empty page that says more follow, fail
        the run. Accounts registered while the pages are read shift them (Synapse pages by offset); the run then
        fails and says to rerun.
      - One user's failure does not stop the others; the result lists every user with what was done.
      - The same user twice (also V(John) and V(@john:server)) is refused before any request, and so is an entry with a
        key that is not one of these, naming the entry by index and user (users[2] (ex-staff)), the key and the
        closest valid one.
      - With O(users), the per-user options are set in each entry; O(update_password) and O(logout_devices) given
        at the top level are the default of entries that do not set them.
    type: list
    elements: dict
    suboptions:
      user:
        description: As O(user). Required in each entry.
        type: str
        required: true
        aliases: [username]
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
      erase:
        description: As O(erase).
        type: bool
        default: false
      password:
        description: As O(password).
        type: str
      update_password:
        description: As O(update_password); defaults to the top-level value.
        type: str
        choices: [always, on_create]
      logout_devices:
        description: As O(logout_devices); defaults to the top-level value.
        type: bool
      admin:
        description: As O(admin).
        type: bool
      displayname:
        description: As O(displayname).
        type: str
      avatar_url:
        description: As O(avatar_url).
        type: str
      user_type:
        description: As O(user_type).
        type: str
      locked:
        description: As O(locked).
        type: bool
      threepids:
        description: As O(threepids).
        type: list
        elements: dict
        suboptions:
          medium:
            description: V(email) or V(msisdn).
            type: str
            required: true
            choices: [email, msisdn]
          address:
            description: The email address or phone number.
            type: str
            required: true
      external_ids:
        description: As O(external_ids).
        type: list
        elements: dict
        suboptions:
          auth_provider:
            description: The SSO provider's ID in Synapse's configuration.
            type: str
            required: true
          external_id:
            description: The user's ID at that provider.
            type: str
            required: true
      ratelimit:
        description: As O(ratelimit).
        type: dict
        suboptions:
          messages_per_second:
            description: As O(ratelimit.messages_per_second).
            type: int
          burst_count:
            description: As O(ratelimit.burst_count).
            type: int
      shadow_banned:
        description: As O(shadow_banned).
        type: bool
      suspended:
        description: As O(suspended).
        type: bool
  state:
    description:
      - V(present) makes the account exist and be active. A deactivated account is reactivated.
      - V(absent) deactivates the account; with O(erase), its profile data is erased too. Synapse cannot delete accounts.
        A user that does not exist is created deactivated, which reserves the ID (Synapse never lets anyone register
        a deactivated user's ID again).
      - A create never lands on an account that exists. Synapse's user PUT creates or modifies, so the module creates
        with an empty PUT (which changes nothing on an account that exists) and sends the password and the other fields
        in a second PUT only when that one created the account. An account that someone else created between the
        module's read and its create is handled as the existing account it is (with O(update_password=on_create), its
        password is not set), and a warning says so. When the answer to the create is lost and a retry finds the
        account, no password is sent to it; the user fails, saying that it may have been created, and a rerun with
        O(update_password=always) sets the password.
      - V(absent) cannot be combined with the other fields (a deactivated account has no password and cannot be locked).
      - The fields with endpoints of their own (O(ratelimit), O(shadow_banned), O(suspended)) are set after the PUT, one
        request each. When one fails, the message says which fields were applied before it and which were not sent.
    type: str
    choices: [present, absent]
    default: present
  erase:
    description: With O(state=absent), also erase the user's profile (display name, avatar) and mark them erased for other servers.
    type: bool
    default: false
  password:
    description:
      - The user's password. Synapse enforces no password policy on the admin API.
      - Required to create a user with only O(registration_shared_secret).
      - Sent in the PUT that follows the create (see O(state)). When that PUT fails, the account exists without its
        password; the user fails, saying so, and a rerun with O(update_password=always) sets it (with
        O(update_password=on_create) a rerun cannot tell that account from one someone else made, and leaves it).
      - A Synapse whose password login or local password database is off (C(password_config.enabled),
        C(password_config.localdb_enabled)) sets no password after a create. The first refusal fails that user and
        keeps every other password back, so no more accounts are created without theirs.
      - A reactivated account gets this password whatever O(update_password) says, since deactivation removed its old one.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created.
      - V(always) makes the password equal to O(password). The module finds out whether it already is without changing it,
        by checking it against the stored bcrypt hash the way Synapse does (NFKC normalisation, O(password_pepper), first
        72 bytes). An unchanged password sends nothing (no re-hash, no logout).
      - When the server does not expose hashes, the password is set and a warning says so.
      - When a stored hash cannot be read (an error, or the user missing from Synapse's answer), that user fails and its
        password is not sent, rather than set blindly on every run.
      - A stored hash of a bcrypt cost above 15 is not compared (each step doubles the work, and cost 15 takes about 2 seconds
        on a small machine, cost 31 more than a day); that user fails, naming the cost, and nothing is sent for it. Synapse
        hashes with its C(bcrypt_rounds), 12 by default. Comparing stops when the run is interrupted (SIGTERM, SIGINT).
      - On a homeserver that delegates to MAS (O(mas_url)), which exposes no hashes, V(always) logs the user in once
        through MAS's compatibility login and logs that session out at once (a device appears in Synapse and goes within
        about a second), also in check mode; the password is set only when the login is refused. MAS's login rate limit
        (3 logins per address, then one every 20 seconds, by default) bounds how many users one run can check; a
        locked user cannot be checked and fails. See C(docs/mas.md).
    type: str
    choices: [always, on_create]
    default: on_create
  logout_devices:
    description: When the password is changed, log the user out of every device (what Synapse does by default).
    type: bool
    default: true
  password_pepper:
    description:
      - The C(password_config.pepper) of Synapse's configuration, needed to compare passwords when the server uses one.
      - It is checked against the server. A compared password that matches proves it; otherwise the first password the
        run sets is sent alone (a new user's when there is one) and read back from the stored hash before any other.
        When it does not match, the pepper is wrong; that user fails naming O(password_pepper), and no password that a
        comparison found changed is sent (the comparison used the wrong pepper, and setting it would log the user out on
        every run). A wrong pepper costs at most one password write per run. In a login run, the admin's own stored
        hash, when it comes with the others, also proves it.
    type: str
    default: ""
  admin:
    description: Whether the user is a server admin. The module never demotes, deactivates or locks the admin it authenticates as.
    type: bool
  displayname:
    description: Display name. V("") removes it. When not given on creation, Synapse uses the localpart.
    type: str
  avatar_url:
    description: Avatar, an C(mxc://) URI of an image in the media repository. V("") removes it.
    type: str
  user_type:
    description:
      - V(bot), V(support), or a type from Synapse's C(user_types.extra_user_types). V("") makes a regular user.
    type: str
  locked:
    description:
      - Whether the account is locked (it cannot log in or use the API until unlocked).
      - Needs Synapse 1.91 or later. On an older Synapse, which cannot lock, V(true) fails for that user with a message,
        and V(false) is always met.
    type: bool
  threepids:
    description:
      - The user's third-party IDs (email addresses, phone numbers); the list replaces the current one.
      - Email addresses are compared the way Synapse stores them (trimmed, local part case-folded, domain lower-cased).
    type: list
    elements: dict
    suboptions:
      medium:
        description: V(email) or V(msisdn).
        type: str
        required: true
        choices: [email, msisdn]
      address:
        description: The email address or phone number.
        type: str
        required: true
  external_ids:
    description:
      - Links to accounts at SSO providers; the list replaces the current one. An ID already linked to another user fails
        with HTTP 409.
    type: list
    elements: dict
    suboptions:
      auth_provider:
        description: The SSO provider's ID in Synapse's configuration.
        type: str
        required: true
      external_id:
        description: The user's ID at that provider.
        type: str
        required: true
  ratelimit:
    description:
      - The user's override of Synapse's rate limits, for bots and bridges that send more than a person does (Draupnir,
        Maubot, a bridge's bot), as C(POST /_synapse/admin/v1/users/<user_id>/override_ratelimit) sets it. Not given (or
        null), the override is not managed.
      - Both numbers, as Synapse names them; V(0) for both is no limit at all. An empty dict V({}) removes the override, so
        that the server's limits apply again. One number without the other is refused.
      - What it covers, in Synapse (1.90 to 1.163 read the same). Non-zero numbers replace the limit of sending messages
        (C(rc_message)) for this user; V(0) messages per second takes the user out of every rate limit Synapse checks per
        user (sending, joins, invites, room creation, ...). It does not cover logins, whose limits count per account and
        per address (synapse#11785), nor federation.
      - Read per user (one request each, for the users that declare it), compared, and set only when it differs; set
        after a create, since Synapse needs the account to exist.
    type: dict
    suboptions:
      messages_per_second:
        description: Messages a second the user may send over time (0 for no limit), from 0 to 2147483647.
        type: int
      burst_count:
        description: Messages the user may send at once before the rate applies, from 0 to 2147483647.
        type: int
  shadow_banned:
    description:
      - Whether the user is shadow-banned. A shadow-banned user's messages, invites and new rooms seem to succeed to them,
        but nobody else sees them (C(POST) and C(DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban)).
      - Read from the user list; set after a create. The module never shadow-bans the admin it authenticates as.
    type: bool
  suspended:
    description:
      - Whether the account is suspended. A suspended user can log in and read, but cannot send messages, join rooms or
        change their profile (C(PUT /_synapse/admin/v1/suspend/<user_id>)); lifting the suspension gives it all back.
      - Needs Synapse 1.122 or later. The module asks Synapse whether it serves the endpoint, without writing, before it
        writes anything; on an older Synapse V(true) fails for that user with a message, and V(false) is always met.
        Synapse 1.110 to 1.121 with the experimental C(msc3823_account_suspension) serve the endpoint, but only 1.121
        says who is suspended; before 1.121 a declared O(suspended) fails.
      - Read from the user's own answer (the user list does not carry it); set after a create. The module never
        suspends the admin it authenticates as.
    type: bool
  concurrency:
    description:
      - With O(users), how many requests are sent at once (1 to 64). Each request is retried on its own
        (429, 5xx, cut connections), without holding up the others.
    type: int
    default: 8
  exclusive:
    description:
      - With O(users), also deactivate every active local account the list does not declare, so that the list is the
        whole truth. Check mode lists them first.
      - Never touches the admin the module authenticates as, the service admin (O(service_account)), guest accounts, accounts of application services (bridges
        manage theirs), or accounts matching a O(protect) pattern. Deactivation is not erasure.
      - Refused with an empty O(users) list, and with only O(registration_shared_secret) and O(service_account=""). An entry whose account cannot
        be told (a full ID on another server, such as a typo V(@bot:exmaple.org), or a name that several legacy accounts
        share in different case) stops the run before any change, since the account it was meant to keep would be
        deactivated as undeclared.
      - No user list of Synapse says which accounts belong to an application service, so each undeclared account is read
        before it is counted. The threshold decides first; the run reads, in rounds, only as many as could still take it
        past O(max_deactivations), so a refused run stops reading early, and once a bridge's account is found the rest of
        its namespace is read last. Protecting a bridge's namespace (V(telegram_*)) skips its accounts without a read.
      - A safety threshold stops a list cut short by mistake from emptying the server; see O(max_deactivations).
    type: bool
    default: false
  max_deactivations:
    description:
      - With O(exclusive), the most undeclared accounts one run may deactivate. A run that would deactivate more than
        this, or more than O(max_deactivations_percent), fails before any change, listing the accounts it would have
        deactivated; check mode fails the same way, so a C(--check) run shows it first.
      - Raise both for a run that is meant to remove many accounts. V(0) makes O(exclusive) deactivate nobody (it fails
        when it finds an undeclared account). From 0 to 2000000.
    type: int
    default: 10
  max_deactivations_percent:
    description:
      - With O(exclusive), the most undeclared accounts one run may deactivate as a share of the accounts exclusive mode
        may deactivate (the declared ones and the undeclared ones it would deactivate), rounded up to whole accounts, so
        of 8 such accounts the default allows 2. The module's own admin, guests, accounts of application services
        (bridges hold more puppets than people) and protected accounts are never deactivated, and not counted; the
        message says how many of each there are.
      - The default of 25 catches a list that lost most of its entries on a server of any size, while the count
        O(max_deactivations) (default 10) bounds the damage on a large server, where 25 % would be hundreds of accounts.
      - From 0 to 100.
    type: int
    default: 25
  report_unchanged:
    description:
      - With O(users), also list the unchanged users in RV(users). By default RV(users) carries only the users that
        changed (or would, in check mode), failed, could not be verified or have a warning, and RV(summary) counts the
        rest, so that a no-op over 100,000 users returns a short result instead of 100,000 entries that Ansible would
        carry, register and print.
    type: bool
    default: false
  mas_adopt_synapse_accounts:
    description:
      - On a homeserver that delegates to MAS, create in MAS a declared user that Synapse has and MAS does not (a
        "half-provisioned" account, made behind MAS's back), adopting Synapse's account (MAS's create with
        C(skip_homeserver_check)). Without it, such a user fails, naming this option.
      - Ignored on a homeserver that does not delegate to MAS.
    type: bool
    default: false
  protect:
    description:
      - Patterns of accounts O(exclusive) never deactivates, matched case-insensitively against the whole localpart and
        against the full ID, for example V(bot-*), V(@notices:example.com), V(_*).
      - V(*) matches any run of characters, V(/), V(.), V(=), V(+), V(-), V(_) and V(:) included (unlike shell globs, it
        does not stop at V(/)), so V(bot-*) protects V(@bot-relay/irc:example.com); V(?) matches one character,
        V([a-z]) and V([!a-z]) one character of a class, and V(\\) makes the next character literal.
      - Protect the server notices account (C(server_notices.system_mxid_localpart)) and service accounts that are not
        declared.
      - A pattern that no account can match is refused before any request, naming the rule (a full ID without its
        server such as V(@notices), a server part without V(@) such as V(notices:example.com), a space, a character no
        localpart has).
        A full ID on another server than the homeserver's is refused before any write (before any request with
        O(server_name)).
    type: list
    elements: str
    default: []
notes:
  - On a homeserver that delegates authentication to the Matrix Authentication Service (MAS), give O(mas_url),
    O(mas_client_id) and O(mas_client_secret); users are then created, made admin, locked, given passwords,
    deactivated and reactivated through MAS's admin API; O(displayname) and O(avatar_url) are set at creation and
    compared afterwards (a difference fails, since they are not changed under MAS yet); O(threepids) are MAS's
    emails (an msisdn is refused); the fields the MAS backend does not manage yet (O(external_ids), O(user_type),
    O(ratelimit), O(shadow_banned), O(suspended)) are refused before any request; O(exclusive) works on MAS's user list. C(docs/mas.md) has the table.
  - C(changed) is true when Synapse acknowledged a write (in check mode, when one would be sent), or when a write was sent
    whose answer was lost (no answer, a 5xx, a refusal midway through a PUT of several fields); the message then says it
    may have been applied. A write Synapse refused, or one never sent (the run interrupted), is no change.
  - The module talks HTTP only. It runs on the host the task targets, which needs to reach O(homeserver_url); to run it on
    the controller, use C(delegate_to=localhost). Binaries ship for Linux and macOS on x86_64 and arm64.
  - Option values are coerced as Ansible's argument spec does, with one difference. A boolean, list or dict given for a
    text option (an unquoted YAML V(yes), V(off) or V(true) as a user name, a password written as a list) is refused,
    naming the option, where C(AnsibleModule) would turn it into the text C(True) or C(['a', 'b']); quote it. A number
    is taken as its text, with the warning Ansible gave up to 2.10 (YAML reads an unquoted C(0123) as 83 and C(1.10)
    as 1.1). An unknown option fails naming the closest valid one (for C(display_name), C(displayname)).
  - Runs with C(async) too (Ansible's async wrapper needs Python on the host the module runs on).
  - On the host the module runs on, the binary is kept in C(<remote_tmp>/mxadmin_synapse/) of the user the module runs as
    (by default C(~/.ansible/tmp/mxadmin_synapse/)), verified before every run (the directory the user's own and 0700, the
    file the user's own, neither a symlink, the SHA-256; on Linux the file that verified is the one executed) and uploaded
    only when missing or changed; a directory open to others is made private again (with a warning), one that cannot be
    (a symlink, another user's) fails naming the path and C(ansible_remote_tmp). The arguments reach the binary on
    standard input, so no secret is written to that host's disk. C(async) tasks, and
    connection or become plugins that cannot pass data on stdin (C(become_method=su) with ansible-core 2.19), take
    Ansible's own path instead (binary and args file in the task's temp dir; the binary deletes the args file as soon as
    it has read it). See the collection README.
  - A deactivated user can be promoted or demoted; reactivating one without O(password) leaves it without a password.
  - Synapse applies the fields of one modification one by one; if a request fails midway, earlier fields are set.
    The error says so, and a rerun converges.
seealso:
  - module: mxadmin.synapse.matrix_user_admin
  - name: Synapse admin API for users
    description: The endpoints this module uses.
    link: https://element-hq.github.io/synapse/latest/admin_api/user_admin_api.html
"""

EXAMPLES = r"""
- name: Create a user, or leave it alone if it exists
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: alice
    password: "{{ alice_initial_password }}"
    displayname: Alice Liddell

- name: Make the password equal to the vaulted one, logging out only if it changed
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: "@bob:example.com"
    password: "{{ bob_password }}"
    update_password: always

- name: Create the first admin when no admin token exists yet (shared secret)
  mxadmin.synapse.matrix_user:
    homeserver_url: http://127.0.0.1:8008
    registration_shared_secret: "{{ matrix_synapse_registration_shared_secret }}"
    user: admin
    password: "{{ admin_password }}"
    admin: true

- name: Log in as an admin instead of using a token (one login per run)
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_user: admin
    admin_password: "{{ admin_password }}"
    user: carol
    locked: true

- name: Deactivate a user and erase their profile
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: mallory
    state: absent
    erase: true

- name: Reconcile every declared user in one module run, from the controller
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    users:
      - username: alice
        password: "{{ alice_initial_password }}"
        admin: true
      - username: notify-bot
        user_type: bot
        displayname: Notifications
      - username: former-employee
        state: absent
  delegate_to: localhost
  register: result

- name: The list is the whole truth - deactivate every account it does not declare (bots and bridges excepted)
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    users: "{{ declared_users }}"
    exclusive: true
    protect:
      - notices
      - "bot-*"
  delegate_to: localhost

- name: Exempt a bot from rate limits (0 messages per second is no limit)
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: draupnir
    user_type: bot
    ratelimit:
      messages_per_second: 0
      burst_count: 0

- name: Let the server's rate limits apply to the bot again (remove the override)
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    user: draupnir
    ratelimit: {}

- name: A moderator's decisions - shadow-ban a spammer, suspend an account under review
  mxadmin.synapse.matrix_user:
    homeserver_url: https://matrix.example.com
    admin_token: "{{ synapse_admin_token }}"
    users:
      - username: spammer
        shadow_banned: true
      - username: under-review
        suspended: true
  delegate_to: localhost

- name: Set the connection once for several tasks (the action group covers every module of the collection)
  module_defaults:
    group/mxadmin.synapse.synapse:
      homeserver_url: https://matrix.example.com
      admin_token: "{{ synapse_admin_token }}"
  block:
    - name: Create dave
      mxadmin.synapse.matrix_user:
        user: dave
        password: "{{ dave_initial_password }}"
    - name: Promote dave
      mxadmin.synapse.matrix_user_admin:
        user: dave
        admin: true
"""

RETURN = r"""
action:
  description: What was done to the user (in check mode, what would be done).
  returned: with O(user)
  type: str
  sample: updated
  choices: [created, updated, reactivated, deactivated, unchanged, unverified, failed]
changes:
  description: The fields that changed (or would change), in the order Synapse applies them.
  returned: with O(user)
  type: list
  elements: str
  sample: [password, displayname]
created:
  description: Whether the user was created (or would be, in check mode).
  returned: with O(user)
  type: bool
user_id:
  description: The full user ID.
  returned: with O(user)
  type: str
  sample: "@alice:example.com"
user:
  description:
    - The user's state after the run (predicted in check mode). No secrets.
    - Null when it cannot be known (only O(registration_shared_secret) given and the user existed), and when a create
      failed (no account was made).
  returned: with O(user)
  type: dict
  contains:
    name:
      description: The full user ID.
      type: str
    admin:
      description: Whether the user is a server admin.
      type: bool
    deactivated:
      description: Whether the account is deactivated.
      type: bool
    locked:
      description: Whether the account is locked. Missing when not read (Synapse before 1.91 does not report it).
      type: bool
    erased:
      description: Whether the account is erased.
      type: bool
    displayname:
      description: The display name, or null.
      type: str
    avatar_url:
      description: The avatar's mxc URI, or null.
      type: str
    user_type:
      description: The user type, or null for a regular user.
      type: str
    threepids:
      description: Third-party IDs (medium, address). Missing when not read.
      type: list
      elements: dict
    external_ids:
      description: SSO links (auth_provider, external_id). Missing when not read.
      type: list
      elements: dict
    ratelimit:
      description: The rate-limit override (messages_per_second, burst_count), or null for none. Missing when not read
        (it is read for users that declare it).
      type: dict
    shadow_banned:
      description: Whether the user is shadow-banned.
      type: bool
    suspended:
      description: Whether the account is suspended. Missing when not read (the user list does not carry it; Synapse
        before 1.121 does not report it).
      type: bool
  sample:
    name: "@alice:example.com"
    admin: false
    deactivated: false
    locked: false
    erased: false
    displayname: Alice Liddell
    avatar_url: null
    user_type: null
    threepids: []
    external_ids: []
    shadow_banned: false
    suspended: false
users:
  description:
    - With O(users), one entry per user that changed (or would change, in check mode), failed, could not be verified or
      has a warning, in the declared order; exclusive mode's deactivations follow.
    - Unchanged users are counted in RV(summary) and listed only with O(report_unchanged=true).
  returned: with O(users)
  type: list
  elements: dict
  contains:
    user:
      description: The full user ID (or the entry, when the ID could not be built).
      type: str
    ref:
      description: The entry of O(users) it comes from, such as "users[3] (john)", or "(not declared)" for a user that O(exclusive) deactivates.
      type: str
    action:
      description: As RV(action).
      type: str
    changes:
      description: As RV(changes).
      type: list
      elements: str
    detail:
      description:
        - What differs, field by field, as the role's drift gate prints it, such as V(admin true→false); a new user is
          V(new user) followed by its declared fields in parentheses. A password change says whether it logs the user out
          of their other sessions. Empty when unchanged.
      type: str
    error:
      description: Why the user failed, beginning with its entry, such as "users[3] (john)".
      type: str
      returned: when the user failed
    warnings:
      description: Warnings about this user, each beginning with its entry.
      type: list
      elements: str
      returned: when there are any
  sample:
    - {user: "@alice:example.com", ref: "users[0] (alice)", action: created, changes: [password, admin]}
    - {user: "@mallory:example.com", ref: "(not declared)", action: deactivated, changes: [deactivated]}
drift_msg:
  description:
    - The message of the role's drift gate (C(matrix_users_fail_on_drift)) in a check run, per user what differs and the
      users that could not be read; empty when the server is as declared. The role's last task fails with it.
  returned: in check-mode runs of the mxadmin.synapse.matrix_users role with its drift gate on
  type: str
summary:
  description: With O(users), how many users had each outcome. The module fails when any user failed.
  returned: with O(users)
  type: dict
  sample: {created: 1, updated: 0, reactivated: 0, deactivated: 0, unchanged: 1, failed: 0}
protected:
  description: With O(exclusive), the active undeclared accounts a O(protect) pattern kept from deactivation, sorted.
  returned: with O(users) and O(exclusive), when the run got past its safety threshold
  type: list
  elements: str
  sample: ["@notices:example.com"]
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
