# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One validation-error model for the host and the cluster modules: every input error names its field, a module
collects all of its errors before it raises one exception, and the user reads them as ``field: what to fix``, several
joined with ``; ``.

Host code raises ``validate.ValidationError``, cluster code ``cluster.errors.ValidationError``: both are a
``FieldError``, and both collect with ``FieldErrors``. Pure Python, no Ansible imports. It lives in the host package
for the reason vocabulary.py does: the node's boot-time unit runs a copy of that package alone (persist.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def field_message(field, message):
    """``field: message``; the message alone when there is no field or the message already starts ``field:``."""
    if not field or message.startswith(field + ':'):
        return message
    return '%s: %s' % (field, message)


class FieldError(Exception):
    """Invalid input. ``errors``: every problem as ``field: message``; ``fields``: their fields, in the same order;
    ``field``: the first (the one a single error names). Raised for one problem as ``FieldError(message, field)``,
    for all a check found through ``FieldErrors.raise_if_any``."""

    def __init__(self, message, field=None):
        super(FieldError, self).__init__(message)
        self.field = field
        self.fields = [field]
        self.errors = [field_message(field, message)]

    def __str__(self):
        return '; '.join(self.errors)

    @classmethod
    def collected(cls, items):
        """One error of class ``cls`` for the (field, message) pairs ``items`` (at least one)."""
        field, message = items[0]
        error = cls(message, field=field)
        error.fields = [f for f, _m in items]
        error.errors = [field_message(f, m) for f, m in items]
        return error


class FieldErrors(object):
    """Collects every input error of one module run before anything is raised.

    ``add(field, message)`` records one; ``check(function, *args)`` calls a check that raises a FieldError (and
    returns its value, or None after recording what it raised); ``raise_if_any(cls)`` raises all as one ``cls``."""

    def __init__(self):
        self.items = []

    def __bool__(self):
        return bool(self.items)

    __nonzero__ = __bool__

    def add(self, field, message):
        self.items.append((field, message))

    def add_error(self, error):
        """Record a FieldError already raised (all its problems)."""
        for field, text in zip(error.fields, error.errors):
            prefix = field + ': ' if field else ''
            self.items.append((field, text[len(prefix):] if prefix and text.startswith(prefix) else text))

    def check(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except FieldError as exc:
            self.add_error(exc)
            return None

    def raise_if_any(self, cls=FieldError):
        if self.items:
            raise cls.collected(self.items)
