# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin mxadmin.synapse.extra_var_names: which variables came from --extra-vars."""

from __future__ import annotations

DOCUMENTATION = r"""
name: extra_var_names
author:
  - mxadmin.synapse contributors (@mxadmin)
version_added: 0.2.0
short_description: Names of the variables given on the command line with --extra-vars
description:
  - Returns the names of the variables that C(ansible-playbook) was given with C(--extra-vars) (C(-e)), in any of its
    forms (C(key=value), YAML or JSON, C(@file)), never their values.
  - A variable's value does not say where it was defined. This lookup tells a variable given on purpose for this run
    from one of the same name defined anywhere else (inventory, another role's defaults, C(set_fact)). The role
    P(mxadmin.synapse.matrix_users#role) enters its register-user mode only when C(username) is one of these names.
  - Runs on the controller and reads what C(ansible-playbook) parsed from its command line; a play run without
    C(--extra-vars) (or through Ansible's Python API) has none.
options:
  _terms:
    description:
      - Names to ask about. Those among them that were given are returned, in this order; with no names, every name
        given is returned, sorted.
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Act only when username was given on the command line
  ansible.builtin.debug:
    msg: "username={{ username }} was given with --extra-vars"
  when: "'username' in query('mxadmin.synapse.extra_var_names', 'username')"

- name: Every variable given with --extra-vars
  ansible.builtin.debug:
    msg: "{{ query('mxadmin.synapse.extra_var_names') }}"
"""

RETURN = r"""
_raw:
  description: The names given with C(--extra-vars), among the names asked about (all of them when none are asked about).
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase
from ansible.utils.vars import load_extra_vars


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        # The same parse the variable manager made of the command line
        # (cached by ansible-core after its first call, in this process and
        # the forked workers): its keys are the extra vars, whatever their
        # values, a null included.
        given = set(str(name) for name in load_extra_vars(self._loader))
        if not terms:
            return sorted(given)
        return [str(term) for term in terms if str(term) in given]
