# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module of mxadmin.synapse shares: how to reach and authenticate to Synapse."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  homeserver_url:
    description:
      - URL of the Synapse homeserver, where its client and admin APIs answer.
      - May carry a path when Synapse sits behind a reverse proxy under one, for example C(https://example.com/matrix).
      - Redirects are not followed; give the address Synapse answers on.
      - May not contain whitespace or control characters (a stray space or line break is refused before any request).
    type: str
    default: http://127.0.0.1:8008
  server_name:
    description:
      - The homeserver's server name, the part after the colon in user IDs.
      - Learned from the server when not given. Give it to have a full user ID on another server refused before any request,
        or when only O(registration_shared_secret) is given and full user IDs are used.
    type: str
  admin_token:
    description:
      - Access token of a server admin. The recommended way to authenticate.
      - Mutually exclusive with O(admin_user).
      - May not contain whitespace or control characters; a blank token, or one with a space or a line break around it,
        is refused before any request, naming the kind and position of the character (never the token).
    type: str
  admin_user:
    description:
      - Localpart or full ID of a server admin to log in as, with O(admin_password).
      - May not contain whitespace or control characters.
      - The module logs in once per run on a device of its own, C(MXADMIN_SYNAPSE_ANSIBLE_<login time>_<random>), so
        that runs at the same time never log each other out, and logs out at the end of the run, also when it is
        stopped by SIGTERM, SIGINT or SIGHUP, or by Ctrl-C of C(ansible-playbook) over SSH, which the module sees as its
        output closing (within 10 seconds; the result then fails and says so).
      - A run killed outright (SIGKILL, a crash of the host) cannot log out; the next real login run removes the devices of
        that prefix not used for 30 minutes (a live run sends a request at least every 5 minutes, so it is never cut
        off), so devices do not pile up and their tokens stop working.
      - Synapse allows few logins per account and per address (by default a burst of 5, then about one every 5 minutes).
        A refused login whose wait fits in the request's wait budget (60 seconds; matrix-docker-ansible-deploy allows
        one login every 6 seconds) is waited out; a longer one fails at once with the wait Synapse asks for. Playbooks
        that run the modules often should use O(admin_token), or raise Synapse's C(rc_login).
      - Check mode logs in and out as well; that creates and removes a session of the admin, and changes no user. It
        leaves the devices of killed runs for the next real run to remove.
        For strictly read-only check runs, use O(admin_token).
    type: str
  admin_password:
    description: Password of O(admin_user).
    type: str
  registration_shared_secret:
    description:
      - The C(registration_shared_secret) of Synapse's configuration.
      - Alone (without O(admin_token) or O(admin_user)), the module logs in as the collection's service admin
        O(service_account), which it creates on first need with this secret; from then on it works as with an admin
        token. See O(service_account).
      - With O(service_account=""), the secret alone can create users but not read or change them; an existing user
        whose declaration manages more than its existence fails, naming the fields that could not be checked; one
        declared with only an C(on_create) password is reported C(unverified) with a warning. Check mode cannot verify
        anything. Fields a registration cannot set (C(avatar_url), C(locked), C(threepids), C(external_ids)) are
        refused before any request.
      - When O(admin_token) or O(admin_user) is given, they are used, and no service admin is created.
      - Used exactly as given, as Synapse uses it (an HMAC key, taken as written from C(registration_shared_secret) or
        from the file of C(registration_shared_secret_path), which Synapse does not strip), so spaces inside, or a final
        line break, are part of the secret. Only an empty or blank one is refused.
    type: str
  service_account:
    description:
      - Localpart of the collection's service admin, used when only O(registration_shared_secret) is given.
      - On the first run that needs it, it is registered through shared-secret registration (a server admin of
        C(user_type) V(bot), with a display name that says what it is); every run then logs in as it once, on a device
        of its own, and logs out at the end, as O(admin_user) does. Its password is derived from the shared secret, the
        server name and this localpart (HKDF-SHA-256, versioned); nothing is stored, and the account is exactly as strong
        as the shared secret.
      - Check mode never creates it. Before it exists, a check run reads nothing and says that the first real run will
        create it.
      - A run whose derived password no longer logs in (the shared secret changed, the password was changed, the account
        deactivated or locked), or whose account of that name is not an admin, fails before any write, naming the
        account and the fix. With O(admin_token) given, a run of C(matrix_user) resets the service admin's password to the derived one
        when it no longer matches.
      - Never declared or changed by the modules; declaring it (in the C(user) or C(users) option of
        M(mxadmin.synapse.matrix_user)) is refused, and exclusive mode keeps it, whoever the module authenticates as.
      - Each run logs in once, and Synapse's default C(rc_login) allows about one login per account every 5.5 minutes after a
        burst of 5 (matrix-docker-ansible-deploy raises it). A rate limit asking for a short wait is waited out; a longer
        one fails, naming the limit.
      - V("") turns the service admin off.
      - May not start with C(_); lower-case letters, digits and C(. _ = - /).
    type: str
    default: mxadmin-synapse
  validate_certs:
    description:
      - Check Synapse's TLS certificate. Turning it off adds a warning to the result.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates trusted in addition to the system's, for a homeserver with a private CA.
      - Must be a regular file of at most 1 MiB; anything else (a directory, a device such as C(/dev/zero), a named
        pipe) is refused before any request.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP answer, body included, from 1 to 3600.
      - Every wait is bounded. One request ends within (O(retries) + 1) × O(timeout), plus at most 60 seconds of waiting
        between its attempts in total, whatever the server answers.
    type: int
    default: 30
  retries:
    description:
      - How many times a request is retried after a connection error, an HTTP 5xx or a rate limit (429), with backoff
        that honours C(Retry-After) and C(retry_after_ms) on any status, within a cap of 60 seconds of waiting per
        request in total. An answer asking to wait longer than what is left of the cap (a 503 whose C(Retry-After) asks for an hour)
        fails at once, with the wait in the message.
      - Shared-secret registration retries its nonce request and its registration request together, since a nonce is single-use.
    type: int
    default: 3
  mas_url:
    description:
      - URL of the Matrix Authentication Service (MAS) of a homeserver that delegates authentication to it, for example
        C(https://matrix.example.com/auth) (MDAD's C(matrix_authentication_service_config_http_public_base)) or C(http://127.0.0.1:8080).
      - With O(mas_client_id) and O(mas_client_secret), users are managed through MAS's admin API instead of Synapse's
        (the MAS backend; see C(docs/mas.md) for what it manages). A homeserver that does not delegate to MAS fails the task before any write.
    type: str
  mas_client_id:
    description:
      - Client ID (a ULID) of a MAS client that may use the C(client_credentials) grant with the scope C(urn:mas:admin), that is
        a static client in MAS's C(clients) whose ID is also in C(policy.data.admin_clients).
    type: str
  mas_client_secret:
    description:
      - Secret of O(mas_client_id) (C(client_secret_basic)). Never shown.
    type: str
  auth_backend:
    description:
      - Where the users live. V(auto) detects it (a homeserver that delegates to MAS needs O(mas_url), O(mas_client_id) and
        O(mas_client_secret)); V(synapse) or V(mas) forces it, and a homeserver that is not what is forced fails the task before any write.
    type: str
    choices: [auto, synapse, mas]
    default: auto
notes:
  - Homeservers that delegate authentication to Matrix Authentication Service (MAS) are detected. Every way a Synapse
    release shows it is asked (its admin API's shared-secret registration, missing under MAS; C(auth_issuer) and
    C(auth_metadata)); when a probe answers neither way (for example a 5xx), the task fails before any write. Their users
    are managed through MAS's admin API when O(mas_url), O(mas_client_id) and O(mas_client_secret) are given, and the
    task fails before any write otherwise. Synapse's own user endpoints are never used to create a user or set a
    password on such a homeserver.
  - Secrets (passwords, tokens, the shared secret, the pepper) never appear in results, warnings or errors, also not in
    the escaped or encoded form a server may echo them in (JSON, HTML, percent-encoding, hex, base64), nor in part; any
    8 or more characters of a secret of 8 or more, in any letter case, are masked, except inside a longer option name of
    the module (a password holding C(password) leaves C(admin_password) in messages alone). A secret shorter than 8
    characters is masked only where it stands alone (the whole value, or between characters that are not letters or
    digits).
  - Text of the server's answers that messages quote (error codes and texts, headers) has control characters and
    invisible formatting characters (such as bidirectional overrides) escaped, so that an answer cannot rewrite the
    terminal. Identifiers from answers (user IDs, the server name) holding them are refused.
  - Answers are asked for and read without compression (a compressed one fails the request), and each is bounded by
    what its request can bring (1 MiB for one user, 16 KiB a user for a page of the user list, the server's size for
    the password-hash search, 256 MiB at most); all answers held at once share 256 MiB.
  - An option given as null (a template that rendered to nothing) is treated as Ansible treats it. A null for a required
    option, for one with choices or for one with a default is refused before any request; any other counts as not given.
"""
