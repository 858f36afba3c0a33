# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mxadmin.synapse.matrix_user_info: runs the Go binary for the target's platform."""

from __future__ import annotations

from ansible_collections.mxadmin.synapse.plugins.plugin_utils.go_binary import GoBinaryAction


class ActionModule(GoBinaryAction):
    MODULE = "matrix_user_info"
