#!/usr/bin/python
# Copyright: (c) 2026, mxadmin.synapse contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: matrix_user
short_description: Keep Synapse users in a declared state
description:
  - Temporary.
author:
  - mxadmin.synapse contributors
options:
  user:
    description: The user.
    type: str
"""
EXAMPLES = r""""""
RETURN = r""""""
