"""Inventory names as vSphere stores them and as people typed them.

vSphere escapes three characters in entity names: `%` as `%25`, `/` as `%2f` and `\\` as `%5c`.
The mirror keeps the stored form (so it compares equal to what vCenter returns); answers show
the typed form.
"""

import re

_ESCAPES = re.compile(r"%(2[fF]|5[cC]|25)")
_TYPED = {"2f": "/", "5c": "\\", "25": "%"}


def escape_name(name):
    """The name as vSphere stores it: `%` → `%25`, `/` → `%2f`, `\\` → `%5c`."""
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def display_name(name):
    """The name as the user typed it, from the escaped form vSphere stores."""
    return _ESCAPES.sub(lambda m: _TYPED[m[1].lower()], name or "")
